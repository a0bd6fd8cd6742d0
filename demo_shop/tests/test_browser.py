"""The demo shop end to end in a real headless Chromium, against pytest-django's live server."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from cart_recommender.models import Event
from demo_shop.shop.models import Order, Product

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def badge(page) -> str:
    return page.get_by_test_id("cart-count").inner_text()


def test_browse_search_add_change_quantity_and_check_out(page, live_server, products):
    page.goto(live_server.url + "/")
    assert page.locator(".card").count() == 8

    # search from the header, then narrow to a category
    page.get_by_role("searchbox", name="Search products").fill("cake")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r"\?q=cake"))
    assert page.locator(".card").count() == 3
    page.locator(".category-list").get_by_role("link", name=re.compile("^Baking")).click()
    page.wait_for_url(re.compile(r"category=Baking"))
    assert "matching “cake”" in page.locator("h1").inner_text()

    # open a product from the catalog and add two
    page.get_by_role("link", name="Regency Cakestand 3 Tier").click()
    page.wait_for_url(live_server.url + "/product/22423/")
    assert page.locator("h1").inner_text() == "Regency Cakestand 3 Tier"
    page.get_by_label("Quantity").fill("2")
    page.get_by_role("button", name="Add to cart").click()
    page.wait_for_url(live_server.url + "/cart/")
    assert badge(page) == "2"
    assert page.get_by_test_id("cart-total").inner_text() == "£25.50"

    # a second product, then change the first line's quantity and remove the second
    page.goto(live_server.url + "/product/21212/")
    page.get_by_role("button", name="Add to cart").click()
    page.wait_for_url(live_server.url + "/cart/")
    assert badge(page) == "3"
    row = page.locator("tr[data-sku='22423']")
    row.get_by_label(re.compile("Quantity of")).fill("3")
    row.get_by_role("button", name="Update").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("cart-total").inner_text() == "£38.80"
    page.locator("tr[data-sku='21212']").get_by_role("button", name="Remove").click()
    page.wait_for_load_state()
    assert badge(page) == "3" and page.locator("tr[data-sku='21212']").count() == 0

    # check out
    page.get_by_role("link", name="Checkout").click()
    page.get_by_label("Email for the receipt").fill("ann@example.com")
    page.get_by_label("Name").fill("Ann")
    page.get_by_role("button", name="Place order").click()
    page.wait_for_url(re.compile(r"/order/\d+/$"))
    order = Order.objects.get()
    assert page.get_by_test_id("order-number").inner_text() == order.number
    assert badge(page) == "0"

    # what the shopper did, as the recommender saw it
    shop_events = Event.objects.exclude(event_type__startswith="bundle_").select_related("product")
    done = [(e.event_type, e.product.sku, e.quantity, e.order_ref) for e in shop_events.order_by("pk")]
    assert done == [
        ("click", "22423", 1, ""),
        ("view", "22423", 1, ""),
        ("add_to_cart", "22423", 2, ""),
        ("view", "21212", 1, ""),
        ("add_to_cart", "21212", 1, ""),
        ("add_to_cart", "22423", 1, ""),
        ("remove_from_cart", "21212", 1, ""),
        ("purchase", "22423", 3, order.number),
    ]
    assert len(set(Event.objects.values_list("session_key", flat=True))) == 1  # one shopper
    assert order.total == Decimal("38.25") and order.lines.get().quantity == 3
    assert Product.objects.get(sku="22423").stock == 47


def test_paging_and_sorting_in_the_browser(page, live_server, transactional_db):
    Product.objects.bulk_create(
        Product(sku=f"G{i:03d}", name=f"GLASS STAR {i:03d}", category="Christmas", price=Decimal(i + 1))
        for i in range(30)
    )
    page.goto(live_server.url + "/?q=glass")
    assert page.locator(".card").count() == 24
    page.get_by_role("link", name="Next ›").click()
    page.wait_for_url(re.compile(r"page=2"))
    assert page.locator(".card").count() == 6
    assert "q=glass" in page.url
    page.get_by_label("Sort").select_option("-price")
    page.wait_for_url(re.compile(r"sort=-price"))
    assert page.locator(".card .name").first.inner_text() == "Glass Star 029"
    assert Event.objects.count() == 0
