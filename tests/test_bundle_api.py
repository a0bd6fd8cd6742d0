"""The REST bundle endpoints: answers, validation (400 with a message), privacy, the schema."""

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.test import override_settings
from rest_framework.test import APIClient

from cart_recommender.api.bundle_serializers import BundleSerializer
from cart_recommender.models import Event
from tests.bundle_data import fresh_serving, make_shop, recommender_settings  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_serving")]
URL = "/recommender/api/bundles/"


@pytest.fixture
def api():
    return APIClient()


def ids(response):
    return [item["id"] for item in response.json()["items"]]


def test_get_with_items(api):
    make_shop()
    response = api.get(URL, {"items": "TEA", "size": 3})
    assert response.status_code == 200, response.content
    body = response.json()
    assert ids(response) == ["MUG1", "BISC", "SPOON"]
    assert body["model_version"] == "baseline"
    assert body["total"] == "12.50" and body["cart_total"] == "4.50"
    assert body["items"][0] == {
        "id": "MUG1",
        "name": "Blue mug",
        "url": "/articles/MUG1/",
        "image_url": "",
        "price": "8.00",
        "category": "mugs",
        "score": 5.0,
        "reason": "Often bought with Green tea",
        "source": "copurchase",
    }
    # the answer matches the documented serializer field for field
    assert set(body) == set(BundleSerializer().fields)


def test_get_accepts_repeated_and_comma_separated_items(api):
    make_shop()
    a = api.get(URL + "?items=TEA,MUG1&size=2")
    b = api.get(URL + "?items=TEA&items=MUG1&size=2")
    assert a.status_code == b.status_code == 200
    assert ids(a) == ids(b) == ["MUG2", "BISC"]


def test_post_with_a_cart_body(api):
    make_shop()
    response = api.post(URL, {"items": [{"id": "TEA", "quantity": 2}, "MUG1"], "size": 2}, format="json")
    assert response.status_code == 200, response.content
    assert ids(response) == ["MUG2", "BISC"]
    assert response.json()["cart_total"] == "17.00"


@pytest.mark.parametrize(
    "body, message",
    [
        ({"items": "TEA"}, "items must be a list"),
        ({"items": [7.5]}, "items[0] must be an id string"),
        ({"items": [{"id": "TEA", "quantity": 0}]}, "quantity must be a positive integer"),
        ({"items": [{"id": "TEA", "quantity": "2"}]}, "quantity must be a positive integer"),
        ({"items": [{"id": ""}]}, "id must be a non-empty string"),
        ({"items": [{"id": "TEA", "user": 3}]}, "unknown field(s): user"),
        ({"items": ["TEA"], "size": 0}, "size must be from 1 to 10"),
        ({"items": ["TEA"], "size": 11}, "size must be from 1 to 10"),
        ({"items": ["TEA"], "size": "many"}, "size must be an integer"),
        ({"items": ["TEA"], "size": True}, "size must be an integer"),
        ({"items": ["TEA"], "size": "3"}, "size must be an integer"),  # a JSON body sends numbers
        ({"items": ["TEA"], "session_key": "someone-elses"}, "Unknown field(s): session_key"),
        ({"size": 3}, "This field is required"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_post_validation(api, body, message):
    make_shop()
    response = api.post(URL, body, format="json")
    assert response.status_code == 400
    assert message in response.content.decode()


def test_get_validation(api):
    make_shop()
    for query, message in [
        ({}, "Give the cart's product ids"),
        ({"items": "TEA", "size": "x"}, "size must be an integer"),
        ({"items": "TEA", "size": "-2"}, "size must be from 1 to 10"),
    ]:
        response = api.get(URL, query)
        assert response.status_code == 400, query
        assert message in response.content.decode()


def test_unknown_ids_are_not_found(api):
    make_shop()
    answers = api.get(URL, {"items": "TEA,NOPE"}), api.post(URL, {"items": ["TEA", "NOPE"]}, format="json")
    for response in answers:
        assert response.status_code == 404
        assert response.json() == {"detail": "Unknown item id(s): NOPE."}


def test_too_many_items(api):
    make_shop()
    with recommender_settings(MAX_CART_ITEMS=2):
        response = api.post(URL, {"items": ["TEA", "MUG1", "BISC"]}, format="json")
    assert response.status_code == 400
    assert "at most 2 different items" in response.content.decode()


def test_empty_cart_is_allowed_and_gets_popular_items(api):
    make_shop()
    response = api.post(URL, {"items": []}, format="json")
    assert response.status_code == 200
    assert ids(response)[0] == "CAKE"


def test_my_cart_reads_only_the_requesters_own_session(api):
    make_shop()
    mine = SessionStore()
    mine["basket"] = ["TEA", "MUG1"]
    mine.save()
    theirs = SessionStore()
    theirs["basket"] = ["CAKE"]
    theirs.save()
    api.cookies["sessionid"] = mine.session_key
    response = api.get(URL + "my-cart/", {"size": 2})
    assert response.status_code == 200
    assert ids(response) == ["MUG2", "BISC"]
    anonymous = APIClient().get(URL + "my-cart/", {"size": 2})
    assert ids(anonymous)[0] == "CAKE"  # an empty cart: popular items, nobody's history


def test_personal_signal_is_the_requesters_own(api, django_user_model):
    articles = make_shop()
    me = django_user_model.objects.create_user("me", password="pw")
    other = django_user_model.objects.create_user("other", password="pw")
    Event.objects.create(event_type="purchase", product=articles["LUXE"], user=other, order_ref="x")
    api.force_authenticate(me)
    response = api.post(URL, {"items": ["CAKE"], "size": 3}, format="json")
    assert "LUXE" not in ids(response)
    api.force_authenticate(other)
    response = api.post(URL, {"items": ["CAKE"], "size": 3}, format="json")
    assert ids(response)[0] == "LUXE"
    assert response.json()["items"][0]["reason"] == "You bought this before"


def test_bought_together(api, django_user_model):
    articles = make_shop()
    me = django_user_model.objects.create_user("me")
    Event.objects.create(event_type="purchase", product=articles["LUXE"], user=me, order_ref="m")
    api.force_authenticate(me)
    response = api.get("/recommender/api/products/TEA/bought-together/", {"size": 2})
    assert response.status_code == 200
    assert ids(response) == ["MUG1", "BISC"]
    assert api.get("/recommender/api/products/NOPE/bought-together/").status_code == 404
    assert api.get("/recommender/api/products/TEA/bought-together/", {"size": 0}).status_code == 400


def test_schema_documents_the_bundle_endpoints(api):
    response = api.get("/recommender/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    assert {"get", "post"} <= set(paths["/recommender/api/bundles/"])
    assert "get" in paths["/recommender/api/bundles/my-cart/"]
    assert "get" in paths["/recommender/api/products/{product_id}/bought-together/"]
    assert "Bundle" in schema["components"]["schemas"]


@override_settings(DEBUG=True)
def test_docs_pages_load_their_assets_locally(api):
    for page in ("/recommender/api/docs/", "/recommender/api/redoc/"):
        html = api.get(page).content.decode()
        assert "/static/drf_spectacular_sidecar/" in html
        assert "cdn" not in html.lower() and "//unpkg" not in html
        assert "/recommender/api/schema/" in html
