"""What segments read of each shopper, on plain arrays: recency, frequency, value, repeat share,
category mix, and where the model places them. No Django.

Example::

    features = shopper_features(log, now=log.time.max())
    features.orders[:3], features.groups
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cart_recommender.ml.content import CATEGORY_SEPARATOR
from cart_recommender.ml.data import PURCHASE, EventLog, History

#: Top-level categories kept apart in the category mix; the rest is "Other".
MAX_GROUPS = 8
#: Principal components of the model's shopper vectors used as features.
VECTOR_COMPONENTS = 8
OTHER = "Other"
DAY = 86400.0


@dataclass
class ShopperFeatures:
    """One row per shopper who bought at least once (codes into ``log.shoppers``).

    Attributes:
        codes: int32 shopper codes.
        orders: int64 orders per shopper; ``lines``: purchase events per shopper.
        spend: float64 money spent (quantity x unit price where the price is known; where no
            purchase has a price, the number of purchase lines, so value still means "more").
        recency_days: days from the last order to ``now``.
        repeat_share: share of the purchase lines whose product the shopper had bought in an
            earlier order.
        mix: float64 ``(n, len(groups))`` share of spend per category group; rows sum to 1
            (all zero without categories).
        groups: the category groups' names, ``"Other"`` last when there is one.
        vectors: ``(n, c)`` principal components of the model's shopper vectors, or ``(n, 0)``.
        item_group: int32 group of every item code (-1: no category).
    """

    codes: np.ndarray
    orders: np.ndarray
    lines: np.ndarray
    spend: np.ndarray
    recency_days: np.ndarray
    repeat_share: np.ndarray
    mix: np.ndarray
    groups: list[str]
    item_group: np.ndarray
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    @property
    def aov(self) -> np.ndarray:
        return self.spend / np.maximum(self.orders, 1)


def purchase_values(log: EventLog) -> np.ndarray:
    """Money per event (NaN for none or unknown); the log's ``value`` where it has one."""
    if log.value is None:
        return np.full(len(log), np.nan)
    return np.asarray(log.value, np.float64)


def category_groups(log: EventLog, max_groups: int = MAX_GROUPS) -> tuple[np.ndarray, list[str]]:
    """Every item's top-level category group and the groups' names (by purchases, most first).

    Where every product shares one top level (a shop whose tree starts at "All"), the second
    level is used instead.
    """
    n = log.n_items
    if log.content is None or not any(log.content.category):
        return np.full(n, -1, np.int32), []
    sep = CATEGORY_SEPARATOR.strip()
    paths = [[p.strip() for p in c.split(sep)] if c else [] for c in log.content.category]
    level = 0
    tops = {p[0] for p in paths if p}
    if len(tops) == 1 and any(len(p) > 1 for p in paths):
        level = 1
    names = [p[level] if len(p) > level and p[level] else "" for p in paths]
    bought = np.bincount(log.item[log.kind == PURCHASE], minlength=n)
    weight: dict[str, int] = {}
    for code, name in enumerate(names):
        if name:
            weight[name] = weight.get(name, 0) + int(bought[code])
    ranked = sorted(weight, key=lambda g: (-weight[g], g))
    kept = ranked[:max_groups]
    groups = kept + ([OTHER] if len(ranked) > max_groups else [])
    index = {g: i for i, g in enumerate(kept)}
    other = len(kept) if len(ranked) > max_groups else -1
    item_group = np.asarray([index.get(name, other) if name else -1 for name in names], np.int32)
    return item_group, groups


def shopper_features(log: EventLog, now: float | None = None,
                     max_groups: int = MAX_GROUPS) -> ShopperFeatures:
    """The features of every shopper with at least one order (see the module docstring)."""
    buy = np.flatnonzero((log.kind == PURCHASE) & (log.shopper >= 0))
    now = float(log.time.max()) if now is None and len(log) else float(now or 0.0)
    values = purchase_values(log)[buy]
    priced = np.isfinite(values)
    money = np.where(priced, values, 0.0) if priced.any() else np.ones(len(buy))
    who = log.shopper[buy]
    codes, inverse = np.unique(who, return_inverse=True)
    n = len(codes)
    spend = np.bincount(inverse, weights=money, minlength=n)
    lines = np.bincount(inverse, minlength=n).astype(np.int64)
    last = np.full(n, -np.inf)
    np.maximum.at(last, inverse, log.time[buy])
    order_codes = log.order[buy]
    pairs = np.unique(np.stack([inverse, order_codes], axis=1), axis=0) if n else np.zeros((0, 2), np.int64)
    orders = np.bincount(pairs[:, 0], minlength=n).astype(np.int64) if n else np.zeros(0, np.int64)
    repeat = _repeat_lines(inverse, log.item[buy], order_codes, log.time[buy])
    repeat_share = np.bincount(inverse, weights=repeat, minlength=n) / np.maximum(lines, 1)
    item_group, groups = category_groups(log, max_groups)
    mix = np.zeros((n, len(groups)))
    if groups:
        g = item_group[log.item[buy]]
        ok = g >= 0
        np.add.at(mix, (inverse[ok], g[ok]), money[ok])
        total = mix.sum(axis=1, keepdims=True)
        mix = np.divide(mix, total, out=np.zeros_like(mix), where=total > 0)
    return ShopperFeatures(
        codes=codes.astype(np.int32), orders=orders, lines=lines, spend=spend,
        recency_days=np.maximum(now - last, 0.0) / DAY if n else np.zeros(0),
        repeat_share=repeat_share, mix=mix, groups=groups, item_group=item_group,
        vectors=np.zeros((n, 0)),
    )


def _repeat_lines(shopper: np.ndarray, item: np.ndarray, order: np.ndarray, time: np.ndarray) -> np.ndarray:
    """1.0 for a purchase line whose (shopper, item) appeared in an earlier order of theirs."""
    out = np.zeros(len(item))
    if not len(item):
        return out
    # sort by shopper, item, time, order: a line repeats when an earlier row of the same pair
    # belongs to another order
    perm = np.lexsort((order, time, item, shopper))
    s, it, o = shopper[perm], item[perm], order[perm]
    same_pair = np.r_[False, (s[1:] == s[:-1]) & (it[1:] == it[:-1])]
    # the first order of each (shopper, item) pair: the order of the pair's first row
    starts = np.maximum.accumulate(np.where(same_pair, 0, np.arange(len(perm))))
    first_order = o[starts]
    out[perm] = (same_pair & (o != first_order)).astype(np.float64)
    return out


def shopper_histories(log: EventLog, codes: np.ndarray, item_map: np.ndarray) -> list[History]:
    """Each shopper's events (oldest first) as a :class:`History` in another catalog's codes.

    ``item_map`` maps the log's item codes to the model's (-1: an item the model does not know,
    which the model then skips).
    """
    rows = np.flatnonzero(log.shopper >= 0)
    rows = rows[np.argsort(log.shopper[rows], kind="stable")]  # time order kept within
    keys = log.shopper[rows]
    out = []
    for code in codes:
        lo, hi = np.searchsorted(keys, [code, code + 1])
        own = rows[lo:hi]
        out.append(History(item=item_map[log.item[own]].astype(np.int32), time=log.time[own],
                           kind=log.kind[own], order=log.order[own]))
    return out


def principal_components(vectors: np.ndarray, components: int = VECTOR_COMPONENTS) -> np.ndarray:
    """The first ``components`` principal components of ``vectors`` (rows: shoppers)."""
    x = np.asarray(vectors, np.float64)
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] == 0:
        return np.zeros((x.shape[0] if x.ndim == 2 else 0, 0))
    x = x - x.mean(axis=0)
    _u, _s, vt = np.linalg.svd(x, full_matrices=False)
    c = min(components, vt.shape[0])
    return x @ vt[:c].T
