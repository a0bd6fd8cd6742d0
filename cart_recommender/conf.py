"""The one settings namespace, ``CART_RECOMMENDER = {...}``, and the product model it names.

Every default lives in :data:`DEFAULTS` below and nowhere else (a test keeps the settings
table of docs/settings.md equal to it). Values are read lazily on attribute access, so tests can use
``override_settings`` and a host can change settings without re-importing the app.

Example::

    from cart_recommender.conf import app_settings
    app_settings.BUNDLE_SIZE  # 3 unless the host says otherwise
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import models
from django.utils.module_loading import import_string

SETTINGS_NAME = "CART_RECOMMENDER"
PRODUCT_MODEL_SETTING = "CART_RECOMMENDER_PRODUCT_MODEL"

DEFAULTS: dict[str, Any] = {
    # Dotted path of the shop adapter class (see cart_recommender.adapter); an installed
    # integration (cart_recommender.contrib.oscar) names its own when this is not set.
    "ADAPTER": "cart_recommender.adapter.DefaultShopAdapter",
    # Field names the default adapter reads from the product model; None = not available.
    "PRODUCT_FIELDS": {
        "name": "name",
        "price": "price",
        "category": "category",
        "active": None,
        "stock": None,
        "image": None,
        "external_id": "pk",
        # a text field the model reads with the name (the adapter's get_text); None: the name only
        "description": None,
    },
    # Events a browser may send through the beacon: only what the page itself can see.
    "BEACON_EVENT_TYPES": ["view", "click"],
    # Most beacon events one shopper may send per minute; more get a 429 (None = no limit).
    "BEACON_EVENTS_PER_MINUTE": 120,
    # Most events a batch ingest request may carry; bigger batches get a 400.
    "INGEST_MAX_EVENTS": 500,
    # Items in a bundle unless the caller asks for another size, and the largest size allowed.
    "BUNDLE_SIZE": 3,
    "MAX_BUNDLE_SIZE": 10,
    # Largest cart a bundle request may describe.
    "MAX_CART_ITEMS": 100,
    # Most of the shopper's own latest events a freshly computed bundle reads (one query).
    "HISTORY_EVENTS": 1000,
    # At most this many bundle items share one category (None = no cap).
    "CATEGORY_CAP": 1,
    # Bundle slots (the last ones) for products added since the serving version's retrain,
    # offered where their name and category put them in the same range as a cart product (0 = none).
    "NEW_PRODUCT_SLOTS": 1,
    # Prefer bundles that lift the cart total over this amount (None = off).
    "FREE_SHIPPING_THRESHOLD": None,
    # Percentage off the bundle's total shown with the bundle (0 = none).
    "BUNDLE_DISCOUNT_PERCENT": 0,
    # Cache alias and lifetime (seconds) for computed bundles; None alias = no caching.
    "CACHE_ALIAS": "default",
    "CACHE_TIMEOUT": 300,
    # How often (seconds) each web process checks whether another model version is active.
    "MODEL_CHECK_SECONDS": 5,
    # Each web process keeps the catalog (names, prices, categories, sellable) in memory and
    # rebuilds it when older than this (sellable is checked apart: SELLABLE_REFRESH_SECONDS).
    "CATALOG_REFRESH_SECONDS": 60,
    # Which products are sellable is re-read (one query, in a background thread) at most this
    # many seconds apart: the staleness bound of "never offer what cannot be sold". None = ask
    # the database live for the candidates of every freshly computed bundle (one more query).
    "SELLABLE_REFRESH_SECONDS": 10,
    # Each web process precomputes, per model version, the model's top candidates for every
    # one-item cart (background thread, ~n_items x 48 entries) and serves carts of shoppers
    # without history from them; False = a full forward pass per uncached bundle.
    "PRECOMPUTE_CANDIDATES": True,
    # Celery queue the retrain task is sent to; run it on a worker with concurrency 1.
    "TRAINING_QUEUE": "cart_recommender_training",
    # Storage alias (settings.STORAGES) and folder for model artifacts.
    "ARTIFACT_STORAGE": "default",
    "ARTIFACT_PATH": "cart_recommender/models",
    # "auto": a new version goes live only if it beats the active one on GATE_METRIC;
    # "manual": staff always activate by hand; "always": every successful run goes live.
    "ACTIVATION_GATE": "auto",
    "GATE_METRIC": "ndcg@10",
    # A training run whose heartbeat (every 5 s, from a thread of the worker) is older than this
    # is taken as dead (worker killed) and marked failed; the next run may take the lock over.
    "LOCK_TIMEOUT_SECONDS": 45,
    # A queued run that no worker started within this many seconds is marked failed.
    "QUEUE_TIMEOUT_SECONDS": 600,
    # Behaviour events older than this many days are deleted by the enforce_retention task
    # (in batches; None = keep everything).
    "EVENT_RETENTION_DAYS": None,
    # A model trained on data of a since-erased shopper is replaced by a retrain within this
    # many days (the retrain_after_erasure task queues it once half of it has passed).
    "ERASURE_RETRAIN_DAYS": 1,
    # A product added to the cart, bought or refunded by the shopper within this many days after
    # a bundle showed it (impression or click; the latest one wins) is credited to that bundle.
    "ATTRIBUTION_WINDOW_DAYS": 7,
    # The dashboard asks for a rollup update when the last one is older than this (seconds);
    # schedule the update_performance task as often on a Celery beat.
    "ROLLUP_SECONDS": 900,
    # An A/B test declares no winner while an arm has fewer shoppers than this, or before its
    # minimum duration; the confidence level of its intervals and tests.
    "EXPERIMENT_MIN_SHOPPERS": 200,
    "EXPERIMENT_CONFIDENCE": 0.95,
    # Shopper segments, grouped at the end of every retrain (docs/segments.md): "enabled";
    # k is chosen from "min" to "max" by silhouette, or fixed by "count"; a shop with fewer
    # shoppers who bought than "min_shoppers" gets none; "model_vectors" False = recency,
    # frequency, value and category mix only.
    "SEGMENTS": {
        "enabled": True, "min": 3, "max": 12, "count": None, "min_shoppers": 50, "model_vectors": True,
    },
    # Training parameters passed to the ML core; see cart_recommender.ml.
    # Any other key of cart_recommender.ml.config.TrainingConfig may be added here too.
    "TRAINING": {
        "seed": 42,
        "max_epochs": 20,
        "time_budget_s": 200,
        # The retrain's holdout: the newest qualifying orders (protocol v1 keeps 5,000; a
        # retrain keeps fewer so that evaluating four methods stays a small part of the run).
        "holdout_orders": 1000,
        # A run fails ("too little data") with fewer training orders than this.
        "min_orders": 10,
        # False: skip the Keras model and serve with the best baseline (no training backend).
        "use_model": True,
    },
}


class AppSettings:
    """Lazy view of ``settings.CART_RECOMMENDER`` merged over :data:`DEFAULTS`."""

    def __init__(self) -> None:
        self._cache: dict[str, Any] = {}

    @property
    def user_settings(self) -> dict[str, Any]:
        return getattr(settings, SETTINGS_NAME, {}) or {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in DEFAULTS:
            raise AttributeError(f"Unknown {SETTINGS_NAME} setting: {name!r}")
        if name not in self._cache:
            default = DEFAULTS[name]
            if name == "ADAPTER" and name not in self.user_settings:
                default = integration_adapter() or default
                if not apps.ready:  # an integration may not be known yet: do not remember
                    return default
            value = self.user_settings.get(name, default)
            if isinstance(default, dict) and isinstance(value, dict) and value is not default:
                value = {**default, **value}
            self._cache[name] = value
        return self._cache[name]

    def import_from(self, name: str) -> Any:
        """Import the object a dotted-path setting names."""
        return import_string(getattr(self, name))

    def reload(self) -> None:
        self._cache.clear()


def integration_adapter() -> str | None:
    """The adapter an installed integration app names (``cart_recommender_adapter``), if any.

    Installing ``cart_recommender.contrib.oscar`` is then all an Oscar shop does to get the
    Oscar adapter; an ``ADAPTER`` the shop sets itself always wins.
    """
    if not apps.ready:
        return None
    for config in apps.get_app_configs():
        path = getattr(config, "cart_recommender_adapter", None)
        if path:
            return path
    return None


app_settings = AppSettings()


def _reload(*, setting: str, **kwargs: Any) -> None:
    if setting in (SETTINGS_NAME, PRODUCT_MODEL_SETTING):
        app_settings.reload()


setting_changed.connect(_reload)


def get_product_model_label() -> str:
    """``CART_RECOMMENDER_PRODUCT_MODEL``, or ImproperlyConfigured naming what to set."""
    label = getattr(settings, PRODUCT_MODEL_SETTING, None)
    if not label:
        raise ImproperlyConfigured(
            f"Set {PRODUCT_MODEL_SETTING} = 'app_label.ModelName' to the shop's product model."
        )
    return label


def get_product_model() -> type[models.Model]:
    """Return the shop's product model class, like ``get_user_model()``."""
    label = get_product_model_label()
    try:
        return apps.get_model(label, require_ready=False)
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"{PRODUCT_MODEL_SETTING} must be of the form 'app_label.ModelName', not {label!r}."
        ) from exc
    except LookupError as exc:
        raise ImproperlyConfigured(
            f"{PRODUCT_MODEL_SETTING} refers to model {label!r} that has not been installed."
        ) from exc
