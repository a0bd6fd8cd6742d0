"""cart_recommender in a real django-oscar shop, adopted in six steps with no shop code.

The shop is tests/oscar/settings.py: Oscar's own settings plus the adoption steps of
docs/integrations.md. Everything here goes through Oscar itself: its catalogue and pricing
strategy, its basket middleware and views, its signals and its order models.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from oscar.apps.checkout.signals import post_checkout
from oscar.core.loading import get_class, get_model
from oscar.test.factories import create_order

from cart_recommender.conf import app_settings
from cart_recommender.contrib.oscar.adapter import OscarAdapter
from cart_recommender.contrib.oscar.history import load_orders
from cart_recommender.models import Event, ModelVersion
from cart_recommender.serving import catalog
from cart_recommender.serving import state as serving_state
from cart_recommender.serving.bundles import get_bundle
from tests.oscar.shop import make_catalogue

pytestmark = pytest.mark.django_db
Basket = get_model("basket", "Basket")
Default = get_class("partner.strategy", "Default")


@pytest.fixture(autouse=True)
def fresh():
    caches["default"].clear()
    serving_state.reset()
    catalog.reset()
    yield
    serving_state.reset()
    catalog.reset()


@pytest.fixture
def shop():
    return make_catalogue()


def order_of(user, *products):
    basket = Basket.objects.create(owner=user)
    basket.strategy = Default()
    for product in products:
        basket.add_product(product)
    return create_order(basket=basket, user=user)


def test_installing_the_integration_is_all_the_configuration():
    assert app_settings.ADAPTER == "cart_recommender.contrib.oscar.adapter.OscarAdapter"
    assert reverse("cart_recommender:oscar-add-many") == "/recommender/oscar/basket/add-many/"


def test_the_catalog_reads_oscars_strategy_stock_and_categories(shop, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):  # a few queries for the whole catalogue, not per product
        snap = catalog.build_snapshot()
    tea = snap.get(shop["Green tea"].pk)
    assert tea.price == Decimal("4.50") and tea.category == "Drinks > Tea" and tea.sellable
    assert not snap.get(shop["Teapot"].pk).sellable  # no stock
    assert not snap.get(shop["Secret"].pk).sellable  # not public
    assert not snap.get(shop["Shirt"].pk).sellable and snap.get(shop["Shirt"].pk).price is None  # a parent
    assert snap.get(shop["Shirt S"].pk).sellable and snap.get(shop["Shirt S"].pk).price == Decimal("12.00")
    sellable_sql = set(OscarAdapter().sellable_queryset().values_list("pk", flat=True))
    sellable_strategy = {int(k) for k, info in snap.products.items() if info.sellable}
    assert sellable_sql == sellable_strategy  # the SQL form agrees with Oscar's strategy


def test_prices_show_in_the_shops_currency(shop):
    assert OscarAdapter().format_price(Decimal("1.04")) == "£1.04"


def test_views_basket_additions_and_checkouts_are_recorded_from_oscars_signals(shop):
    client = Client()
    tea = shop["Green tea"]
    assert client.get(tea.get_absolute_url()).status_code == 200
    response = client.post(reverse("basket:add", args=[tea.pk]), {"quantity": 2})
    assert response.status_code == 302
    view, added = Event.objects.order_by("pk")
    session = client.session.session_key
    assert (view.event_type, view.product_id, view.session_key) == ("view", tea.pk, session)
    assert (added.event_type, added.quantity, added.session_key) == ("add_to_cart", 2, view.session_key)

    user = get_user_model().objects.create_user("ann", "ann@example.com", "x")
    order = order_of(user, tea, shop["Blue mug"])
    request = type("Request", (), {"user": user, "session": client.session})()
    for _ in range(2):  # a resent signal stores nothing twice
        post_checkout.send(sender=None, order=order, user=user, request=request, response=None)
    purchases = Event.objects.filter(event_type="purchase")
    assert sorted(purchases.values_list("product_id", flat=True)) == sorted([tea.pk, shop["Blue mug"].pk])
    assert {e.order_ref for e in purchases} == {str(order.number)}
    assert all(e.user_id == user.pk for e in purchases)
    assert purchases.get(product=tea).unit_price == Decimal("4.50")


def test_the_shops_orders_are_loaded_once_and_match_the_checkout_receiver(shop):
    users = [get_user_model().objects.create_user(f"u{n}", f"u{n}@example.com", "x") for n in range(3)]
    orders = [order_of(users[n % 3], shop["Green tea"], shop[title])
              for n, title in enumerate(["Blue mug", "Blue mug", "Biscuits", "Blue mug", "Spoon"])]
    first = load_orders()
    assert (first.lines, first.stored, first.duplicates) == (10, 10, 0)
    again = load_orders()
    assert (again.stored, again.duplicates) == (0, 10)
    post_checkout.send(sender=None, order=orders[0], user=users[0],
                       request=type("R", (), {"user": users[0], "session": None})(), response=None)
    assert Event.objects.count() == 10  # the same keys as the loader gave those lines


def test_add_many_puts_the_whole_bundle_into_the_basket(shop):
    client = Client()
    wanted = [shop["Blue mug"], shop["Biscuits"], shop["Teapot"]]
    response = client.post(reverse("cart_recommender:oscar-add-many"),
                           {"product": [str(p.pk) for p in wanted], "next": "https://evil.example/"})
    expected = sorted([shop["Blue mug"].pk, shop["Biscuits"].pk])
    assert response.status_code == 302 and response["Location"] == reverse("basket:summary")
    basket = Basket.objects.get()
    assert sorted(line.product.get_title() for line in basket.all_lines()) == ["Biscuits", "Blue mug"]
    added = Event.objects.filter(event_type="add_to_cart")  # through Oscar's basket_addition signal
    assert sorted(added.values_list("product_id", flat=True)) == expected


def test_a_bundle_on_oscars_basket_page_trained_on_the_shops_orders(shop, tmp_path):
    users = [get_user_model().objects.create_user(f"u{n}", f"u{n}@example.com", "x") for n in range(20)]
    for n in range(40):
        order_of(users[n % 20], shop["Green tea"], shop["Blue mug" if n % 4 else "Biscuits"], shop["Spoon"])
    load_orders()
    call_command("cart_recommender_train", "--baselines-only", verbosity=0)
    version = ModelVersion.objects.get()
    assert version.status == "active", version.error
    bundle = get_bundle([shop["Green tea"]])
    assert {item.name for item in bundle.items} >= {"Blue mug"}
    client = Client()
    client.post(reverse("basket:add", args=[shop["Green tea"].pk]), {"quantity": 1})
    page = client.get(reverse("basket:summary")).content.decode()
    assert "cart-recommender-bundle" in page and "Add all to basket" in page
    assert f'data-model-version="{version.pk}"' in page and "£8.00" in page  # Oscar's currency


def test_the_api_schema_and_docs_work_with_drfs_own_default_schema_class(shop):
    """The shop never configured REST_FRAMEWORK: DRF's default schema class is in force."""
    from django.conf import settings

    assert "DEFAULT_SCHEMA_CLASS" not in getattr(settings, "REST_FRAMEWORK", {})
    client = Client()
    schema = client.get("/recommender/api/schema/?format=json")
    assert schema.status_code == 200 and "/recommender/api/bundles/" in schema.json()["paths"]
    assert client.get("/recommender/api/docs/").status_code == 200
    tea = shop["Green tea"]
    bundle = client.get("/recommender/api/bundles/", {"items": str(tea.pk)})
    assert bundle.status_code == 200 and bundle.json()["items"]
