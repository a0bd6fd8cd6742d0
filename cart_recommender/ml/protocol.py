"""Evaluation protocol v1: a time split of an event log into training data and holdout queries.

The same protocol serves the ``cart_recommender_evaluate`` command, ``benchmarks/quality.py``
and the holdout metrics of every retrain, so a number means the same everywhere.

* Orders are the purchase events grouped by order; an order's time is its earliest event, its
  owner the shopper of that event (anonymous: -1); orders are sorted by (time, order id as a
  string).
* Test orders: the last 20% of the orders (rounded down), keeping those with at least 2
  distinct items, then the last 5,000 of those.
* Training data: every event of the other orders, and the events outside any order (views,
  clicks, cart changes, purchases without an order) earlier than the first test order.
* One query per test order and distinct item ``h`` in it: the cart is the order's other
  distinct items, the history the owner's purchase events strictly before the order (earlier
  test orders included, as serving would see them), and ``h`` is hidden.
* The catalog is the items of the training data; candidates are the catalog minus the cart; a
  hidden item outside the catalog is a miss; ties are ranked by :mod:`cart_recommender.ml.metrics`.
* By item age, beside the headline numbers: "cold" queries hide a catalog item that at most
  :data:`COLD_MAX_ORDERS` training orders hold, ranked as above; "new" queries hide an item
  first bought in the test period, ranked against every item the log names (the catalog plus
  those new items, whose names and categories a shop knows before anyone buys them).

Item codes in ``Split.train`` are codes ``0..catalog-1`` for the catalog, then one code for every
other item the log names (``train.items`` gives the ids, ``train.content`` what the shop says of
each; those extra items have no training event). The queries use the same codes in carts,
histories and targets; the headline metrics treat a code past the catalog as outside it, so
they are protocol v1's. History ``order`` codes are the source log's order codes: they only
tell a shopper's orders apart.

Example::

    split = protocol.split(log)                   # any EventLog: from a CSV or the database
    scorers = [Popularity().fit(split.train), model.fit(split.train)]
    report = protocol.evaluate(scorers, split)     # {"dataset": ..., "results": ..., "timings": ...}
    report["results"]["model"]["hr_curve"]         # HR@K for K = 1..20
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from cart_recommender.ml.baselines import basket_items, order_counts
from cart_recommender.ml.data import PURCHASE, EventLog, History, Query, Scorer
from cart_recommender.ml.metrics import metrics_from_ranks, target_ranks, tie_priority

TEST_FRACTION = 0.2
MIN_DISTINCT_ITEMS = 2
MAX_TEST_ORDERS = 5000
#: A "cold" query's hidden item is held by at most this many training orders.
COLD_MAX_ORDERS = 2
# The most (query x item) score cells evaluated at once (16 MB of float32).
_CELLS_PER_BATCH = 1 << 22


@dataclass
class Split:
    """The protocol's view of a log: what scorers are fitted on and what they are asked.

    Attributes:
        train: the training events, items re-coded to the catalog (``train.items``).
        queries: one per (test order, distinct item); queries of an order share one History.
        targets: int32 code of each query's hidden item (``>= catalog`` for a new item).
        query_order: int32 index into ``test_orders`` of each query's order.
        test_orders: the test orders' ids, oldest first.
        cutoff: the first test order's time (epoch seconds), None without test orders.
        dataset: counts ``orders``, ``train_orders``, ``test_orders``, ``queries``, ``catalog``
            and ``items`` (the catalog plus the items first bought in the test period).
        catalog: how many of ``train.items`` are the catalog (items of the training data).
    """

    train: EventLog
    queries: list[Query]
    targets: np.ndarray
    query_order: np.ndarray
    test_orders: list[str] = field(default_factory=list)
    cutoff: float | None = None
    dataset: dict[str, int] = field(default_factory=dict)
    catalog: int = -1

    def __post_init__(self) -> None:
        if self.catalog < 0:
            self.catalog = self.train.n_items


def _reordered(log: EventLog, order: np.ndarray) -> EventLog:
    return EventLog(
        time=log.time[order], shopper=log.shopper[order], kind=log.kind[order], item=log.item[order],
        order=log.order[order], items=log.items, shoppers=log.shoppers, orders=log.orders,
        content=log.content,
    )


def _subset(log: EventLog, keep: np.ndarray) -> tuple[EventLog, np.ndarray, int]:
    """The events in ``keep``, items and orders re-coded densely; also the old -> new item map
    and the catalog size (the items of those events come first, then every other item)."""
    catalog = np.unique(log.item[keep])
    rest = np.setdiff1d(np.arange(log.n_items), catalog)
    every = np.concatenate([catalog, rest]).astype(np.int64)
    item_map = np.full(log.n_items, -1, np.int32)
    item_map[every] = np.arange(len(every), dtype=np.int32)
    order = log.order[keep]
    kept_orders = np.unique(order[order >= 0])
    order_map = np.full(len(log.orders) + 1, -1, np.int32)  # the extra slot maps -1 to -1
    order_map[kept_orders] = np.arange(len(kept_orders), dtype=np.int32)
    train = EventLog(
        time=log.time[keep],
        shopper=log.shopper[keep],
        kind=log.kind[keep],
        item=item_map[log.item[keep]],
        order=order_map[order],
        items=[log.items[c] for c in every],
        shoppers=list(log.shoppers),
        orders=[log.orders[c] for c in kept_orders],
        content=log.content.take(every) if log.content is not None else None,
    )
    return train, item_map, len(catalog)


def split(
    log: EventLog,
    *,
    test_fraction: float = TEST_FRACTION,
    min_distinct_items: int = MIN_DISTINCT_ITEMS,
    max_test_orders: int = MAX_TEST_ORDERS,
) -> Split:
    """Split ``log`` by protocol v1 (see the module docstring); never fails on tiny data.

    With too few orders for a holdout, every event is training data and there is no query.
    """
    if len(log) and np.any(np.diff(log.time) < 0):  # the contract says sorted; make sure
        log = _reordered(log, np.argsort(log.time, kind="stable"))
    purchase = (log.kind == PURCHASE) & (log.order >= 0)
    rows = np.flatnonzero(purchase)  # time-sorted, so an order's first row is its earliest
    present, first = np.unique(log.order[rows], return_index=True)
    order_time = log.time[rows[first]]
    owner = log.shopper[rows[first]]
    by_id = sorted(range(len(present)), key=lambda j: log.orders[present[j]])
    id_rank = np.empty(len(present), np.int64)
    id_rank[np.asarray(by_id, dtype=np.int64)] = np.arange(len(present))
    chrono = np.lexsort((id_rank, order_time))  # positions into `present`, oldest first

    basket_orders, _basket_items = basket_items(log)
    distinct = np.bincount(basket_orders, minlength=len(log.orders))
    n_tail = int(len(present) * Fraction(test_fraction).limit_denominator(10_000))
    tail = chrono[len(chrono) - n_tail:] if n_tail else chrono[:0]
    test = tail[distinct[present[tail]] >= min_distinct_items]
    test = test[len(test) - max_test_orders:] if len(test) > max_test_orders else test

    is_test = np.zeros(len(log.orders) + 1, bool)  # the extra slot keeps order -1 out of tests
    is_test[present[test]] = True
    cutoff = float(order_time[test[0]]) if len(test) else None
    keep = np.where(purchase, ~is_test[log.order], True if cutoff is None else log.time < cutoff)
    train, item_map, catalog = _subset(log, keep)

    queries, targets, query_order = _queries(
        log, rows, present[test], order_time[test], owner[test], item_map
    )
    dataset = {
        "orders": int(len(present)),
        "train_orders": int(len(present) - len(test)),
        "test_orders": int(len(test)),
        "queries": len(queries),
        "catalog": catalog,
        "items": catalog + int(np.unique(targets[targets >= catalog]).size),
    }
    return Split(
        train=train, queries=queries, targets=targets, query_order=query_order,
        test_orders=[log.orders[c] for c in present[test]], cutoff=cutoff, dataset=dataset,
        catalog=catalog,
    )


def _queries(
    log: EventLog, rows: np.ndarray, orders: np.ndarray, times: np.ndarray, owners: np.ndarray,
    item_map: np.ndarray,
) -> tuple[list[Query], np.ndarray, np.ndarray]:
    """Leave-one-out queries of the test ``orders`` (codes, oldest first)."""
    by_order = rows[np.argsort(log.order[rows], kind="stable")]
    order_keys = log.order[by_order]
    by_shopper = rows[np.argsort(log.shopper[rows], kind="stable")]  # time order kept within
    shopper_keys = log.shopper[by_shopper]
    queries: list[Query] = []
    targets: list[np.ndarray] = []
    query_order: list[np.ndarray] = []
    for position, (code, when, who) in enumerate(zip(orders, times, owners, strict=True)):
        lo, hi = np.searchsorted(order_keys, [code, code + 1])
        items = log.item[by_order[lo:hi]]
        _uniq, first = np.unique(items, return_index=True)
        codes = item_map[items[np.sort(first)]]  # distinct, in the order they were added
        history = History()
        if who >= 0:
            s_lo, s_hi = np.searchsorted(shopper_keys, [who, who + 1])
            own = by_shopper[s_lo:s_hi]
            own = own[: np.searchsorted(log.time[own], when, side="left")]
            history = History(
                item=item_map[log.item[own]], time=log.time[own], kind=log.kind[own], order=log.order[own]
            )
        for h in range(len(codes)):
            queries.append(Query(cart=np.delete(codes, h), history=history, time=float(when),
                                 shopper=int(who)))
        targets.append(codes)
        query_order.append(np.full(len(codes), position, np.int32))
    if not targets:
        return queries, np.zeros(0, np.int32), np.zeros(0, np.int32)
    return queries, np.concatenate(targets).astype(np.int32), np.concatenate(query_order)


def evaluate(
    scorers: Iterable[Scorer], split: Split, ks: Iterable[int] = range(1, 21)
) -> dict[str, object]:
    """Rank every query's hidden item with each (already fitted) scorer and average the metrics.

    Scorers must be fitted on ``split.train``: their scores have one column per catalog item.

    Returns:
        ``{"dataset": split.dataset, "results": {name: {"hr@10", "ndcg@10", "mrr@10", "hr@3",
        "hr_curve", "by_kind", "by_item_age"}}, "timings": {"eval_s": total, "by_method":
        {name: {"eval_s"}}}}``; ``by_kind`` splits the queries into ``repeat`` (the hidden item
        is one the shopper bought before) and ``explore`` (the rest), ``by_item_age`` picks the
        ``cold`` and ``new`` queries (see the module docstring), each with ``hr@10``,
        ``ndcg@10`` and ``queries``.
    """
    ks = list(ks)
    n_items, catalog = split.train.n_items, split.catalog
    counts = order_counts(split.train)
    priority = tie_priority(counts, split.train.items)
    step = max(1, _CELLS_PER_BATCH // max(n_items, 1))
    results: dict[str, object] = {}
    by_method: dict[str, dict[str, float]] = {}
    repeat = repeat_queries(split)
    in_catalog = split.targets < catalog
    headline_targets = np.where(in_catalog, split.targets, -1)
    cold = in_catalog & (counts[np.where(in_catalog, split.targets, 0)] <= COLD_MAX_ORDERS)
    new = ~in_catalog
    for scorer in scorers:
        started = time.perf_counter()
        ranks = [np.zeros(0)]
        new_ranks = [np.zeros(0)]
        for lo in range(0, len(split.queries), step):
            batch = split.queries[lo:lo + step]
            scores = np.asarray(scorer.score(batch))
            if scores.shape != (len(batch), n_items):
                raise ValueError(
                    f"{scorer.name} returned scores of shape {scores.shape}; expected "
                    f"{(len(batch), n_items)} (is it fitted on split.train?)"
                )
            carts = [q.cart for q in batch]
            ranks.append(target_ranks(scores[:, :catalog], headline_targets[lo:lo + step], carts,
                                      priority[:catalog]))
            fresh = np.flatnonzero(new[lo:lo + step])
            if fresh.size:  # against every item, the new ones included
                new_ranks.append(target_ranks(scores[fresh], split.targets[lo:lo + step][fresh],
                                              [carts[i] for i in fresh], priority))
        all_ranks = np.concatenate(ranks)
        results[scorer.name] = {
            **metrics_from_ranks(all_ranks, ks),
            "by_kind": {kind: _subset_metrics(all_ranks[mask])
                        for kind, mask in (("repeat", repeat), ("explore", ~repeat))},
            "by_item_age": {"cold": _subset_metrics(all_ranks[cold]),
                            "new": _subset_metrics(np.concatenate(new_ranks))},
        }
        by_method[scorer.name] = {"eval_s": round(time.perf_counter() - started, 3)}
    total = round(sum(t["eval_s"] for t in by_method.values()), 3)
    return {
        "dataset": dict(split.dataset),
        "results": results,
        "timings": {"eval_s": total, "by_method": by_method},
    }


#: The metrics of the repeat/explore and cold/new breakdowns.
KIND_METRICS = ("hr@10", "ndcg@10")


def _subset_metrics(ranks: np.ndarray) -> dict[str, float | int]:
    found = metrics_from_ranks(ranks, ())
    return {**{m: found[m] for m in KIND_METRICS}, "queries": int(len(ranks))}


def repeat_queries(split: Split) -> np.ndarray:
    """bool per query: the hidden item is one the shopper bought before (a repeat purchase)."""
    bought: dict[int, set[int]] = {}
    out = np.zeros(len(split.queries), bool)
    for row, (query, target) in enumerate(zip(split.queries, split.targets.tolist(), strict=True)):
        history = query.history
        mine = bought.get(id(history))
        if mine is None:
            items = np.asarray(history.item)
            kinds = np.asarray(history.kind)
            purchased = items[kinds == PURCHASE] if len(kinds) == len(items) else items
            mine = bought[id(history)] = set(purchased[purchased >= 0].tolist())
        out[row] = 0 <= target < split.catalog and target in mine
    return out


def fit_all(scorers: Sequence[Scorer], split: Split) -> dict[str, float]:
    """Fit each scorer on ``split.train``; returns the seconds each took, by name."""
    seconds: dict[str, float] = {}
    for scorer in scorers:
        started = time.perf_counter()
        scorer.fit(split.train)
        seconds[scorer.name] = round(time.perf_counter() - started, 3)
    return seconds
