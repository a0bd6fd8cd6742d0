"""Privacy: erasure everywhere, the audit entry, models trained on erased data, retention,
consent and the export. Real database (PostgreSQL in CI's second pass), real Keras training."""

from __future__ import annotations

import io
import json
import threading
import time
import zipfile
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, Permission
from django.contrib.sessions.backends.db import SessionStore
from django.core.management import call_command
from django.db import connection, models
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from cart_recommender import privacy, training
from cart_recommender.conf import app_settings
from cart_recommender.events.recording import record_event
from cart_recommender.models import Erasure, Event, ModelVersion
from cart_recommender.registry import artifacts
from cart_recommender.registry.gate import gate_decision
from cart_recommender.serving import bundles as bundle_module
from cart_recommender.serving import state as serving_state
from cart_recommender.serving.bundles import get_bundle
from cart_recommender.shoppers import Shopper
from tests.bundle_data import fresh_serving, make_shop, recommender_settings  # noqa: F401
from tests.testapp.adapter import ArticleAdapter
from tests.testapp.models import Article
from tests.training_data import make_orders, ready_version

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_serving")]
User = get_user_model()
NOW = timezone.now()
TINY_MODEL = {"max_epochs": 2, "time_budget_s": 60, "dim": 16, "batch_size": 64, "patience": 5}


class LinkingAdapter(ArticleAdapter):
    """Links user "ann" to the shop's customer id C42 (her imported orders)."""

    def get_shopper_ref(self, user):
        return "C42" if user.username == "ann" else ""


class NoConsentAdapter(ArticleAdapter):
    def has_tracking_consent(self, request):
        return request.COOKIES.get("consent") == "yes"


def event(product, **identity):
    identity.setdefault("timestamp", NOW - timedelta(days=3))
    return Event(event_type=identity.pop("event_type", "purchase"), product=product, **identity)


def people(shop):
    """ann: two sessions of her own, a pre-login anonymous visit in one of them, and imported
    orders under her customer id C42; plus bob, customer C43, an anonymous session and carl,
    who once used one of ann's session keys (his events stay his)."""
    ann, bob, carl = (User.objects.create_user(n, password="pw") for n in ("ann", "bob", "carl"))
    tea, mug, cake = shop["TEA"], shop["MUG1"], shop["CAKE"]
    rows = [
        event(tea, user=ann, session_key="ann-s1", order_ref="a1"),
        event(mug, user=ann, session_key="ann-s2", event_type="view"),
        event(cake, session_key="ann-s1", event_type="view"),  # before she logged in
        event(tea, shopper_ref="C42", order_ref="imp-1"),
        event(mug, shopper_ref="C42", order_ref="imp-1"),
        event(tea, user=bob, session_key="bob-s1", order_ref="b1"),
        event(mug, shopper_ref="C43", order_ref="imp-2"),
        event(cake, session_key="anon-s9", event_type="view"),
        event(cake, user=carl, session_key="ann-s1", event_type="view"),
    ]
    Event.objects.bulk_create(rows)
    return ann, bob, carl


def identities():
    return sorted(Event.objects.values_list("user__username", "shopper_ref", "session_key"),
                  key=lambda r: tuple(x or "" for x in r))


def test_forgetting_a_user_removes_their_sessions_and_linked_orders_and_nothing_of_anyone_else():
    shop = make_shop()
    before = Event.objects.count()
    ann, bob, carl = people(shop)
    with recommender_settings(ADAPTER="tests.test_privacy.LinkingAdapter"):
        erasure = privacy.forget_shopper(user=ann, via=Erasure.Via.CODE)
    assert erasure.events_deleted == 5 and erasure.sessions == 2 and erasure.shopper_refs == 1
    assert not Event.objects.filter(user=ann).exists()
    assert not Event.objects.filter(shopper_ref="C42").exists()
    assert not Event.objects.filter(session_key="ann-s2").exists()
    # everyone else is whole: the shop's history, bob, C43, the anonymous visitor and carl
    assert Event.objects.count() == before + 4
    assert Event.objects.filter(user=carl, session_key="ann-s1").count() == 1
    assert {(u, r, s) for u, r, s in identities() if u or r in ("C43",) or s == "anon-s9"} == {
        ("bob", "", "bob-s1"), (None, "C43", ""), (None, "", "anon-s9"), ("carl", "", "ann-s1")}
    # the audit entry names nobody: no id, customer id or session key, only a keyed hash
    stored = Erasure.objects.filter(pk=erasure.pk).values().get()
    text = json.dumps(stored, default=str)
    for secret in ("C42", "ann-s1", "ann-s2", "ann"):
        assert secret not in text
    assert stored["requested_by_id"] is None and len(stored["subject"]) == 64
    assert list(privacy.erasures_of(user=ann)) == [erasure]
    assert not privacy.erasures_of(user=bob).exists()


def test_deleting_a_user_erases_their_behaviour_before_the_row_goes():
    shop = make_shop()
    ann, bob, _carl = people(shop)
    with recommender_settings(ADAPTER="tests.test_privacy.LinkingAdapter"):
        ann.delete()  # the adapter still sees ann (and links C42) while her data goes
    assert not Event.objects.filter(shopper_ref="C42").exists()
    assert not Event.objects.filter(session_key="ann-s2").exists()
    assert not Event.objects.filter(user__isnull=True, session_key="ann-s1").exists()
    erasure = Erasure.objects.get()
    assert erasure.via == Erasure.Via.USER_DELETED and erasure.events_deleted == 5
    assert Event.objects.filter(user=bob).count() == 1


def test_an_erasure_request_needs_exactly_one_identity():
    with pytest.raises(ValueError, match="exactly one"):
        privacy.forget_shopper()
    with pytest.raises(ValueError, match="exactly one"):
        privacy.forget_shopper(shopper_ref="a", session_key="b")
    assert not Erasure.objects.exists()


def test_no_bundle_cached_before_an_erasure_is_served_after_it():
    shop = make_shop()
    ann, _bob, _carl = people(shop)
    shopper = Shopper(user=ann, session_key="ann-s1")
    first = get_bundle(["TEA"], shopper=shopper)
    # plant a marker in the entry the app would read for ann's next request
    token = serving_state.get_state().token
    cart = bundle_module.Cart.of(["TEA"])
    key = bundle_module._cache_key(token, app_settings.BUNDLE_SIZE, shopper.key, cart, 0, None)
    marked = get_bundle(["CAKE"], use_cache=False)
    bundle_module.get_cache().set(key, marked.to_json(), 300)
    assert get_bundle(["TEA"], shopper=shopper).product_ids == marked.product_ids  # a cache hit
    privacy.forget_shopper(user=ann)
    after = get_bundle(["TEA"], shopper=shopper)
    assert serving_state.get_state().token != token
    assert after.product_ids != marked.product_ids
    assert after.product_ids == get_bundle(["TEA"], personal=False, use_cache=False).product_ids
    assert first.product_ids  # ann's bundle was served before


def test_versions_trained_on_erased_data_say_so_and_a_retrain_replaces_the_active_one():
    shop = make_shop()
    ann, _bob, _carl = people(shop)
    old = ready_version(0.30, status="active")
    ModelVersion.objects.filter(pk=old.pk).update(
        started_at=NOW - timedelta(days=2), data_start=NOW - timedelta(days=30),
        data_end=NOW - timedelta(days=2))
    before_data = ready_version(0.25, status="retired")  # trained on data that ends before ann's
    ModelVersion.objects.filter(pk=before_data.pk).update(
        started_at=NOW - timedelta(days=9), data_start=NOW - timedelta(days=60),
        data_end=NOW - timedelta(days=8))
    queued = ModelVersion.objects.create(status="queued")  # reads the data after the erasure
    erasure = privacy.forget_shopper(user=ann)
    assert list(erasure.trained_versions.all()) == [old]
    assert privacy.erased_shoppers(old) == 1 and privacy.erased_shoppers(before_data) == 0
    queued.delete()

    admin = User.objects.create_superuser("boss", password="pw")
    client = Client()
    client.force_login(admin)
    page = client.get(reverse("admin:cart_recommender_modelversion_change", args=[old.pk])).content.decode()
    assert f"v{old.pk} was trained on data of 1 since-erased shopper." in page
    listing = client.get(reverse("admin:cart_recommender_modelversion_changelist")).content.decode()
    assert 'id="cr-erased"' in listing

    # due half of ERASURE_RETRAIN_DAYS after the erasure; then one retrain is queued
    assert privacy.retrain_if_due(now=timezone.now() + timedelta(hours=11)) is None
    with recommender_settings(ERASURE_RETRAIN_DAYS=1):
        queued = privacy.retrain_if_due(now=timezone.now() + timedelta(hours=13))
    assert queued is not None and queued.status in ("queued", "failed")
    assert privacy.retrain_if_due(now=timezone.now() + timedelta(hours=14)) is None  # one at a time
    # a clean version replaces the active one even when it measures worse
    clean = ready_version(0.10)
    decision = gate_decision(clean, "auto")
    assert decision.activate and "since-erased" in decision.reason
    tainted_too = ready_version(0.10)
    tainted_too.erasures.add(erasure)
    assert not gate_decision(tainted_too, "auto").activate


def scan_app_tables(*needles: str) -> list[str]:
    """Every text or JSON column of every cart_recommender table that holds one of ``needles``."""
    from django.apps import apps

    found = []
    for model in apps.get_app_config("cart_recommender").get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, (models.CharField, models.TextField, models.JSONField)):
                for needle in needles:
                    if model._default_manager.filter(**{f"{field.name}__icontains": needle}).exists():
                        found.append(f"{model.__name__}.{field.name} holds {needle!r}")
    return found


def artifact_text(version: ModelVersion) -> str:
    """Every string an artifact holds (its manifest and string arrays), as one text."""
    import numpy as np

    with zipfile.ZipFile(io.BytesIO(artifacts.read_artifact_bytes(version))) as archive:
        parts = []
        for name in archive.namelist():
            with archive.open(name) as member:
                array = np.load(member, allow_pickle=False)
            parts.append(name)
            if array.dtype.kind in "US":
                parts.extend(str(x) for x in array.ravel())
        return "\n".join(parts)


def test_a_trained_artifact_holds_no_shopper_data():
    make_orders(80)
    Event.objects.filter(shopper_ref="shopper-3").update(session_key="sess-shopper-3")
    version = training.run_training(training.create_version(params=TINY_MODEL).pk)
    assert version.artifact, version.error
    text = artifact_text(version)
    assert "shopper-" not in text and "sess-" not in text
    assert any(name.startswith("param/") for name in text.splitlines())  # the arrays were read


@pytest.mark.slow
def test_erasing_a_shopper_with_10k_events_while_bundles_are_served_and_a_retrain_runs():
    """Concurrency: a retrain reads and trains while the erasure deletes, bundles keep coming."""
    if connection.vendor != "postgresql":
        pytest.skip("run on PostgreSQL (CI's second pass): SQLite serialises every writer")
    make_orders(400, n_shoppers=40)
    articles = list(Article.objects.order_by("pk"))
    rows = [Event(event_type=("view", "purchase")[i % 2], product=articles[i % len(articles)],
                  shopper_ref="big-spender", session_key=f"big-s{i % 7}", order_ref=f"big-{i // 4}",
                  timestamp=NOW - timedelta(minutes=i))
            for i in range(10_000)]
    Event.objects.bulk_create(rows, batch_size=2000)
    others = Event.objects.exclude(shopper_ref="big-spender").count()
    version = training.create_version(params={**TINY_MODEL, "max_epochs": 3})
    errors: list[BaseException] = []
    served = []
    stop = threading.Event()

    def train():
        try:
            training.run_training(version.pk)
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)
        finally:
            connection.close()

    def serve():
        try:
            while not stop.is_set():
                for shopper in (Shopper(shopper_ref="big-spender"), Shopper(shopper_ref="shopper-1")):
                    served.append(get_bundle([str(articles[0].pk)], shopper=shopper).product_ids)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=train), threading.Thread(target=serve)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        version.refresh_from_db()
        if version.started_at is not None:
            break
        time.sleep(0.05)
    erasure = privacy.forget_shopper(shopper_ref="big-spender")
    served_at_erasure = len(served)
    time.sleep(1.0)
    stop.set()
    for thread in threads:
        thread.join(300)
    assert not errors, errors
    assert erasure.events_deleted == 10_000 and erasure.sessions == 7
    assert not Event.objects.filter(shopper_ref="big-spender").exists()
    assert not Event.objects.filter(session_key__startswith="big-s").exists()
    assert Event.objects.count() == others  # nothing of anyone else lost
    assert len(served) > served_at_erasure  # bundles kept coming during and after it
    version.refresh_from_db()
    assert version in erasure.trained_versions.all()  # it had started: it may hold their data
    assert scan_app_tables("big-spender", "big-s") == []
    # what serving answers them now is what anyone without a history gets
    cart = [str(articles[0].pk)]
    assert get_bundle(cart, shopper=Shopper(shopper_ref="big-spender")).product_ids == \
        get_bundle(cart, personal=False, use_cache=False).product_ids
    if version.artifact:
        assert "big-" not in artifact_text(version)


def test_retention_deletes_old_events_in_batches_and_keeps_the_rest():
    shop = make_shop(with_events=False)
    rows = [event(shop["TEA"], shopper_ref=f"r{i}", timestamp=NOW - timedelta(days=i, hours=-12))
            for i in range(60)]  # event i is i - 0.5 days old
    Event.objects.bulk_create(rows)
    assert privacy.delete_expired_events().deleted == 0  # default: keep everything
    result = privacy.delete_expired_events(days=30, batch_size=7, now=NOW)
    assert result.deleted == 29 and result.batches == 5  # days 31..59
    assert Event.objects.count() == 31
    assert not Event.objects.filter(timestamp__lt=NOW - timedelta(days=30)).exists()
    out = StringIO()
    with recommender_settings(EVENT_RETENTION_DAYS=10):
        call_command("cart_recommender_retention", stdout=out)
        admin = User.objects.create_superuser("boss", password="pw")
        client = Client()
        client.force_login(admin)
        page = client.get(reverse("admin:cart_recommender_event_overview")).content.decode()
    assert "Deleted 20 events" in out.getvalue()
    assert Event.objects.count() == 11
    assert "Oldest event kept" in page and "older than 10 days are deleted" in page


def _request(user=None, cookies=None):
    request = RequestFactory().get("/")
    request.user = user or AnonymousUser()
    request.session = SessionStore()
    request.COOKIES.update(cookies or {})
    return request


def test_without_consent_nothing_personal_is_stored_and_bundles_still_render():
    shop = make_shop()
    ann = User.objects.create_user("ann", password="pw")
    with recommender_settings(ADAPTER="tests.test_privacy.NoConsentAdapter"):
        request = _request(ann)
        stored = record_event(request, "purchase", shop["TEA"], order_ref="ORDER-77", shopper_ref="C42")
        assert (stored.user, stored.session_key, stored.shopper_ref) == (None, "", "")
        assert stored.order_ref.startswith("anon-") and "ORDER-77" not in stored.order_ref
        again = record_event(_request(ann), "purchase", shop["MUG1"], order_ref="ORDER-77")
        assert again.order_ref == stored.order_ref  # still one basket
        assert request.session.session_key is None  # no session made for them
        consented = record_event(_request(ann, {"consent": "yes"}), "view", shop["TEA"])
        assert consented.user == ann

        client = Client()
        client.force_login(ann)
        views = Event.objects.filter(event_type="view").count()
        answer = client.post(reverse("cart_recommender:beacon"), json.dumps(
            {"events": [{"event": "view", "item_id": "TEA"}]}), content_type="application/json")
        assert answer.status_code == 200 and answer.json()["consent"] is False
        assert Event.objects.filter(event_type="view").count() == views
        anonymous = Client()
        answer = anonymous.post(reverse("cart_recommender:beacon"), json.dumps(
            {"events": [{"event": "view", "item_id": "TEA"}]}), content_type="application/json")
        assert answer.json()["consent"] is False and "sessionid" not in answer.cookies

        bundle = client.get(reverse("cart_recommender:bundle") + "?items=TEA")
        assert bundle.status_code == 200 and bundle.json()["items"]
    assert Event.objects.filter(user=ann).count() == 1  # only the consented view


def staff_client(*codenames: str, staff: bool = True) -> Client:
    user = User.objects.create_user(f"op{User.objects.count()}", password="pw", is_staff=staff)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="cart_recommender",
                                                        codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def test_the_rest_endpoints_are_for_staff_with_the_permission_and_refuse_bad_input_storing_nothing():
    shop = make_shop()
    ann, _bob, _carl = people(shop)
    forget, export = reverse("cart_recommender:shopper-forget"), reverse("cart_recommender:shopper-export")
    before = Event.objects.count()
    body = json.dumps({"shopper_ref": "C43"})
    assert Client().post(forget, body, content_type="application/json").status_code in (401, 403)
    assert staff_client("forget_shopper", staff=False).post(
        forget, body, content_type="application/json").status_code == 403
    exporter = staff_client("export_shopper")
    assert exporter.post(forget, body, content_type="application/json").status_code == 403
    operator = staff_client("forget_shopper", "export_shopper")
    for bad in ({}, {"shopper_ref": "C43", "session_key": "x"}, {"shopper_ref": "\u0000"},
                {"shopper_ref": ["C43"]}, {"session_key": 7}, {"who": "C43"}, [], "C43"):
        answer = operator.post(forget, json.dumps(bad), content_type="application/json")
        assert answer.status_code == 400, (bad, answer.content)
    for unknown in ({"user": 10**9}, {"user": "ann"}):
        answer = operator.post(forget, json.dumps(unknown), content_type="application/json")
        assert answer.status_code == 404 and "No user" in answer.json()["detail"]
    assert operator.post(forget, "{not json", content_type="application/json").status_code == 400
    assert Event.objects.count() == before and not Erasure.objects.exists()

    data = operator.post(export, json.dumps({"user": ann.pk}), content_type="application/json").json()
    assert {e["item_id"] for e in data["events"]} == {"TEA", "MUG1", "CAKE"} and len(data["events"]) == 3
    assert data["identities"]["sessions"] == ["ann-s1…", "ann-s2…"]  # never a full session key
    assert operator.post(export, json.dumps({"user": ann.pk, "session_key": "x"}),
                         content_type="application/json").status_code == 400
    assert operator.get(export, {"user": ann.pk}).status_code == 405  # ids stay out of URLs and logs

    answer = operator.post(forget, json.dumps({"user": ann.pk}), content_type="application/json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["events_deleted"] == 3
    assert Erasure.objects.get().via == Erasure.Via.API
    assert operator.post(export, json.dumps({"user": ann.pk}),
                         content_type="application/json").json()["events"] == []


def test_the_command_exports_then_erases(tmp_path):
    shop = make_shop()
    people(shop)
    target = tmp_path / "c43.json"
    call_command("cart_recommender_forget", "--shopper-ref", "C43", "--export", str(target),
                 "--export-only", stdout=StringIO())
    assert json.loads(target.read_text())["events"][0]["shopper_ref"] == "C43"
    assert Event.objects.filter(shopper_ref="C43").exists()
    out = StringIO()
    call_command("cart_recommender_forget", "--shopper-ref", "C43", "--no-input", stdout=out)
    assert "Erased 1 events" in out.getvalue()
    assert not Event.objects.filter(shopper_ref="C43").exists()


def test_the_admin_finds_erases_and_audits():
    shop = make_shop()
    _ann, bob, _carl = people(shop)
    viewer = staff_client("view_erasure", "view_event")
    forget_url = reverse("admin:cart_recommender_erasure_forget")
    assert viewer.get(forget_url).status_code == 403
    operator = staff_client("view_erasure", "view_event", "forget_shopper", "export_shopper")
    found = operator.post(forget_url, {"kind": "user", "value": str(bob.pk), "find": "1"})
    assert "Found 1 events" in found.content.decode()
    download = operator.post(forget_url, {"kind": "user", "value": str(bob.pk), "export": "1"})
    assert json.loads(download.content)["events"][0]["item_id"] == "TEA"
    done = operator.post(forget_url, {"kind": "user", "value": str(bob.pk), "erase": "1"}, follow=True)
    assert "Erased 1 shopper: 1 events deleted." in done.content.decode()
    assert not Event.objects.filter(user=bob).exists()
    erasure = Erasure.objects.get()
    assert erasure.via == Erasure.Via.ADMIN and erasure.requested_by.username.startswith("op")

    # the events list's action asks first, then erases every selected event's shopper
    changelist = reverse("admin:cart_recommender_event_changelist")
    picked = list(Event.objects.filter(shopper_ref="C43").values_list("pk", flat=True))
    asked = operator.post(changelist, {"action": "forget_event_shoppers", "_selected_action": picked,
                                       "index": "0"})
    assert "Erase 1 shopper" in asked.content.decode() and Event.objects.filter(shopper_ref="C43").exists()
    operator.post(changelist, {"action": "forget_event_shoppers", "_selected_action": picked,
                               "confirm": "yes"})
    assert not Event.objects.filter(shopper_ref="C43").exists()
    assert Erasure.objects.count() == 2
    # the audit trail is read-only
    delete_url = reverse("admin:cart_recommender_erasure_delete", args=[erasure.pk])
    assert operator.get(delete_url).status_code == 403
