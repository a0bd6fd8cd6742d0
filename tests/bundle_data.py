"""A small, hand-made shop for the bundle tests: which answer is right is known by design.

Cart item ``TEA`` ("Green tea", shelf "tea") was bought together with: two mugs (``MUG1`` in 5
orders, ``MUG2`` in 4), a teapot that is no longer sold (``POT``, 6 orders), biscuits
(``BISC``, 3 orders) and a cheap spoon (``SPOON``, 2 orders). ``CAKE`` is bought a lot, but
never with tea (the most popular product). ``LUXE`` is an expensive hamper nobody bought.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.core.cache import caches
from django.test import override_settings

from cart_recommender.models import Event
from cart_recommender.serving import catalog
from cart_recommender.serving import state as serving_state
from tests.testapp.models import Article

T0 = datetime(2025, 3, 1, tzinfo=UTC)

PRODUCTS = {
    # key: (title, price_cents, shelf, available)
    "TEA": ("Green tea", 450, "tea", True),
    "MUG1": ("Blue mug", 800, "mugs", True),
    "MUG2": ("Red mug", 750, "mugs", True),
    "POT": ("Teapot", 2500, "teapots", False),
    "BISC": ("Biscuits", 300, "biscuits", True),
    "SPOON": ("Spoon", 150, "cutlery", True),
    "CAKE": ("Lemon cake", 600, "cakes", True),
    "LUXE": ("Luxury hamper", 9900, "hampers", True),
}
TOGETHER = {"MUG1": 5, "MUG2": 4, "POT": 6, "BISC": 3, "SPOON": 2}


def make_shop(with_events: bool = True) -> dict[str, Article]:
    articles = {
        key: Article.objects.create(ean=key, title=t, price_cents=p, shelf=s, available=a)
        for key, (t, p, s, a) in PRODUCTS.items()
    }
    if with_events:
        events = []
        n = 0
        for key, count in TOGETHER.items():
            for _ in range(count):
                n += 1
                for item in ("TEA", key):
                    events.append(
                        Event(
                            event_type="purchase",
                            product=articles[item],
                            shopper_ref=f"s{n}",
                            order_ref=f"o{n}",
                            timestamp=T0 + timedelta(hours=n),
                        )
                    )
        for i in range(25):
            events.append(
                Event(
                    event_type="purchase",
                    product=articles["CAKE"],
                    shopper_ref=f"c{i}",
                    order_ref=f"cake{i}",
                    timestamp=T0 + timedelta(days=1, hours=i),
                )
            )
        Event.objects.bulk_create(events)
    return articles


@contextmanager
def recommender_settings(**values):
    """Override some CART_RECOMMENDER keys, keeping the test shop's adapter and fields."""
    with override_settings(CART_RECOMMENDER={**settings.CART_RECOMMENDER, **values}):
        yield


@pytest.fixture
def fresh_serving():
    """Each test starts with no cached bundle, no loaded model and no catalog snapshot."""
    caches["default"].clear()
    serving_state.reset()
    catalog.reset()
    yield
    caches["default"].clear()
    serving_state.reset()
    catalog.reset()


def activate_model(method: str = "model", seed: int = 0, note: str = "", tweak=None):
    """Export an artifact over the purchases in the DB (random weights, real co-purchase tables)
    with the ML core, store it and make it the active version; returns the version.

    ``tweak(arch, params, constants, items)`` may return them changed before the export."""
    import tempfile
    from pathlib import Path

    import numpy as np

    from cart_recommender import registry
    from cart_recommender.ml import export
    from cart_recommender.ml.config import TrainingConfig
    from cart_recommender.ml.data import EventLog
    from cart_recommender.ml.network import param_shapes
    from cart_recommender.ml.preparation import prepare
    from cart_recommender.models import ModelVersion
    from cart_recommender.registry import artifacts

    rows = (
        Event.objects.filter(event_type="purchase")
        .order_by("pk")
        .values_list("timestamp", "shopper_ref", "event_type", "product_id", "order_ref")
    )
    log = EventLog.from_records((t, s, e, str(p), o) for t, s, e, p, o in rows)
    # no validation split: the counts cover every order, as a trained artifact's do
    prepared = prepare(log, TrainingConfig(dim=16, max_history=8, val_fraction=0.0))
    rng = np.random.default_rng(seed)
    params = {}
    for name, (shape, init) in param_shapes(prepared["arch"]).items():
        scale = {"zeros": 0.0, "ones": 0.0, "small": 0.01}.get(init, 0.3)
        params[name] = (rng.standard_normal(shape) * scale + (init == "ones")).astype(np.float32)
    arch, constants = prepared["arch"], prepared["constants"]
    if tweak is not None:
        arch, params, constants = tweak(arch, params, constants, log.items)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.npz"
        export.save_artifact(path, items=log.items, arch=arch, params=params, constants=constants)
        version = ModelVersion.objects.create(status="ready", serving_method=method)
        artifacts.store_artifact(version, path)
    registry.activate(version, note=note)
    return version
