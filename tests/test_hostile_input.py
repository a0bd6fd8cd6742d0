"""Bad input at every endpoint gets a clear 4xx and stores nothing: the classes, not examples.

Each class of input that once reached a server error (NUL bytes, lone surrogates, JSON nested
deep enough to exhaust Python's recursion, numbers too large for the cart's decimals) is sent
to every endpoint that reads such a value.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from cart_recommender.models import Event
from tests.bundle_data import fresh_serving, make_shop  # noqa: F401

pytestmark = pytest.mark.usefixtures("fresh_serving")

#: Ids no database can store, each a different class (NUL; a lone surrogate; too long).
BAD_IDS = ["\x00", "TE\x00A", "\ud800", "a\udfffb", "x" * 65]
#: Ids of the wrong JSON type.
WRONG_TYPES = [None, True, 1.5, [], {}]


@pytest.fixture
def shop(db):
    return make_shop()


@pytest.fixture
def browser():
    client = Client(enforce_csrf_checks=True)
    client.get("/admin/login/")
    client.token = client.cookies["csrftoken"].value
    return client


@pytest.fixture
def feeder():
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    user = get_user_model().objects.create_user("feeder")
    user.user_permissions.add(Permission.objects.get(codename="ingest_events"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def raw_json(value) -> str:
    """JSON text for ``value``; lone surrogates become the ``\\udXXX`` escapes a client sends."""
    return json.dumps(value, ensure_ascii=True)


def assert_refused(response, *codes):
    codes = codes or (400,)
    assert response.status_code in codes, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json")
    json.loads(response.content)  # a readable body, never a server error page


@pytest.mark.parametrize("bad", BAD_IDS)
def test_bad_ids_are_refused_by_every_endpoint(shop, browser, feeder, bad):
    before = Event.objects.count()
    api = APIClient()
    encoded = quote(bad.encode("utf-8", "surrogatepass"))  # what a client sends on the wire
    # in a URL, bytes that are not UTF-8 arrive as U+FFFD: an id of no product (404)
    assert_refused(api.get("/recommender/api/bundles/?items=" + encoded), 400, 404)
    assert_refused(api.post("/recommender/api/bundles/", raw_json({"items": [bad]}),
                            content_type="application/json"))
    assert_refused(api.post("/recommender/api/bundles/", raw_json({"items": [{"id": bad, "quantity": 1}]}),
                            content_type="application/json"))
    assert_refused(api.get(f"/recommender/api/products/{encoded}/bought-together/"), 404)
    beacon = browser.post("/recommender/beacon/", raw_json({"events": [{"event": "view", "item_id": bad}]}),
                          content_type="application/json", headers={"X-CSRFToken": browser.token})
    assert_refused(beacon)
    with_id = browser.post("/recommender/beacon/",
                           raw_json({"events": [{"event": "view", "item_id": "TEA", "id": bad}]}),
                           content_type="application/json", headers={"X-CSRFToken": browser.token})
    assert_refused(with_id)
    for field in ("item_id", "user_id", "order_id", "idempotency_key"):
        if len(bad) > 64 and field == "idempotency_key":  # 128 characters fit there
            continue
        event = {"event": "purchase", "item_id": "TEA", "user_id": "c1", "order_id": "o1", field: bad}
        assert_refused(feeder.post("/recommender/api/events/", raw_json({"events": [event]}),
                                   content_type="application/json"))
    assert Event.objects.count() == before


@pytest.mark.parametrize("bad", WRONG_TYPES)
def test_ids_of_the_wrong_type_are_refused(shop, browser, bad):
    api = APIClient()
    assert_refused(api.post("/recommender/api/bundles/", {"items": [bad]}, format="json"))
    body = json.dumps({"events": [{"event": "view", "item_id": bad}]})
    assert_refused(browser.post("/recommender/beacon/", body, content_type="application/json",
                                headers={"X-CSRFToken": browser.token}))
    assert not Event.objects.filter(source="beacon").exists()


@pytest.mark.parametrize("depth", [21, 1200, 4000])
def test_deep_json_is_refused_before_parsing(shop, browser, feeder, depth):
    nested = "[" * depth + "]" * depth
    api = APIClient()
    assert_refused(api.post("/recommender/api/bundles/", '{"items": ' + nested + "}",
                            content_type="application/json"))
    if depth <= 4000:  # the beacon also caps its body at 8 KB (413)
        response = browser.post("/recommender/beacon/", nested, content_type="application/json",
                                headers={"X-CSRFToken": browser.token})
        assert_refused(response, 400, 413)
    assert_refused(feeder.post("/recommender/api/events/", '{"events": ' + nested + "}",
                               content_type="application/json"))
    assert not Event.objects.filter(source__in=["beacon", "api"]).exists()


def test_brackets_inside_strings_do_not_count_as_depth(shop):
    response = APIClient().post("/recommender/api/bundles/", raw_json({"items": ["[" * 30 + "TEA"]}),
                                content_type="application/json")
    assert response.status_code == 404 and "Unknown item id" in response.content.decode()


@pytest.mark.parametrize("quantity", [10**26, 10**7, 0, -1, 1.5, True, "2", None])
def test_quantities_are_bounded_integers(shop, quantity):
    response = APIClient().post("/recommender/api/bundles/",
                                {"items": [{"id": "TEA", "quantity": quantity}]}, format="json")
    assert_refused(response)
    assert "quantity" in response.json()["items"][0]


def test_the_largest_quantity_still_gets_a_bundle(shop):
    items = [{"id": "TEA", "quantity": 1_000_000}, {"id": "TEA", "quantity": 5}]
    response = APIClient().post("/recommender/api/bundles/", {"items": items}, format="json")
    assert response.status_code == 200
    assert response.json()["cart_total"] == "4500000.00"  # counted as 1,000,000 of a 4.50 tea


@pytest.mark.parametrize("size", ["", None, "NaN", "1e3", 2.0, "9999999999999999999"])
def test_size_is_an_integer_or_absent(shop, size):
    api = APIClient()
    assert_refused(api.post("/recommender/api/bundles/", {"items": ["TEA"], "size": size}, format="json"))
    if isinstance(size, str):
        assert_refused(api.get("/recommender/api/bundles/", {"items": "TEA", "size": size}))


def test_nan_and_infinity_are_not_json(shop):
    response = APIClient().post("/recommender/api/bundles/", '{"items": ["TEA"], "size": NaN}',
                                content_type="application/json")
    assert_refused(response)


def test_only_json_bodies_are_read(shop):
    response = APIClient().post("/recommender/api/bundles/", {"items": "TEA"})  # multipart form
    assert_refused(response, 415)
