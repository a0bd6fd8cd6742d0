"""A tiny synthetic shop whose structure a model can learn in seconds.

Items come in pairs that are bought together (a "complement" structure the co-purchase term
and the encoder must pick up), and every shopper has a few favourite items bought again and
again (the repeat structure the history term must pick up).
"""

from __future__ import annotations

import numpy as np

from cart_recommender.ml.data import EventLog, History, Query


def synthetic_log(seed: int = 0, n_items: int = 40, n_shoppers: int = 30, n_orders: int = 400) -> EventLog:
    rng = np.random.default_rng(seed)
    favourites = [rng.choice(n_items, size=3, replace=False) for _ in range(n_shoppers)]
    records = []
    for o in range(n_orders):
        shopper = int(rng.integers(n_shoppers))
        basket = set()
        for _ in range(int(rng.integers(1, 3))):
            a = int(rng.integers(n_items // 2)) * 2
            basket.update({a, a + 1})
        if rng.random() < 0.8:
            basket.add(int(rng.choice(favourites[shopper])))
        when = 1_600_000_000 + o * 3600.0
        for item in sorted(basket):
            records.append((when, f"s{shopper}", "purchase", f"item-{item}", f"o{o}"))
        if rng.random() < 0.3:
            records.append((when - 60, f"s{shopper}", "view", f"item-{int(rng.integers(n_items))}", ""))
    return EventLog.from_records(records)


def queries_from(log: EventLog, last_orders: int = 60) -> tuple[list[Query], np.ndarray]:
    """Leave-one-out queries from the last orders of ``log`` (history = earlier events)."""
    purchase = np.flatnonzero(log.order >= 0)
    orders = np.unique(log.order[purchase])
    queries, targets = [], []
    for o in orders[-last_orders:]:
        rows = purchase[log.order[purchase] == o]
        items = np.unique(log.item[rows])
        if items.size < 2:
            continue
        when, shopper = log.time[rows[0]], log.shopper[rows[0]]
        before = np.flatnonzero((log.shopper == shopper) & (log.time < when))
        history = History(log.item[before], log.time[before], log.kind[before], log.order[before])
        for t in items:
            queries.append(Query(items[items != t].astype(np.int32), history, float(when)))
            targets.append(int(t))
    return queries, np.asarray(targets)


def hit_rate(scores: np.ndarray, targets: np.ndarray, k: int = 10) -> float:
    mine = scores[np.arange(targets.size), targets]
    return float(((scores > mine[:, None]).sum(axis=1) < k).mean())
