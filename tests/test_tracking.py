"""record_event() and the Event table's own guarantees (idempotency, shopper isolation)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore
from django.db import IntegrityError, transaction
from django.test import RequestFactory

from cart_recommender.adapter import DefaultShopAdapter
from cart_recommender.events.recording import record_event
from cart_recommender.models import Event
from tests.bundle_data import recommender_settings
from tests.testapp.models import Article

pytestmark = pytest.mark.django_db


@pytest.fixture
def pencil():
    return Article.objects.create(ean="4006381333931", title="Pencil", price_cents=129, shelf="Office")


def _request(user=None, session=None):
    request = RequestFactory().get("/")
    request.user = user or AnonymousUser()
    request.session = session if session is not None else SessionStore()
    return request


def test_anonymous_shopper_is_the_session_created_on_demand(pencil):
    request = _request()
    assert request.session.session_key is None
    event = record_event(request, "view", pencil)
    assert request.session.session_key  # created so the history survives the next request
    stored = Event.objects.get(pk=event.pk)
    assert stored.session_key == request.session.session_key
    assert stored.user is None and stored.shopper_ref == ""
    assert stored.source == "server" and stored.product == pencil


def test_logged_in_shopper_is_the_user(pencil):
    user = get_user_model().objects.create_user("ann", password="x")
    event = record_event(_request(user=user), "add_to_cart", pencil, quantity=2,
                         unit_price=Decimal("1.29"))
    stored = Event.objects.get(pk=event.pk)
    assert stored.user == user and stored.quantity == 2 and stored.unit_price == Decimal("1.29")


def test_same_idempotency_key_is_stored_once(pencil):
    request = _request()
    first = record_event(request, "purchase", pencil, order_ref="W1", idempotency_key="W1-line-1")
    again = record_event(request, "purchase", pencil, order_ref="W1", idempotency_key="W1-line-1")
    assert first is not None and again is None
    assert Event.objects.filter(idempotency_key="W1-line-1").count() == 1


def test_explicit_timestamp_is_kept(pencil):
    when = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    event = record_event(None, "view", pencil, timestamp=when, shopper_ref="crm-7")
    stored = Event.objects.get(pk=event.pk)
    assert stored.timestamp == when and stored.shopper_ref == "crm-7" and stored.session_key == ""


@pytest.mark.parametrize("kwargs", [{"event_type": "liked"}, {"event_type": "view", "quantity": 0}])
def test_invalid_events_are_refused(pencil, kwargs):
    with pytest.raises(ValueError):
        record_event(_request(), product=pencil, **kwargs)
    assert not Event.objects.exists()


def test_database_enforces_unique_idempotency_keys_but_allows_many_without(pencil):
    Event.objects.create(event_type="view", product=pencil, session_key="a")
    Event.objects.create(event_type="view", product=pencil, session_key="a")  # no key: both kept
    Event.objects.create(event_type="view", product=pencil, session_key="a", idempotency_key="k")
    with pytest.raises(IntegrityError), transaction.atomic():
        Event.objects.create(event_type="view", product=pencil, session_key="b", idempotency_key="k")
    assert Event.objects.count() == 3


def test_a_shopper_sees_only_their_own_events(pencil):
    user = get_user_model().objects.create_user("bob", password="x")
    mine = SessionStore()
    record_event(_request(session=mine), "view", pencil)
    record_event(_request(), "view", pencil)  # another anonymous shopper
    record_event(_request(user=user, session=mine), "view", pencil)  # same browser, logged in
    anonymous = Event.objects.for_shopper(session_key=mine.session_key)
    assert anonymous.count() == 1 and anonymous.get().user is None
    assert Event.objects.for_shopper(user_id=user.pk).count() == 1
    assert not Event.objects.for_shopper().exists()


def test_a_linked_user_is_recorded_with_the_shops_own_id(pencil):
    ann = get_user_model().objects.create_user("ann", password="x")
    guest = get_user_model().objects.create_user("guest-1", password="x")
    with recommender_settings(ADAPTER="tests.testapp.adapter.LinkedArticleAdapter"):
        assert record_event(_request(user=ann), "view", pencil).shopper_ref == "cust-ann"
        assert record_event(_request(user=guest), "view", pencil).shopper_ref == ""  # not linked
        assert record_event(_request(), "view", pencil).shopper_ref == ""  # anonymous
        explicit = record_event(_request(user=ann), "view", pencil, shopper_ref="crm-9")
        assert explicit.shopper_ref == "crm-9" and explicit.user == ann
    assert record_event(_request(user=ann), "view", pencil).shopper_ref == ""  # default: no link


class NumberRefAdapter(DefaultShopAdapter):
    def get_shopper_ref(self, user):
        return user.pk


class LongRefAdapter(DefaultShopAdapter):
    def get_shopper_ref(self, user):
        return "x" * 300


@pytest.mark.parametrize("adapter, error", [("NumberRefAdapter", TypeError), ("LongRefAdapter", ValueError)])
def test_a_bad_shopper_ref_from_the_adapter_is_a_clear_error(pencil, adapter, error):
    ann = get_user_model().objects.create_user("ann", password="x")
    with recommender_settings(ADAPTER=f"tests.test_tracking.{adapter}"):
        with pytest.raises(error, match="get_shopper_ref"):
            record_event(_request(user=ann), "view", pencil)
    assert not Event.objects.exists()
