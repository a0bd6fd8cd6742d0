"""The Oscar shop in headless Chromium: a bundle on the basket page, "Add all", checkout.

A logged-in shopper adds a product, sees the bundle on Oscar's basket page, adds it all, sees the
basket grow, checks out through Oscar's own checkout, and the purchases are recorded.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from oscar.core.loading import get_class, get_model

from cart_recommender.contrib.oscar.history import load_orders
from cart_recommender.models import Event
from cart_recommender.serving import catalog
from cart_recommender.serving import state as serving_state
from tests.oscar.shop import make_catalogue

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
Basket = get_model("basket", "Basket")
Country = get_model("address", "Country")
Default = get_class("partner.strategy", "Default")


def history(shop) -> None:
    """Earlier orders in which tea went with mugs and biscuits: what the bundle learns from."""
    from oscar.test.factories import create_order

    buyer = get_user_model().objects.create_user("earlier", "earlier@example.com", "x")
    for n in range(12):
        basket = Basket.objects.create(owner=buyer)
        basket.strategy = Default()
        for title in ("Green tea", "Blue mug" if n % 3 else "Biscuits"):
            basket.add_product(shop[title])
        create_order(basket=basket, user=buyer)
    load_orders()


def test_bundle_add_all_and_checkout_in_oscar(live_server, page):
    serving_state.reset()
    catalog.reset()
    shop = make_catalogue()
    history(shop)
    Country.objects.create(iso_3166_1_a2="GB", iso_3166_1_a3="GBR", iso_3166_1_numeric="826",
                           printable_name="United Kingdom", name="United Kingdom", is_shipping_country=True)
    ann = get_user_model().objects.create_user("ann", "ann@example.com", "secret")
    client = Client()
    client.force_login(ann)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session,
                               "url": live_server.url}])

    page.goto(live_server.url + shop["Green tea"].get_absolute_url())
    page.get_by_role("button", name="Add to basket").first.click()
    page.goto(live_server.url + "/basket/")
    bundle = page.locator(".cart-recommender-bundle")
    bundle.wait_for()
    names = bundle.locator(".cart-recommender-name").all_inner_texts()
    assert "Blue mug" in names, names
    assert "£" in bundle.locator(".cart-recommender-price").first.inner_text()
    lines_before = Basket.objects.get(owner=ann, status="Open").num_lines

    bundle.get_by_role("button", name="Add all to basket").click()
    page.wait_for_url("**/basket/")
    basket = Basket.objects.get(owner=ann, status="Open")
    assert basket.num_lines == lines_before + len(names)
    assert {line.product.get_title() for line in basket.all_lines()} >= {"Green tea", *names}
    assert Event.objects.filter(event_type="bundle_click", user=ann).count() == len(names)

    page.goto(live_server.url + "/checkout/")
    page.fill("#id_first_name", "Ann")
    page.fill("#id_last_name", "Shopper")
    page.fill("#id_line1", "1 Tea Street")
    page.fill("#id_line4", "London")
    page.fill("#id_postcode", "N1 9GU")
    page.locator("form#new_shipping_address [type=submit]").first.click()
    for _ in range(4):  # shipping method, payment method, payment details: as the shop has them
        if page.locator("#place-order").count():
            break
        page.locator("#view_preview, a.btn-primary:has-text('Continue'), button:has-text('Continue')"
                     ).first.click()
        page.wait_for_load_state()
    page.locator("#place-order").click()
    page.wait_for_url("**/checkout/thank-you/")

    bought = Event.objects.filter(event_type="purchase", user=ann)
    in_basket = sorted(line.product.get_title() for line in basket.all_lines())
    assert sorted(e.product.get_title() for e in bought) == in_basket
    assert len({e.order_ref for e in bought}) == 1
