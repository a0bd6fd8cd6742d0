"""What an attacker with partial access, or a crash, must not achieve.

Tampered or broken artifacts are never served; the bundle cache holds JSON, so a value planted
in it cannot run code; "Add all to cart" only ever re-posts to the shop's own add-to-cart URL;
a CSV row the database cannot store is a bad row; concurrent, reordered retries of one batch
store every event exactly once and report exact counts.
"""

from __future__ import annotations

import io
import pickle
import random
import re
import threading
from datetime import timedelta

import numpy as np
import pytest
from django.conf import settings
from django.core import signing
from django.core.cache import caches
from django.db import connections
from django.template import Context, Template
from django.test import RequestFactory
from django.utils import timezone

from cart_recommender.events.writer import write_events
from cart_recommender.ml.export import ArtifactError, read_artifact, save_artifact
from cart_recommender.models import Event, ModelVersion
from cart_recommender.registry import artifacts
from cart_recommender.serving import state as serving_state
from cart_recommender.serving.add_all import SALT
from cart_recommender.serving.bundles import get_bundle
from cart_recommender.serving.cache import JSONSerializer
from tests.bundle_data import activate_model, fresh_serving, make_shop, recommender_settings  # noqa: F401
from tests.testapp.models import Article

pytestmark = pytest.mark.usefixtures("fresh_serving")

# --------------------------------------------------------------------------- artifacts


def test_an_altered_artifact_is_refused_and_bundles_fall_back(db):
    make_shop()
    version = activate_model("model")
    assert len(version.artifact_sha256) == 64
    assert serving_state.get_state().label == str(version.pk)
    storage = artifacts.get_storage()
    with storage.open(version.artifact, "rb") as fh:
        data = bytearray(fh.read())
    data[-200] ^= 0xFF  # one bit of one weight: shapes and format still valid
    storage.delete(version.artifact)
    storage.save(version.artifact, io.BytesIO(bytes(data)))
    with pytest.raises(ArtifactError, match="SHA-256"):
        artifacts.load_serving_model(version)
    serving_state.reset()
    bundle = get_bundle(["TEA"], use_cache=False)
    assert bundle.model_version == "baseline" and bundle.items  # the SQL fallbacks serve instead


@pytest.mark.parametrize("poison", [np.nan, np.inf])
def test_non_finite_weights_refuse_to_load(poison):
    from tests.ml.test_serving import random_model, synthetic_log

    arch, params, constants = random_model(synthetic_log(seed=3))
    params["item_emb"][3, 1] = poison
    buffer = io.BytesIO()
    save_artifact(buffer, items=[f"i{k}" for k in range(arch.n_items)], arch=arch, params=params,
                  constants=constants)
    buffer.seek(0)
    with pytest.raises(ArtifactError, match="NaN or infinite"):
        read_artifact(buffer)


# --------------------------------------------------------------------------- the cache


class Boom:
    ran = False

    def __reduce__(self):
        return (_set_ran, ())


def _set_ran():
    Boom.ran = True
    return "pwned"


def test_bundles_are_cached_as_json_and_a_foreign_value_is_a_miss(db):
    make_shop()
    first = get_bundle(["TEA"])
    cache = caches["default"]
    keys = [k for k in cache._cache if "cart_recommender:bundle:" in k]  # LocMemCache's own dict
    assert len(keys) == 1
    stored = cache.get(keys[0].split(":", 2)[-1])
    assert isinstance(stored, str) and stored.startswith("{")
    assert get_bundle(["TEA"]) == first  # read back from the JSON
    cache.set(keys[0].split(":", 2)[-1], Boom())  # a planted value the app did not write
    assert get_bundle(["TEA"]) == first  # rebuilt, not taken from the planted value


def test_the_json_serializer_never_unpickles():
    Boom.ran = False
    serializer = JSONSerializer()
    assert serializer.loads(pickle.dumps(Boom())) is None and not Boom.ran
    assert serializer.loads(serializer.dumps('{"a": 1}')) == '{"a": 1}'
    assert serializer.dumps(7) == 7 and serializer.loads(b"7") == 7  # counters stay INCR-able
    with pytest.raises(TypeError):
        serializer.dumps(object())


# --------------------------------------------------------------------------- add all to cart


def _signed(items, **extra):
    return signing.dumps({"items": items, "version": "1", **extra}, salt=SALT, compress=True)


def test_add_all_redirects_only_to_the_adapters_url_even_with_a_forged_note(db, client):
    make_shop()
    forged = _signed(["MUG1"], action="https://evil.example/steal")  # signed with the real key
    response = client.post("/recommender/bundle/add-all/", {"cart_recommender_bundle": forged, "ean": "MUG1"})
    assert response.status_code == 307 and response["Location"] == "/basket/add/"


def test_add_all_refuses_an_adapter_url_off_this_site(db, client):
    make_shop()
    with recommender_settings(ADAPTER="tests.test_hardening.OffsiteAdapter"):
        response = client.post("/recommender/bundle/add-all/", {"cart_recommender_bundle": _signed(["MUG1"])})
    assert response.status_code == 400
    assert not Event.objects.filter(event_type="bundle_click").exists()


def test_the_rendered_note_names_no_url(db):
    make_shop()
    request = RequestFactory().get("/")
    from django.contrib.auth.models import AnonymousUser
    from django.contrib.sessions.backends.db import SessionStore

    request.user, request.session = AnonymousUser(), SessionStore()
    html = Template("{% load cart_recommender_tags %}{% complete_your_cart cart %}").render(
        Context({"request": request, "cart": ["TEA"]}))
    note = re.search(r'name="cart_recommender_bundle" value="([^"]+)"', html).group(1)
    assert set(signing.loads(note, salt=SALT)) == {"items", "version", "bundle"}


from tests.testapp.adapter import ArticleAdapter  # noqa: E402


class OffsiteAdapter(ArticleAdapter):
    def get_add_to_cart_form(self, request, products):
        form = super().get_add_to_cart_form(request, products)
        return type(form)(action="//evil.example/basket", fields=form.fields)


# --------------------------------------------------------------------------- CSV import


def test_csv_rows_the_database_cannot_store_are_bad_rows(db, tmp_path):
    from cart_recommender.events.importer import EventImporter

    Article.objects.create(ean="TEA", title="Tea", price_cents=100, shelf="tea")
    path = tmp_path / "events.csv"
    good = b"2024-01-01T10:00:00Z,c1,,purchase,TEA,o1,1,1.00,,\n"
    path.write_bytes(
        b"timestamp,user_id,session_id,event,item_id,order_id,quantity,price,item_name,category\n"
        + good
        + b"2024-01-01T10:00:00Z,c\x002,,purchase,TEA,o2,1,1.00,,\n"  # NUL in the shopper id
        + b"2024-01-01T10:00:00Z,c3,,purchase,TEA,o\xff3,1,1.00,,\n"  # bytes that are not UTF-8
        + b"2024-01-01T10:00:00Z,c4,,purchase,TEA,o4,1,1.00,caf\xe9,\n"  # latin-1 in a name
    )
    report = EventImporter().run(path)
    assert report.stored == 1 and report.bad_rows == 3
    assert [e.line for e in report.errors] == [3, 4, 5]
    assert "NUL" in report.errors[0].reason and "UTF-8" in report.errors[1].reason
    assert Event.objects.count() == 1


# --------------------------------------------------------------------------- concurrent writes


@pytest.mark.django_db(transaction=True)
def test_reordered_concurrent_retries_store_each_event_once_with_exact_counts():
    """Four writers send the same 2,500 keyed events, each in its own order, four times."""
    products = [Article.objects.create(ean=f"P{i}", title=f"P{i}", price_cents=100, shelf="s")
                for i in range(20)]
    now = timezone.now()

    def batch(seed: int) -> list[Event]:
        events = [Event(event_type="view", product=products[i % 20], shopper_ref=f"c{i % 50}",
                        idempotency_key=f"k{i:04d}", source="api", timestamp=now - timedelta(seconds=i))
                  for i in range(2500)]
        random.Random(seed).shuffle(events)
        return events

    results, errors = [], []
    barrier = threading.Barrier(4, timeout=60)

    def send(seed: int) -> None:
        try:
            for attempt in range(4):
                barrier.wait()  # every round starts together: the writers overlap
                results.append(write_events(batch(seed * 10 + attempt)))
        except Exception as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)
            barrier.abort()  # the others stop waiting for this writer
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    assert Event.objects.count() == 2500
    assert sum(r.stored for r in results) == 2500  # exact: no stored count is an overcount
    assert len(results) == 16 and all(r.stored + len(r.duplicates) == 2500 for r in results)
    assert not ModelVersion.objects.exists()


@pytest.mark.skipif("shared" not in settings.CACHES, reason="needs REDIS_URL (CI's second pass)")
def test_bundles_and_the_rate_limit_work_on_redis_with_the_json_serializer(db):
    make_shop()
    shared = caches["shared"]
    shared.clear()
    with recommender_settings(CACHE_ALIAS="shared"):
        first = get_bundle(["TEA"])
        client = shared._cache.get_client()
        (key,) = [k for k in client.keys("*") if b"cart_recommender:bundle:" in k]
        assert client.get(key).startswith(b'"{')  # JSON text, no pickle opcode
        assert get_bundle(["TEA"]) == first
        client.set(key, pickle.dumps(Boom()))  # planted by someone with access to Redis
        Boom.ran = False
        assert get_bundle(["TEA"]) == first and not Boom.ran
        shared.add("cart_recommender:counter", 0)
        assert shared.incr("cart_recommender:counter", 3) == 3
    shared.clear()
