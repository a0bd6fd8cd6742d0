"""A real browser on the demo shop: the cart page shows a bundle and "Add all to cart" works.

The button is a plain HTML form (no JavaScript needed): it posts to the recommender, which
records the click and answers 307 so the browser re-posts the same form to the shop.
"""

from __future__ import annotations

import pytest
from django.core.cache import caches

from cart_recommender.models import Event
from cart_recommender.serving import catalog
from cart_recommender.serving import state as serving_state

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shop_with_history(products):
    """Past orders: the cake stand was bought with the cake tins and the bunting."""
    by_sku = {p.sku: p for p in products}
    orders = [
        ("22423", "22720"),
        ("22423", "22720"),
        ("22423", "47566"),
        ("22423", "20725"),
        ("85123A", "84879"),
    ]
    Event.objects.bulk_create(
        Event(event_type="purchase", product=by_sku[sku], shopper_ref=f"past{n}", order_ref=f"past{n}")
        for n, skus in enumerate(orders)
        for sku in skus
    )
    caches["default"].clear()
    serving_state.reset()
    catalog.clear_snapshot()
    yield by_sku
    caches["default"].clear()
    serving_state.reset()
    catalog.clear_snapshot()


def cart_skus(page) -> list[str]:
    return page.locator(".cart-table tbody tr").evaluate_all("rows => rows.map(r => r.dataset.sku)")


def test_cart_page_shows_a_bundle_and_add_all_puts_it_in_the_cart(page, live_server, shop_with_history):
    page.goto(f"{live_server.url}/product/22423/")
    page.get_by_role("button", name="Add to cart").click()
    shown_before = Event.objects.filter(event_type="bundle_impression").count()  # product pages
    page.goto(f"{live_server.url}/cart/")
    assert cart_skus(page) == ["22423"]

    bundle = page.locator(".cart-recommender-bundle")
    bundle.wait_for()
    assert bundle.get_attribute("data-model-version") == "baseline"
    offered = bundle.locator(".cart-recommender-item").evaluate_all(
        "items => items.map(i => i.dataset.productId)"
    )
    # the cake tins first (bought twice with the stand), one item per category, never the stand
    assert offered[0] == "22720"
    assert "22423" not in offered and len(offered) == 3
    assert "Often bought with" in bundle.locator(".cart-recommender-reason").first.inner_text()
    assert Event.objects.filter(event_type="bundle_impression").count() == shown_before + 3

    page.get_by_role("button", name="Add all to cart").click()
    page.wait_for_url(f"{live_server.url}/cart/")
    assert sorted(cart_skus(page)) == sorted(["22423", *offered])
    clicks = Event.objects.filter(event_type="bundle_click").select_related("product")
    assert sorted(e.product.sku for e in clicks) == sorted(offered)
    added = Event.objects.filter(event_type="add_to_cart").select_related("product")
    assert sorted(e.product.sku for e in added) == sorted(["22423", *offered])


def test_product_page_shows_what_goes_with_the_product(page, live_server, shop_with_history):
    page.goto(f"{live_server.url}/product/22423/")
    bundle = page.locator(".cart-recommender-bundle")
    bundle.wait_for()
    first = bundle.locator(".cart-recommender-item").first
    assert first.get_attribute("data-product-id") == "22720"
