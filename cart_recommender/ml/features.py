"""Turning an :class:`~cart_recommender.ml.data.EventLog` into the sequence model's inputs.

Shared by training (Keras) and serving (NumPy), so a served query is encoded exactly like a
training example: the cart as an unordered, padded set of item codes, and the shopper's
history as their most recently touched *distinct* items, each with how long ago, how often
and how (last event kind) it was touched. Deduplicating keeps years of repeat purchases in a
short, fixed-size window, which is where most of the signal of a returning shopper lies.

Nothing here imports Keras or Django.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cart_recommender.ml.data import PURCHASE, EventLog, History

AGE_BUCKETS = 16  # log2(1 + hours) buckets: the last one holds everything older than ~3.7 years
#: Features per item of the repeat window (see :func:`repeat_window`).
REPEAT_FEATURES = 7
#: Decays of the two decayed purchase frequencies among them (per order since).
REPEAT_DECAYS = (0.95, 0.7)
COUNT_BUCKETS = 8  # log2(count) buckets
N_KINDS = 5


@dataclass
class Baskets:
    """Purchase orders as CSR-style arrays: order ``b`` holds ``item[start[b]:start[b + 1]]``.

    Items within an order are distinct and sorted; orders are sorted by time.
    """

    start: np.ndarray  # int64 (n_baskets + 1,)
    item: np.ndarray  # int32
    time: np.ndarray  # float64 (n_baskets,), the order's first event
    shopper: np.ndarray  # int32 (n_baskets,), -1 for anonymous

    def __len__(self) -> int:
        return int(self.time.shape[0])

    def sizes(self) -> np.ndarray:
        return np.diff(self.start)


def baskets_from_log(log: EventLog) -> Baskets:
    """Group the purchase events of ``log`` into orders of distinct items."""
    p = np.flatnonzero((log.kind == PURCHASE) & (log.order >= 0))
    if p.size == 0:
        return Baskets(np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0), np.zeros(0, np.int32))
    order, item, time, shopper = log.order[p], log.item[p], log.time[p], log.shopper[p]
    first = np.full(len(log.orders), np.inf)
    np.minimum.at(first, order, time)
    # Sort events by (order time, order, item) and drop repeated items within an order.
    perm = np.lexsort((item, order, first[order]))
    order, item, shopper = order[perm], item[perm], shopper[perm]
    keep = np.ones(order.size, bool)
    keep[1:] = (order[1:] != order[:-1]) | (item[1:] != item[:-1])
    order, item, shopper = order[keep], item[keep], shopper[keep]
    new = np.ones(order.size, bool)
    new[1:] = order[1:] != order[:-1]
    heads = np.flatnonzero(new)
    start = np.append(heads, order.size).astype(np.int64)
    return Baskets(start, item.astype(np.int32), first[order[heads]], shopper[heads].astype(np.int32))


@dataclass
class CoPurchase:
    """Top-N co-purchase neighbours per item, with the counts the model turns into features.

    Attributes:
        neighbour: int32 (n_items + 1, N); padded with ``n_items`` (the pad row is all padding).
        count: float32 (n_items + 1, N); baskets holding both items.
        item_count: float32 (n_items + 1,); counted baskets holding the item.
        max_basket: baskets with more distinct items were not counted (bulk orders say little
            about what goes together and cost quadratic time).
    """

    neighbour: np.ndarray
    count: np.ndarray
    item_count: np.ndarray
    max_basket: int


def co_purchase(
    baskets: Baskets, n_items: int, top_n: int, max_basket: int = 100, exclude: np.ndarray | None = None
) -> CoPurchase:
    """Count item pairs over baskets and keep each item's ``top_n`` most frequent partners.

    ``exclude``: basket rows left out of the counts (the validation baskets while training).
    """
    sizes = baskets.sizes()
    item_count = np.zeros(n_items + 1, np.float32)
    keep = (sizes >= 1) & (sizes <= max_basket)
    if exclude is not None:
        keep[exclude] = False
    counted = np.flatnonzero(keep)
    keys: list[np.ndarray] = []
    chunk: list[np.ndarray] = []
    chunk_len = 0
    for b in counted:
        items = baskets.item[baskets.start[b] : baskets.start[b + 1]].astype(np.int64)
        item_count[items] += 1
        if items.size < 2:
            continue
        pair = (items[:, None] * n_items + items[None, :]).ravel()
        chunk.append(pair[pair // n_items != pair % n_items])
        chunk_len += chunk[-1].size
        if chunk_len > 5_000_000:
            keys.append(_count_keys(np.concatenate(chunk)))
            chunk, chunk_len = [], 0
    if chunk:
        keys.append(_count_keys(np.concatenate(chunk)))
    neighbour = np.full((n_items + 1, top_n), n_items, np.int32)
    count = np.zeros((n_items + 1, top_n), np.float32)
    if keys:
        key = np.concatenate([k[0] for k in keys])
        cnt = np.concatenate([k[1] for k in keys])
        key, inverse = np.unique(key, return_inverse=True)
        cnt = np.bincount(inverse, weights=cnt).astype(np.float32)
        src, dst = key // n_items, key % n_items
        # Within each source item, most frequent partner first (ties: lower code first).
        order = np.lexsort((dst, -cnt, src))
        src, dst, cnt = src[order], dst[order], cnt[order]
        first = np.searchsorted(src, src, side="left")
        rank = np.arange(src.size) - first
        keep = rank < top_n
        neighbour[src[keep], rank[keep]] = dst[keep]
        count[src[keep], rank[keep]] = cnt[keep]
    return CoPurchase(neighbour, count, item_count, max_basket)


def _count_keys(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    uniq, counts = np.unique(keys, return_counts=True)
    return uniq, counts.astype(np.float64)


def age_bucket(age_seconds: np.ndarray) -> np.ndarray:
    hours = np.maximum(age_seconds, 0.0) / 3600.0
    return np.minimum(np.floor(np.log2(1.0 + hours)), AGE_BUCKETS - 1).astype(np.int32)


def count_bucket(count: np.ndarray) -> np.ndarray:
    return np.minimum(np.floor(np.log2(np.maximum(count, 1))), COUNT_BUCKETS - 1).astype(np.int32)


def history_tokens(
    item: np.ndarray, time: np.ndarray, kind: np.ndarray, now: float, length: int, pad: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Encode a shopper's earlier events (oldest first) as ``length`` distinct-item tokens.

    Returns ``(item, age_bucket, count_bucket, kind)`` arrays of shape ``(length,)``, most
    recent item first, padded with ``pad`` (bucket/kind 0 in padded slots).
    """
    out_item = np.full(length, pad, np.int32)
    out_age = np.zeros(length, np.int32)
    out_count = np.zeros(length, np.int32)
    out_kind = np.zeros(length, np.int32)
    if item.size == 0 or length == 0:
        return out_item, out_age, out_count, out_kind
    rev_item = item[::-1]
    uniq, first_rev, counts = np.unique(rev_item, return_index=True, return_counts=True)
    # first_rev indexes the most recent occurrence of each distinct item.
    recent = np.argsort(first_rev, kind="stable")[:length]
    last = item.size - 1 - first_rev[recent]
    m = recent.size
    out_item[:m] = uniq[recent]
    out_age[:m] = age_bucket(now - time[last])
    out_count[:m] = count_bucket(counts[recent])
    out_kind[:m] = kind[last]
    return out_item, out_age, out_count, out_kind


def history_from(history: History) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return history.item, history.time, history.kind


def cart_tokens(cart: np.ndarray, length: int, pad: int) -> np.ndarray:
    """The first ``length`` distinct cart items, padded with ``pad``."""
    out = np.full(length, pad, np.int32)
    _, first = np.unique(np.asarray(cart, np.int64), return_index=True)
    distinct = np.asarray(cart)[np.sort(first)][:length]
    out[: distinct.size] = distinct
    return out


def baskets_of(history: History, n_items: int) -> list[np.ndarray]:
    """The distinct known items of each earlier order of a history, oldest order first.

    Purchases without an order code (-1) count as an order of their own each.
    """
    return [items for items, _time in timed_baskets(history, n_items)]


def timed_baskets(history: History, n_items: int) -> list[tuple[np.ndarray, float]]:
    """:func:`baskets_of` with each order's time (its first event's)."""
    items = np.asarray(history.item, dtype=np.int64)
    if not len(items):
        return []
    kinds = np.asarray(history.kind)
    orders = np.asarray(history.order, dtype=np.int64)
    times = np.asarray(history.time, dtype=np.float64)
    keep = (items >= 0) & (items < n_items)
    if len(kinds) == len(items):
        keep &= kinds == PURCHASE
    if len(orders) != len(items):
        orders = np.full(len(items), -1)
    positions = np.flatnonzero(keep)
    if not len(positions):
        return []
    keys = np.where(orders[positions] >= 0, orders[positions], -1 - positions)
    # the history is oldest first: an order comes where its first event does
    _unique, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    rank = np.empty(len(first), np.int64)
    chronological = np.argsort(first, kind="stable")
    rank[chronological] = np.arange(len(first))
    basket = rank[inverse]
    order = np.lexsort((items[positions], basket))
    sorted_items, sorted_basket = items[positions][order], basket[order]
    bounds = np.flatnonzero(np.r_[True, sorted_basket[1:] != sorted_basket[:-1], True])
    when = times[positions][first[chronological]] if len(times) == len(items) else np.zeros(len(first))
    return [(np.unique(sorted_items[lo:hi]), float(when[b]))
            for b, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True))]


def decayed_frequency(baskets: list[np.ndarray], n_items: int, decay: float) -> np.ndarray:
    """Each basket weighted ``decay ** (baskets after it)``, normalised to sum to 1."""
    out = np.zeros(n_items, np.float64)
    if not baskets:
        return out
    weights = decay ** np.arange(len(baskets) - 1, -1, -1, dtype=np.float64)
    for basket, weight in zip(baskets, weights, strict=True):
        out[basket] += weight
    return out / weights.sum()


class RepeatState:
    """A shopper's purchase history summarised per item, updated one order at a time.

    Gives the repeat window of :func:`repeat_window`'s inputs at any point, so a training run
    walks each shopper's orders once (the window before order ``j`` from the state after
    ``j - 1`` orders) and serving summarises a history the same way.
    """

    def __init__(self, items: np.ndarray) -> None:
        self.items = np.asarray(items, np.int64)  # every item the shopper ever buys, sorted
        u = len(self.items)
        self.decayed = np.zeros((len(REPEAT_DECAYS), u))
        self.weight = np.zeros(len(REPEAT_DECAYS))
        self.count = np.zeros(u)
        self.last_order = np.full(u, -1.0)
        self.last_time = np.zeros(u)
        self.orders = 0

    @classmethod
    def of(cls, baskets: list[tuple[np.ndarray, float]]) -> RepeatState:
        """The state after every one of ``baskets`` (oldest first), computed at once.

        What :meth:`add` reaches order by order, as sums over the orders (serving reads a whole
        history per request; this is several times quicker than the walk for a weekly
        household's year). ``tests/ml/test_repeat.py`` holds the two equal.
        """
        bought = np.concatenate([b for b, _t in baskets]).astype(np.int64)
        order = np.repeat(np.arange(len(baskets)), [len(b) for b, _t in baskets])
        state = cls(np.unique(bought))
        u, n = len(state.items), len(baskets)
        where = np.searchsorted(state.items, bought)
        for d, decay in enumerate(REPEAT_DECAYS):
            state.decayed[d] = np.bincount(where, weights=decay ** (n - 1.0 - order), minlength=u)
            state.weight[d] = float((decay ** np.arange(n, dtype=np.float64)).sum())
        state.count = np.bincount(where, minlength=u).astype(np.float64)
        last = np.zeros(u, np.int64)
        np.maximum.at(last, where, order)
        state.last_order = last.astype(np.float64)
        state.last_time = np.array([t for _b, t in baskets], np.float64)[last]
        state.orders = n
        return state

    def add(self, basket: np.ndarray, time: float) -> None:
        where = np.searchsorted(self.items, basket)
        for d, decay in enumerate(REPEAT_DECAYS):
            self.decayed[d] *= decay
            self.decayed[d, where] += 1.0
            self.weight[d] = self.weight[d] * decay + 1.0
        self.count[where] += 1
        self.last_order[where] = self.orders
        self.last_time[where] = time
        self.orders += 1

    def window(self, now: float, length: int, pad: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``length`` items most likely bought again (by the first decayed frequency) and
        their features: ``(item (length,) int32, features (length, REPEAT_FEATURES) float32)``."""
        out_item = np.full(length, pad, np.int32)
        out_feat = np.zeros((length, REPEAT_FEATURES), np.float32)
        bought = np.flatnonzero(self.count > 0)
        if not len(bought) or length == 0:
            return out_item, out_feat
        score = self.decayed[0, bought]
        top = bought[np.lexsort((-self.count[bought], -score))[:length]]
        m = len(top)
        out_item[:m] = self.items[top]
        n_orders = float(self.orders)
        features = [self.decayed[d, top] / self.weight[d] for d in range(len(REPEAT_DECAYS))]
        features += [
            np.log1p(self.count[top]),
            self.count[top] / n_orders,
            np.log1p(n_orders - 1 - self.last_order[top]),  # orders since it was last bought
            np.log1p(np.maximum(now - self.last_time[top], 0.0) / 86400.0) / 5.0,
            np.full(m, np.log1p(n_orders) / 5.0),
        ]
        out_feat[:m] = np.stack(features, axis=1)
        return out_item, out_feat


def repeat_window(history: History, now: float, length: int, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    """The repeat window of a history (serving and evaluation queries)."""
    baskets = timed_baskets(history, n_items)
    if not baskets or length == 0:
        return np.full(length, n_items, np.int32), np.zeros((length, REPEAT_FEATURES), np.float32)
    return RepeatState.of(baskets).window(now, length, n_items)
