"""The shop's views, and the behaviour events each of them records."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from cart_recommender.models import Event
from demo_shop.shop.models import Order, Product

pytestmark = pytest.mark.django_db


SHOP_EVENTS = ("view", "click", "add_to_cart", "remove_from_cart", "purchase")


def events(*types: str) -> list[tuple[str, str, int]]:
    """The shop's own events in order (the bundle widget records impressions of its own)."""
    qs = Event.objects.order_by("pk").filter(event_type__in=types or SHOP_EVENTS)
    return [(e.event_type, e.product.sku, e.quantity) for e in qs.select_related("product")]


def by_sku(products, sku: str) -> Product:
    return next(p for p in products if p.sku == sku)


def session_cart(client) -> dict[str, int]:
    return dict(client.session.get("cart", {}))


# -- catalog -------------------------------------------------------------------------------

def test_catalog_lists_active_products_and_links_with_click_tracking(client, products):
    Product.objects.filter(sku="47566").update(is_active=False)
    response = client.get(reverse("shop:catalog"))
    assert response.status_code == 200
    page = response.context["page"]
    assert page.paginator.count == 7
    assert "PARTY BUNTING" not in [p.name for p in page.object_list]
    assert b'href="/product/85123A/?from=catalog"' in response.content
    assert b'id="bundle"' not in response.content  # the bundle spot is on cart and product pages
    assert Event.objects.count() == 0  # listing products is no behaviour


def test_catalog_search_needs_every_word_and_matches_stock_codes(client, products):
    found = client.get(reverse("shop:catalog"), {"q": "red retrospot"}).context["page"].object_list
    assert sorted(p.sku for p in found) == ["20725", "85099B"]
    found = client.get(reverse("shop:catalog"), {"q": "cake"}).context["page"].object_list
    assert sorted(p.sku for p in found) == ["21212", "22423", "22720"]
    found = client.get(reverse("shop:catalog"), {"q": "85123a"}).context["page"].object_list
    assert [p.sku for p in found] == ["85123A"]
    response = client.get(reverse("shop:catalog"), {"q": "no such thing"})
    assert response.context["page"].paginator.count == 0
    assert b"No products match" in response.content


def test_catalog_category_filter_and_counts_follow_the_search(client, products):
    response = client.get(reverse("shop:catalog"), {"category": "Baking"})
    assert sorted(p.sku for p in response.context["page"].object_list) == ["21212", "22423", "22720"]
    counts = {c["category"]: c["count"] for c in client.get(
        reverse("shop:catalog"), {"q": "retrospot"}).context["categories"]}
    assert counts == {"Bags & purses": 2, "Baking": 1}
    response = client.get(reverse("shop:catalog"), {"q": "retrospot", "category": "Baking"})
    assert [p.sku for p in response.context["page"].object_list] == ["21212"]


def test_catalog_pages_keep_the_search_in_their_links(client, db):
    Product.objects.bulk_create(
        Product(sku=f"S{i:03d}", name=f"STAR GARLAND {i:03d}", category="Party", price=Decimal("1.00"))
        for i in range(60)
    )
    Product.objects.create(sku="X1", name="ZINC BUCKET", category="Garden", price=Decimal("3.00"))
    first = client.get(reverse("shop:catalog"), {"q": "star", "sort": "name"})
    assert first.context["page"].paginator.num_pages == 3
    assert [p.sku for p in first.context["page"].object_list][:2] == ["S000", "S001"]
    assert 'href="?q=star&amp;sort=name&amp;page=2"' in first.content.decode()
    last = client.get(reverse("shop:catalog"), {"q": "star", "sort": "name", "page": 3})
    assert [p.sku for p in last.context["page"].object_list] == [f"S{i:03d}" for i in range(48, 60)]
    # a page number past the end shows the last page instead of an error
    assert client.get(reverse("shop:catalog"), {"q": "star", "page": 99}).context["page"].number == 3


def test_catalog_sorts_by_price(client, products):
    cheap_first = client.get(reverse("shop:catalog"), {"sort": "price"}).context["page"].object_list
    assert [p.sku for p in cheap_first][:2] == ["21212", "20725"]
    dear_first = client.get(reverse("shop:catalog"), {"sort": "-price"}).context["page"].object_list
    assert dear_first[0].sku == "22423"


# -- product page: click and view ------------------------------------------------------------

def test_click_from_catalog_records_a_click_then_the_product_page_a_view(client, products):
    response = client.get("/product/22423/?from=catalog")
    assert response.status_code == 302 and response["Location"] == "/product/22423/"
    assert events() == [("click", "22423", 1)]
    response = client.get(response["Location"])  # the product page
    assert response.status_code == 200
    assert b"Regency Cakestand 3 Tier" in response.content
    assert b'id="bundle"' in response.content
    assert events(*SHOP_EVENTS) == [("click", "22423", 1), ("view", "22423", 1)]
    client.get("/product/22423/")  # a reload is another view, never another click
    assert events("click") == [("click", "22423", 1)]
    assert len(events("view")) == 2
    # an anonymous shopper's events carry the session, so they form one history
    assert set(Event.objects.values_list("session_key", flat=True)) == {client.session.session_key}


def test_unknown_product_is_404_and_records_nothing(client, products):
    assert client.get("/product/NOPE/").status_code == 404
    assert Event.objects.count() == 0


# -- cart ------------------------------------------------------------------------------------

def test_add_to_cart_records_quantity_and_price(client, products):
    response = client.post(reverse("shop:cart_add", args=["85123A"]), {"quantity": 3})
    assert response.status_code == 302 and response["Location"] == reverse("shop:cart")
    holder = by_sku(products, "85123A")
    assert session_cart(client) == {str(holder.pk): 3}
    event = Event.objects.get()
    assert (event.event_type, event.quantity, event.unit_price) == ("add_to_cart", 3, Decimal("2.95"))
    client.post(reverse("shop:cart_add", args=["85123A"]), {"quantity": 2})
    assert session_cart(client) == {str(holder.pk): 5}
    assert events() == [("add_to_cart", "85123A", 3), ("add_to_cart", "85123A", 2)]
    cart_page = client.get(reverse("shop:cart"))
    assert cart_page.context["total"] == Decimal("14.75")
    assert b'data-testid="cart-count">5<' in cart_page.content  # the header badge
    assert b'id="bundle"' in cart_page.content


def test_add_to_cart_refuses_products_off_sale_and_bad_quantities(client, products):
    Product.objects.filter(sku="47566").update(is_active=False)
    Product.objects.filter(sku="22423").update(stock=0)
    client.post(reverse("shop:cart_add", args=["47566"]), {"quantity": 1})
    client.post(reverse("shop:cart_add", args=["22423"]), {"quantity": 1})
    client.post(reverse("shop:cart_add", args=["84879"]), {"quantity": 0})
    client.post(reverse("shop:cart_add", args=["84879"]), {"quantity": "lots"})
    assert session_cart(client) == {}
    assert Event.objects.count() == 0
    assert client.get(reverse("shop:cart_add", args=["84879"])).status_code == 405


def test_add_many_is_what_the_bundle_button_posts(client, products):
    ids = [by_sku(products, s).pk for s in ("22423", "22720", "21212")]
    inactive = by_sku(products, "47566")
    Product.objects.filter(pk=inactive.pk).update(is_active=False)
    response = client.post(reverse("shop:cart_add_many"), {
        "product": [*map(str, ids), str(inactive.pk), "999999", "junk", str(ids[0])],
        "next": "/product/22423/",
    })
    assert response.status_code == 302 and response["Location"] == "/product/22423/"
    assert session_cart(client) == {str(pk): 1 for pk in ids}
    assert events() == [("add_to_cart", s, 1) for s in ("22423", "22720", "21212")]


def test_add_many_never_redirects_off_site(client, products):
    response = client.post(reverse("shop:cart_add_many"), {
        "product": [str(products[0].pk)], "next": "https://evil.example/steal",
    })
    assert response["Location"] == reverse("shop:cart")


def test_changing_the_quantity_records_the_difference(client, products):
    bag = by_sku(products, "85099B")
    client.post(reverse("shop:cart_add", args=[bag.sku]), {"quantity": 2})
    client.post(reverse("shop:cart_update", args=[bag.pk]), {"quantity": 5})
    assert session_cart(client) == {str(bag.pk): 5}
    client.post(reverse("shop:cart_update", args=[bag.pk]), {"quantity": 1})
    assert session_cart(client) == {str(bag.pk): 1}
    client.post(reverse("shop:cart_update", args=[bag.pk]), {"quantity": 1})  # unchanged: nothing
    client.post(reverse("shop:cart_update", args=[bag.pk]), {"quantity": 0})
    assert session_cart(client) == {}
    assert events() == [
        ("add_to_cart", bag.sku, 2), ("add_to_cart", bag.sku, 3),
        ("remove_from_cart", bag.sku, 4), ("remove_from_cart", bag.sku, 1),
    ]


def test_remove_takes_the_whole_line(client, products):
    bag, tins = by_sku(products, "85099B"), by_sku(products, "22720")
    client.post(reverse("shop:cart_add", args=[bag.sku]), {"quantity": 4})
    client.post(reverse("shop:cart_add", args=[tins.sku]), {"quantity": 1})
    client.post(reverse("shop:cart_remove", args=[bag.pk]))
    assert session_cart(client) == {str(tins.pk): 1}
    assert events("remove_from_cart") == [("remove_from_cart", bag.sku, 4)]
    client.post(reverse("shop:cart_remove", args=[bag.pk]))  # not in the cart any more: no event
    assert len(events("remove_from_cart")) == 1


# -- checkout --------------------------------------------------------------------------------

def test_checkout_creates_the_order_takes_stock_and_records_purchases(client, products):
    bag, tins = by_sku(products, "85099B"), by_sku(products, "22720")
    client.post(reverse("shop:cart_add", args=[bag.sku]), {"quantity": 3})
    client.post(reverse("shop:cart_add", args=[tins.sku]), {"quantity": 1})
    assert client.get(reverse("shop:checkout")).status_code == 200
    bad = client.post(reverse("shop:checkout"), {"email": "not-an-email", "name": "Ann"})
    assert bad.status_code == 200 and Order.objects.count() == 0
    response = client.post(reverse("shop:checkout"), {"email": "ann@example.com", "name": "Ann"})
    order = Order.objects.get()
    assert response["Location"] == reverse("shop:order", args=[order.pk])
    assert order.total == Decimal("3") * Decimal("2.08") + Decimal("4.95")
    assert order.email == "ann@example.com" and order.session_key == client.session.session_key
    assert sorted((line.product.sku, line.quantity, line.unit_price) for line in order.lines.all()) == [
        ("22720", 1, Decimal("4.95")), ("85099B", 3, Decimal("2.08")),
    ]
    purchases = Event.objects.filter(event_type="purchase").order_by("pk")
    assert [(e.product.sku, e.quantity, e.unit_price, e.order_ref) for e in purchases] == [
        ("85099B", 3, Decimal("2.08"), order.number), ("22720", 1, Decimal("4.95"), order.number),
    ]
    assert Product.objects.get(pk=bag.pk).stock == 47
    assert session_cart(client) == {}
    assert not events("remove_from_cart")  # bought, not removed
    confirmation = client.get(response["Location"])
    assert order.number.encode() in confirmation.content


def test_checkout_short_of_stock_orders_nothing(client, products):
    bag, tins = by_sku(products, "85099B"), by_sku(products, "22720")
    client.post(reverse("shop:cart_add", args=[bag.sku]), {"quantity": 3})
    client.post(reverse("shop:cart_add", args=[tins.sku]), {"quantity": 2})
    Product.objects.filter(pk=tins.pk).update(stock=1)  # sold elsewhere meanwhile
    response = client.post(reverse("shop:checkout"), {"email": "ann@example.com", "name": "Ann"})
    assert response["Location"] == reverse("shop:cart")
    assert Order.objects.count() == 0
    assert not events("purchase")
    assert Product.objects.get(pk=bag.pk).stock == 50  # the first line's stock was given back
    assert len(session_cart(client)) == 2


def test_empty_cart_cannot_check_out(client, products):
    assert client.get(reverse("shop:checkout"))["Location"] == reverse("shop:cart")
    client.post(reverse("shop:checkout"), {"email": "ann@example.com", "name": "Ann"})
    assert Order.objects.count() == 0


def test_an_order_page_is_only_shown_to_its_session(client, products):
    client.post(reverse("shop:cart_add", args=["84879"]), {"quantity": 1})
    client.post(reverse("shop:checkout"), {"email": "ann@example.com", "name": "Ann"})
    order = Order.objects.get()
    assert client.get(reverse("shop:order", args=[order.pk])).status_code == 200
    client.cookies.clear()
    assert client.get(reverse("shop:order", args=[order.pk])).status_code == 404


def test_a_signed_in_shoppers_events_and_order_carry_the_user(client, products, django_user_model):
    user = django_user_model.objects.create_user("bea", "bea@example.com", "pw")
    client.force_login(user)
    client.get("/product/84879/")
    client.post(reverse("shop:cart_add", args=["84879"]), {"quantity": 1})
    client.post(reverse("shop:checkout"), {"email": "bea@example.com", "name": "Bea"})
    assert Order.objects.get().user == user
    assert set(Event.objects.values_list("user_id", flat=True)) == {user.pk}
    assert [e[0] for e in events()] == ["view", "add_to_cart", "purchase"]


# -- staff admin -----------------------------------------------------------------------------

def test_staff_admin_lists_products_and_orders(admin_client, products):
    response = admin_client.get(reverse("admin:shop_product_changelist"), {"q": "retrospot"})
    assert response.status_code == 200 and b"JUMBO BAG RED RETROSPOT" in response.content
    Order.objects.create(email="ann@example.com", total=Decimal("5.00"))
    response = admin_client.get(reverse("admin:shop_order_changelist"))
    assert response.status_code == 200 and b"ann@example.com" in response.content
    order = Order.objects.get()
    assert admin_client.get(reverse("admin:shop_order_change", args=[order.pk])).status_code == 200


def test_catalog_shows_the_most_bought_products_first(client, products):
    from cart_recommender.events.recording import record_event

    for n, sku in enumerate(["22720", "21212", "22720", "85099B", "22720", "21212"]):
        record_event(None, "purchase", by_sku(products, sku), order_ref=f"old{n}")
    listed = [p.sku for p in client.get(reverse("shop:catalog")).context["page"].object_list]
    assert listed[:3] == ["22720", "21212", "85099B"]
    # the others follow by name
    assert listed[3:] == ["84879", "20725", "47566", "22423", "85123A"]


def test_a_cart_line_is_capped_and_the_cap_is_not_recorded_as_an_add(client, products):
    Product.objects.filter(sku="84879").update(stock=5000)
    client.post(reverse("shop:cart_add", args=["84879"]), {"quantity": 998})
    response = client.post(reverse("shop:cart_add", args=["84879"]), {"quantity": 5}, follow=True)
    assert "A cart line holds at most 999 of Assorted Colour Bird Ornament." not in response.content.decode()
    assert events() == [("add_to_cart", "84879", 998), ("add_to_cart", "84879", 1)]
    response = client.post(reverse("shop:cart_add", args=["84879"]), {"quantity": 1}, follow=True)
    assert "A cart line holds at most 999 of Assorted Colour Bird Ornament." in response.content.decode()
    assert len(events()) == 2
    assert session_cart(client) == {str(by_sku(products, "84879").pk): 999}
