"""System checks: misconfiguration is reported at start-up with a clear message."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured

from cart_recommender.conf import (
    DEFAULTS,
    PRODUCT_MODEL_SETTING,
    SETTINGS_NAME,
    app_settings,
    get_product_model,
)
from cart_recommender.models import EventType


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
    for name in ("BUNDLE_SIZE", "MAX_BUNDLE_SIZE", "MAX_CART_ITEMS", "INGEST_MAX_EVENTS"):
        value = getattr(app_settings, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            errors.append(
                Error(f"{SETTINGS_NAME}['{name}'] must be a positive integer, not {value!r}.",
                      id="cart_recommender.E004")
            )
    rate = app_settings.BEACON_EVENTS_PER_MINUTE
    if rate is not None and (not isinstance(rate, int) or isinstance(rate, bool) or rate < 1):
        errors.append(
            Error(f"{SETTINGS_NAME}['BEACON_EVENTS_PER_MINUTE'] must be a positive integer or None, "
                  f"not {rate!r}.", id="cart_recommender.E004")
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


__all__ = ["check_settings", "PRODUCT_MODEL_SETTING"]
