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
