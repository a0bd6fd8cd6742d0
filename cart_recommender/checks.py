"""System checks: misconfiguration is reported at start-up with a clear message."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured

from cart_recommender.adapter import DefaultShopAdapter
from cart_recommender.conf import (
    DEFAULTS,
    PRODUCT_MODEL_SETTING,
    SETTINGS_NAME,
    app_settings,
    get_product_model,
)
from cart_recommender.models import EventType
from cart_recommender.registry.artifacts import get_storage, relative_folder
from cart_recommender.serving.cache import unpickles
from cart_recommender.training.lock import HEARTBEAT_EVERY_S, MISSED_BEATS_GONE


@register(Tags.compatibility)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list:
    errors: list = []
    user = getattr(settings, SETTINGS_NAME, {})
    if not isinstance(user, dict):
        return [Error(f"{SETTINGS_NAME} must be a dict.", id="cart_recommender.E001")]
    unknown = sorted(set(user) - set(DEFAULTS))
    if unknown:
        errors.append(
            Error(
                f"Unknown {SETTINGS_NAME} key(s): {', '.join(unknown)}.",
                hint=f"Known keys: {', '.join(sorted(DEFAULTS))}.",
                id="cart_recommender.E001",
            )
        )
    try:
        get_product_model()
    except ImproperlyConfigured as exc:
        errors.append(Error(str(exc), id="cart_recommender.E002"))
    try:
        app_settings.import_from("ADAPTER")
    except ImportError as exc:
        errors.append(
            Error(
                f"{SETTINGS_NAME}['ADAPTER'] cannot be imported: {exc}",
                hint="Give the dotted path of a subclass of cart_recommender.adapter.DefaultShopAdapter.",
                id="cart_recommender.E003",
            )
        )
    for name in ("BUNDLE_SIZE", "MAX_BUNDLE_SIZE", "MAX_CART_ITEMS", "INGEST_MAX_EVENTS", "HISTORY_EVENTS"):
        value = getattr(app_settings, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            errors.append(
                Error(f"{SETTINGS_NAME}['{name}'] must be a positive integer, not {value!r}.",
                      id="cart_recommender.E004")
            )
    for name in ("BEACON_EVENTS_PER_MINUTE", "EVENT_RETENTION_DAYS"):
        value = getattr(app_settings, name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            errors.append(
                Error(f"{SETTINGS_NAME}['{name}'] must be a positive integer or None, "
                      f"not {value!r}.", id="cart_recommender.E004")
            )
    days = app_settings.ERASURE_RETRAIN_DAYS
    if isinstance(days, bool) or not isinstance(days, (int, float)) or days <= 0:
        errors.append(
            Error(f"{SETTINGS_NAME}['ERASURE_RETRAIN_DAYS'] must be a positive number of days, "
                  f"not {days!r}.", id="cart_recommender.E004")
        )
    for name in ("ATTRIBUTION_WINDOW_DAYS", "ROLLUP_SECONDS", "EXPERIMENT_MIN_SHOPPERS"):
        value = getattr(app_settings, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            errors.append(
                Error(f"{SETTINGS_NAME}['{name}'] must be a positive number, not {value!r}.",
                      id="cart_recommender.E004")
            )
    confidence = app_settings.EXPERIMENT_CONFIDENCE
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0.5 <= confidence < 1:
        errors.append(
            Error(f"{SETTINGS_NAME}['EXPERIMENT_CONFIDENCE'] must be a level from 0.5 to below 1 "
                  f"(e.g. 0.95), not {confidence!r}.", id="cart_recommender.E004")
        )
    if app_settings.ACTIVATION_GATE not in ("auto", "manual", "always"):
        errors.append(
            Error(f"{SETTINGS_NAME}['ACTIVATION_GATE'] must be 'auto', 'manual' or 'always'.",
                  id="cart_recommender.E005")
        )
    beacon_types = app_settings.BEACON_EVENT_TYPES
    unknown_types = sorted(set(beacon_types) - set(EventType.values))
    if unknown_types:
        errors.append(
            Error(f"{SETTINGS_NAME}['BEACON_EVENT_TYPES'] has unknown event type(s): "
                  f"{', '.join(unknown_types)}.", hint=f"Known: {', '.join(EventType.values)}.",
                  id="cart_recommender.E006")
        )
    forgeable = sorted(set(beacon_types) & {"add_to_cart", "remove_from_cart", "purchase"})
    if forgeable:
        errors.append(
            Warning(f"The browser beacon accepts {', '.join(forgeable)}: any visitor can forge these "
                    "events and steer what the model learns.",
                    hint="Record cart changes and purchases server-side with record_event().",
                    id="cart_recommender.W002")
        )
    if app_settings.ADAPTER == DEFAULTS["ADAPTER"]:
        errors.append(
            Warning(
                "cart_recommender uses the default shop adapter, which cannot see carts.",
                hint="Subclass cart_recommender.adapter.DefaultShopAdapter, implement get_cart() and "
                f"get_add_to_cart_form(), and set {SETTINGS_NAME}['ADAPTER'].",
                id="cart_recommender.W001",
            )
        )
    return errors


@register(Tags.compatibility)
def check_runtime(app_configs: Any = None, **kwargs: Any) -> list:
    """Settings that break a part of the app at run time, in development as in production."""
    errors: list = []
    beats = HEARTBEAT_EVERY_S * MISSED_BEATS_GONE
    timeout = app_settings.LOCK_TIMEOUT_SECONDS
    if not isinstance(timeout, (int, float)) or timeout < beats:
        errors.append(Error(
            f"{SETTINGS_NAME}['LOCK_TIMEOUT_SECONDS'] must be at least {beats:.0f} (three heartbeats of "
            f"{HEARTBEAT_EVERY_S:.0f} s), not {timeout!r}: a live training run would be taken for dead.",
            id="cart_recommender.E007"))
    errors += _product_field_errors()
    missing = [app for app in ("drf_spectacular", "drf_spectacular_sidecar") if not apps.is_installed(app)]
    if missing:
        errors.append(Warning(
            f"The API docs pages (api/docs/, api/redoc/) need {' and '.join(repr(a) for a in missing)} "
            "in INSTALLED_APPS (their templates and the Swagger UI / Redoc files); the schema itself "
            "(api/schema/) works without.",
            hint=f"Add {', '.join(repr(a) for a in missing)} to INSTALLED_APPS.", id="cart_recommender.W003"))
    try:
        location = relative_folder(get_storage())
    except Exception:  # noqa: BLE001  (an unknown storage alias is Django's own check to report)
        location = None
    if location is not None:
        errors.append(Error(
            f"Model artifacts would be written to {location!r}, relative to each process's working "
            "directory: processes started elsewhere would not find them, and a folder named "
            "'cart_recommender' there would shadow the installed package.",
            hint=f"Set MEDIA_ROOT to an absolute path, or point {SETTINGS_NAME}['ARTIFACT_STORAGE'] at "
                 "a storage with an absolute location (or a remote one, such as S3).",
            id="cart_recommender.E008"))
    return errors


#: The adapter methods that read each PRODUCT_FIELDS entry: a key matters only while the
#: adapter keeps the default for at least one of them.
FIELD_READERS = {
    "name": ("get_display", "get_text"), "description": ("get_text",), "image": ("get_display",),
    "price": ("get_price",),
    "category": ("get_category",), "active": ("is_sellable", "sellable_queryset"),
    "stock": ("is_sellable", "sellable_queryset"),
    "external_id": ("get_external_id", "get_products_by_external_ids"),
}


def _product_field_errors() -> list:
    """PRODUCT_FIELDS naming fields the product model lacks (the default readers would read nothing)."""
    try:
        model = get_product_model()
        adapter_class = app_settings.import_from("ADAPTER")
    except (ImproperlyConfigured, ImportError):
        return []  # reported by check_settings
    names = {f.name for f in model._meta.get_fields()} | {f.attname for f in model._meta.concrete_fields}
    errors = []
    for key, field in (app_settings.PRODUCT_FIELDS or {}).items():
        readers = FIELD_READERS.get(key, ())
        uses_default = any(getattr(adapter_class, r, None) is getattr(DefaultShopAdapter, r) for r in readers)
        if field and field != "pk" and uses_default and field not in names:
            errors.append(Error(
                f"{SETTINGS_NAME}['PRODUCT_FIELDS']['{key}'] is {field!r}, but {model._meta.label} has no "
                f"such field: the adapter would read no {key} from it.",
                hint=f"Name a field of {model._meta.label} (one of: {', '.join(sorted(names)[:12])} ...), "
                     f"None if it has none, or override the adapter's {' / '.join(readers)}.",
                id="cart_recommender.E009"))
    return errors


@register(Tags.security, deploy=True)
def check_deployment(app_configs: Any = None, **kwargs: Any) -> list:
    """What is fine on a developer's machine and unsafe in production (``check --deploy``)."""
    errors: list = []
    alias = app_settings.CACHE_ALIAS
    if alias and alias in settings.CACHES and unpickles(alias):
        errors.append(Warning(
            f"The cache {alias!r} (CACHE_ALIAS) unpickles what it reads: whoever can write to the "
            "cache server can run code in every web process.",
            hint="On Redis set OPTIONS = {'serializer': 'cart_recommender.serving.cache.JSONSerializer'} "
                 "for this cache (the app stores only JSON text and integers in it), or give the app "
                 "a cache of its own that does.",
            id="cart_recommender.W010"))
    if app_settings.BEACON_EVENTS_PER_MINUTE is None:
        errors.append(Warning(
            f"{SETTINGS_NAME}['BEACON_EVENTS_PER_MINUTE'] is None: a page left reloading can fill its "
            "visitor's history with events.", id="cart_recommender.W011"))
    rate_cache = alias or "default"
    backend = settings.CACHES.get(rate_cache, {}).get("BACKEND", "")
    if backend.endswith(("LocMemCache", "DummyCache")):
        errors.append(Warning(
            f"The cache {rate_cache!r} is kept per process: each web worker counts the beacon's rate "
            "limit (BEACON_EVENTS_PER_MINUTE) on its own, so a shopper may send that many per worker.",
            hint="Use a shared cache (Redis) for CACHE_ALIAS in production.", id="cart_recommender.W012"))
    return errors


__all__ = ["check_deployment", "check_runtime", "check_settings", "PRODUCT_MODEL_SETTING"]
