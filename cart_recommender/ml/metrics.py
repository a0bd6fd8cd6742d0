"""Ranking metrics: the one place that turns scores into ranks and ranks into HR, NDCG and MRR.

Every method is ranked the same way (protocol v1): the candidates are the catalog minus the
cart; a hidden item outside the catalog is a miss; equal scores are ordered by training order
count (higher first), then by item id as a string (ascending). The tie rule is applied once, as
a per-item priority (:func:`tie_priority`), so no scorer has to encode it.

Example::

    priority = tie_priority(popularity, items)
    ranks = target_ranks(scores, targets, carts, priority)   # 1-based; inf for a miss
    metrics_from_ranks(ranks)["ndcg@10"]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

HEADLINE = ("hr@10", "ndcg@10", "mrr@10", "hr@3")
"""The metrics reported for every method, in table order."""


def tie_priority(popularity: np.ndarray, items: Sequence[str]) -> np.ndarray:
    """int64 ``(n_items,)``: 0 for the item that wins every tie, then 1, 2, ...

    Higher ``popularity`` (training order count) first, then ``items`` (ids) as strings,
    ascending (Python's code point order).
    """
    popularity = np.asarray(popularity)
    order = sorted(range(len(items)), key=lambda j: (-int(popularity[j]), str(items[j])))
    priority = np.empty(len(items), np.int64)
    priority[np.asarray(order, dtype=np.int64)] = np.arange(len(items))
    return priority


def target_ranks(
    scores: np.ndarray,
    targets: np.ndarray,
    carts: Sequence[np.ndarray],
    priority: np.ndarray,
) -> np.ndarray:
    """1-based rank of each query's hidden item among its candidates; ``inf`` for a miss.

    Args:
        scores: ``(n_queries, n_items)``; higher is better; NaN counts as the lowest score.
        targets: the hidden item code per query; -1 (outside the catalog) is a miss.
        carts: the cart item codes per query, excluded from the candidates (-1 entries ignored).
        priority: :func:`tie_priority` of the catalog.
    """
    scores = np.asarray(scores)
    n_queries, n_items = scores.shape
    targets = np.asarray(targets, dtype=np.int64)
    if len(targets) != n_queries or len(priority) != n_items:
        raise ValueError(
            f"scores {scores.shape} do not match {len(targets)} targets and {len(priority)} items"
        )
    if np.isnan(scores).any():
        scores = np.where(np.isnan(scores), -np.inf, scores)
    hit = (targets >= 0) & (targets < n_items)
    target = np.where(hit, targets, 0)
    rows = np.arange(n_queries)
    own = scores[rows, target][:, None]
    ahead = scores > own
    ahead |= (scores == own) & (priority[None, :] < priority[target][:, None])
    lengths = [len(c) for c in carts]
    if sum(lengths):  # cart items are no candidates
        cart_rows = np.repeat(rows, lengths)
        cart_items = np.concatenate([np.asarray(c, dtype=np.int64) for c in carts])
        known = (cart_items >= 0) & (cart_items < n_items)
        ahead[cart_rows[known], cart_items[known]] = False
    ranks = 1.0 + np.count_nonzero(ahead, axis=1)
    ranks[~hit] = np.inf
    return ranks


def metrics_from_ranks(ranks: np.ndarray, ks: Iterable[int] = range(1, 21)) -> dict[str, object]:
    """Averages over queries of HR@10, NDCG@10, MRR@10, HR@3, and ``hr_curve`` (HR@K for ``ks``).

    With no query at all every value is 0.0 (the dataset block says ``queries: 0``).
    """
    ranks = np.asarray(ranks, dtype=np.float64)

    def mean(values: np.ndarray) -> float:
        return float(values.mean()) if len(values) else 0.0

    def hr(k: int) -> float:
        return mean(ranks <= k)

    within = ranks <= 10
    safe = np.where(within, ranks, 1.0)
    return {
        "hr@10": hr(10),
        "ndcg@10": mean(np.where(within, 1.0 / np.log2(safe + 1.0), 0.0)),
        "mrr@10": mean(np.where(within, 1.0 / safe, 0.0)),
        "hr@3": hr(3),
        "hr_curve": [hr(k) for k in ks],
    }
