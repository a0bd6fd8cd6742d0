"""The app's system checks: misconfiguration is named at start-up, and a sound setup is clean."""

from __future__ import annotations

import pytest
from django.core import checks
from django.test import override_settings

from tests.bundle_data import recommender_settings

PRODUCTION_CACHE = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/13",  # never connected to: the checks only read settings
        "OPTIONS": {"serializer": "cart_recommender.serving.cache.JSONSerializer"},
    }
}


def ids(include_deployment_checks: bool = False) -> set[str]:
    found = checks.run_checks(include_deployment_checks=include_deployment_checks)
    return {m.id for m in found if m.id and m.id.startswith("cart_recommender.")}


def test_a_sound_production_setup_is_clean_under_check_deploy():
    with override_settings(CACHES=PRODUCTION_CACHE):
        assert ids(include_deployment_checks=True) == set()


def test_a_cache_that_unpickles_is_named_in_deployment():
    pickling = {"default": {**PRODUCTION_CACHE["default"], "OPTIONS": {}}}
    with override_settings(CACHES=pickling):
        assert "cart_recommender.W010" in ids(include_deployment_checks=True)
        assert "cart_recommender.W010" not in ids()  # development is not nagged
    for backend in ("db.DatabaseCache", "filebased.FileBasedCache"):
        other = {"default": {"BACKEND": f"django.core.cache.backends.{backend}", "LOCATION": "/tmp/x"}}
        with override_settings(CACHES=other):
            assert "cart_recommender.W010" in ids(include_deployment_checks=True)


def test_a_per_process_cache_and_no_beacon_limit_are_named_in_deployment():
    assert "cart_recommender.W012" in ids(include_deployment_checks=True)  # the suite's LocMemCache
    with override_settings(CACHES=PRODUCTION_CACHE), recommender_settings(BEACON_EVENTS_PER_MINUTE=None):
        assert ids(include_deployment_checks=True) == {"cart_recommender.W011"}


@pytest.mark.parametrize("timeout", [5, "45", None])
def test_a_lock_timeout_shorter_than_three_heartbeats_is_an_error(timeout):
    with recommender_settings(LOCK_TIMEOUT_SECONDS=timeout):
        assert "cart_recommender.E007" in ids()


def test_artifacts_in_a_relative_folder_are_an_error():
    with override_settings(MEDIA_ROOT=""):
        assert "cart_recommender.E008" in ids()
    with override_settings(MEDIA_ROOT="media"):
        assert "cart_recommender.E008" in ids()
    assert "cart_recommender.E008" not in ids()  # the suite's absolute MEDIA_ROOT


def test_product_fields_the_model_lacks_are_named_unless_the_adapter_reads_them_itself():
    with recommender_settings(PRODUCT_FIELDS={"name": "title", "price": "price", "category": "category"}):
        found = checks.run_checks()
    fields = [m for m in found if m.id == "cart_recommender.E009"]
    # the suite's adapter reads prices itself (price_cents): only the category is reported
    assert len(fields) == 1 and "'category'" in fields[0].msg and "testapp.Article" in fields[0].msg
    assert "cart_recommender.E009" not in ids()  # the suite's own field names are right


def test_an_artifact_is_never_stored_relative_to_the_working_directory(db, tmp_path):
    from django.core.exceptions import ImproperlyConfigured

    from cart_recommender.models import ModelVersion
    from cart_recommender.registry import artifacts

    local = tmp_path / "v.npz"
    local.write_bytes(b"x")
    version = ModelVersion.objects.create()
    with override_settings(MEDIA_ROOT=""), pytest.raises(ImproperlyConfigured, match="absolute path"):
        artifacts.store_artifact(version, local)
    version.refresh_from_db()
    assert version.artifact == ""


def test_the_api_docs_say_which_apps_they_need(settings):
    assert "cart_recommender.W003" not in ids()
    settings.INSTALLED_APPS = [a for a in settings.INSTALLED_APPS if a != "drf_spectacular_sidecar"]
    found = [m for m in checks.run_checks() if m.id == "cart_recommender.W003"]
    assert len(found) == 1 and "'drf_spectacular_sidecar'" in found[0].msg


@pytest.mark.parametrize("values", [
    {"EVENT_RETENTION_DAYS": 0}, {"EVENT_RETENTION_DAYS": "30"}, {"EVENT_RETENTION_DAYS": True},
    {"ERASURE_RETRAIN_DAYS": 0}, {"ERASURE_RETRAIN_DAYS": None}, {"ERASURE_RETRAIN_DAYS": "1"},
])
def test_privacy_days_must_be_positive_numbers(values):
    with recommender_settings(**values):
        found = [m for m in checks.run_checks() if m.id == "cart_recommender.E004"]
    assert len(found) == 1 and next(iter(values)) in found[0].msg


def test_privacy_days_defaults_and_sound_values_are_clean():
    with recommender_settings(EVENT_RETENTION_DAYS=365, ERASURE_RETRAIN_DAYS=0.5):
        assert not [m for m in checks.run_checks() if m.id == "cart_recommender.E004"]
