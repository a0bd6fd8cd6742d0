"""Tiny but structured shop data for the training tests, created through the ORM.

Products come in "kits" (items usually bought together) and shoppers come back for their
favourites, so every baseline has signal and a model can learn something in seconds.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from cart_recommender.models import Event, ModelVersion
from tests.testapp.models import Article

START = datetime(2025, 1, 1, tzinfo=UTC)


def make_articles(n: int = 24) -> list[Article]:
    return Article.objects.bulk_create(
        Article(ean=f"{4000000000000 + i}", title=f"Article {i}", price_cents=100 + i,
                shelf=f"shelf {i % 4}")
        for i in range(n)
    )


def make_orders(n_orders: int = 60, *, n_articles: int = 24, n_shoppers: int = 12, seed: int = 0,
                start: datetime = START) -> int:
    """Create ``n_orders`` purchase baskets (plus a view and an add-to-cart per item)."""
    rng = random.Random(seed)
    articles = list(Article.objects.order_by("ean")) or make_articles(n_articles)
    kits = [articles[i:i + 4] for i in range(0, len(articles), 4)]
    events = []
    for o in range(n_orders):
        who = rng.randrange(n_shoppers)
        shopper = f"shopper-{who}"
        kit = kits[who % len(kits)] if rng.random() < 0.6 else rng.choice(kits)
        basket = rng.sample(kit, k=rng.randint(2, 3))
        when = start + timedelta(hours=6 * o)
        for item in basket:
            events.append(Event(event_type="view", product=item, shopper_ref=shopper,
                                timestamp=when - timedelta(minutes=5)))
            events.append(Event(event_type="add_to_cart", product=item, shopper_ref=shopper,
                                timestamp=when - timedelta(minutes=2)))
            events.append(Event(event_type="purchase", product=item, shopper_ref=shopper,
                                order_ref=f"order-{seed}-{o}", timestamp=when))
    Event.objects.bulk_create(events)
    return len(events)


def ready_version(metric_value: float, *, method: str = "copurchase", status: str = "ready",
                  artifact: str = "cart_recommender/models/test.npz") -> ModelVersion:
    """A finished version with a given holdout score, for registry and gate tests."""
    return ModelVersion.objects.create(
        status=status, serving_method=method, artifact=artifact,
        metrics={method: {"hr@10": metric_value, "ndcg@10": metric_value}},
    )
