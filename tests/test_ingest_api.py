"""The batch ingest endpoint: who may send, per-event validation, limits, idempotent retries."""

import json
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.test import override_settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from cart_recommender.api.ingest import BYTES_PER_EVENT
from cart_recommender.conf import app_settings
from cart_recommender.models import Event
from tests.testapp.models import Article

pytestmark = pytest.mark.django_db

URL = "/recommender/api/events/"
EAN = "4006381333931"


@pytest.fixture
def pencil():
    return Article.objects.create(ean=EAN, title="Pencil", price_cents=129, shelf="Office")


def make_user(name, *, staff=False, perm=False):
    user = get_user_model().objects.create_user(name, password="x", is_staff=staff)
    if perm:
        user.user_permissions.add(
            Permission.objects.get(codename="ingest_events", content_type__app_label="cart_recommender")
        )
    return user


@pytest.fixture
def api():
    """A client authenticated with a DRF token of a user holding ingest_events (not staff)."""
    client = APIClient()
    token = Token.objects.create(user=make_user("feeder", perm=True))
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def purchase(**overrides):
    event = {"event": "purchase", "item_id": EAN, "user_id": "c-42", "order_id": "W1",
             "quantity": 2, "price": "1.29", "timestamp": "2024-03-01T10:00:00Z"}
    event.update(overrides)
    return event


def post(client, events=None, raw=None):
    body = raw if raw is not None else json.dumps({"events": events})
    return client.post(URL, body, content_type="application/json")


def test_token_authenticated_batch_is_stored(api, pencil):
    response = post(api, [purchase(), {"event": "view", "item_id": EAN, "session_id": "s-1"}])
    assert response.status_code == 200, response.content
    assert response.json() == {"received": 2, "stored": 2, "duplicates": [], "errors": []}
    bought = Event.objects.get(event_type="purchase")
    assert (bought.shopper_ref, bought.order_ref, bought.quantity) == ("c-42", "W1", 2)
    assert str(bought.unit_price) == "1.29"
    assert bought.timestamp.isoformat() == "2024-03-01T10:00:00+00:00" and bought.source == "api"
    assert Event.objects.get(event_type="view").session_key == "s-1"


def test_a_session_with_the_permission_may_send(pencil):
    client = APIClient(enforce_csrf_checks=False)
    client.force_login(make_user("boss", staff=True, perm=True))
    assert post(client, [purchase()]).status_code == 200
    assert Event.objects.count() == 1


def test_staff_without_the_ingest_permission_are_refused(pencil):
    """Being staff (or holding add_event) is not enough: ingested events can name any shopper."""
    client = APIClient(enforce_csrf_checks=False)
    careless = make_user("careless", staff=True)
    careless.user_permissions.add(
        Permission.objects.get(codename="add_event", content_type__app_label="cart_recommender"))
    client.force_login(careless)
    response = post(client, [purchase()])
    assert response.status_code == 403 and "ingest_events" in response.json()["detail"]
    superuser = APIClient(enforce_csrf_checks=False)
    superuser.force_login(get_user_model().objects.create_superuser("root", password="x"))
    assert post(superuser, [purchase()]).status_code == 200
    assert Event.objects.count() == 1


def test_session_needs_csrf_token(pencil):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(make_user("boss", staff=True, perm=True))
    assert post(client, [purchase()]).status_code == 403
    assert not Event.objects.exists()


def test_others_are_turned_away(pencil):
    anonymous = post(APIClient(), [purchase()])
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"].startswith("Token")
    shopper = APIClient()
    shopper.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=make_user('ann')).key}")
    assert post(shopper, [purchase()]).status_code == 403
    wrong = APIClient()
    wrong.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert post(wrong, [purchase()]).status_code == 401
    assert not Event.objects.exists()


def test_each_bad_event_is_reported_with_index_and_reason(api, pencil):
    events = [
        purchase(),
        purchase(event="liked"),
        purchase(item_id="0000000000000"),
        purchase(user_id="", session_id=""),
        purchase(order_id=""),
        purchase(quantity="many"),
        purchase(price="-1"),
        purchase(timestamp="2999-01-01T00:00:00Z"),
        purchase(shopper="someone"),
        "purchase",
        purchase(idempotency_key="k-9"),
    ]
    response = post(api, events)
    assert response.status_code == 200
    body = response.json()
    assert body["received"] == 11 and body["stored"] == 2
    errors = {e["index"]: e for e in body["errors"]}
    assert sorted(errors) == list(range(1, 10))
    assert "event" in errors[1]["fields"]
    assert "unknown product" in errors[2]["reason"]
    assert "user_id or session_id" in errors[3]["reason"]
    assert "order_id" in errors[4]["fields"]
    assert "quantity" in errors[5]["fields"]
    assert "price" in errors[6]["fields"]
    assert "future" in errors[7]["reason"]
    assert errors[8]["fields"] == {"shopper": ["Unknown field."]}
    assert "dictionary" in errors[9]["reason"]
    assert Event.objects.count() == 2


def test_a_batch_of_only_bad_events_is_400(api, pencil):
    response = post(api, [purchase(event="liked"), purchase(item_id="nope")])
    assert response.status_code == 400
    assert [e["index"] for e in response.json()["errors"]] == [0, 1]
    assert not Event.objects.exists()


def test_the_same_batch_twice_is_stored_once(api, pencil):
    batch = [purchase(idempotency_key="W1-1"), purchase(idempotency_key="W1-2", quantity=1)]
    assert post(api, batch).json()["stored"] == 2
    again = post(api, batch).json()
    assert again["stored"] == 0 and again["duplicates"] == [0, 1]
    inside = post(api, [purchase(idempotency_key="W2-1"), purchase(idempotency_key="W2-1")]).json()
    assert inside["stored"] == 1 and inside["duplicates"] == [1]
    assert Event.objects.count() == 3


def test_batch_size_is_limited(api, pencil):
    with override_settings(CART_RECOMMENDER={"INGEST_MAX_EVENTS": 3}):
        response = post(api, [purchase()] * 4)
        assert response.status_code == 400 and "At most 3" in str(response.json())
        assert post(api, [purchase()] * 3).status_code == 200
    assert Event.objects.count() == 3


@pytest.mark.parametrize("raw", ["{not json", "[]", '{"events": {}}', '{"events": []}', '"x"'])
def test_malformed_requests_are_400(api, pencil, raw):
    assert post(api, raw=raw).status_code == 400
    assert not Event.objects.exists()


def test_huge_payload_is_413_before_being_read(api, pencil):
    limit = app_settings.INGEST_MAX_EVENTS * BYTES_PER_EVENT + 1024
    raw = json.dumps({"events": [purchase(padding="x" * 1000)] * (limit // 1000 + 10)})
    assert len(raw) > limit
    assert post(api, raw=raw).status_code == 413
    assert not Event.objects.exists()


def test_schema_documents_the_endpoint():
    out = StringIO()
    call_command("spectacular", "--format", "openapi-json", stdout=out)
    schema = json.loads(out.getvalue())
    assert "/recommender/api/events/" in schema["paths"]
