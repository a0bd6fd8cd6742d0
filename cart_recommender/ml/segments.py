"""Shopper segments on plain arrays: who buys what, found by k-means. No Django.

A segment is a group of shoppers who behave alike. Each shopper who bought at least once is
described by

* recency, frequency and value: days since the last order, the number of orders, the average
  order value (log scale, so one wholesale buyer does not stretch the axis for everyone);
* how much of what they buy they bought before (the repeat share);
* their category mix: the share of their spend in each top-level category (the most bought
  :data:`MAX_GROUPS` of them, the rest as "Other");
* where the model places them, when a model is given: the first principal components of the
  vectors the sequence model computes for their history (what the model learnt they want).

Each block is standardised and weighted so that it counts as much as each other block,
whatever its number of columns. k-means (k-means++ seeds, the best of a few restarts) then
groups the shoppers, for every k from ``k_min`` to ``k_max``; the k kept is the one with the
highest mean silhouette (Rousseeuw 1987) on a fixed sample, among the groupings whose every
segment holds at least :data:`MIN_SHARE` of the shoppers: the grouping whose shoppers are
closest to their own segment relative to the nearest other one; a retrain keeps the previous
k while its silhouette is within :data:`K_TOLERANCE` of the best. A seed makes all of it
reproducible.

:func:`match` carries segments across retrains: a new group takes the identity of the previous
segment it shares most shoppers with (Jaccard overlap, largest first), so names and rules stay
with the shoppers they were written for. :func:`profile` describes each group in the words a
shop owner uses (size, share of revenue, average order value, top categories and products,
repeat share) and :func:`suggest_name` gives it a first name from that profile.

Example::

    features = shopper_features(log, now=log.time.max())
    seg = segment(features, seed=42)
    seg.k, seg.labels[:5]
    profiles = profile(log, features, seg.labels, seg.k)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from cart_recommender.ml.content import CATEGORY_SEPARATOR
from cart_recommender.ml.data import PURCHASE, EventLog, History

#: Top-level categories kept apart in the category mix; the rest is "Other".
MAX_GROUPS = 8
#: Principal components of the model's shopper vectors used as features.
VECTOR_COMPONENTS = 8
#: Shoppers the silhouette is measured on (a fixed sample: the cost is quadratic).
SILHOUETTE_SAMPLE = 3000
#: The smallest segment a grouping may have, as a share of the shoppers.
MIN_SHARE = 0.02
#: Restarts of k-means per k (see :func:`kmeans`).
RESTARTS = 10
#: Above this many shoppers the groups are found on a sample of this size (see :func:`segment`).
FIT_SAMPLE = 20_000
#: The previous retrain's k is kept while its silhouette is at most this much below the best.
K_TOLERANCE = 0.02
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
    value = getattr(log, "value", None)
    if value is None:
        return np.full(len(log), np.nan)
    return np.asarray(value, np.float64)


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


def feature_matrix(features: ShopperFeatures) -> np.ndarray:
    """The standardised, block-weighted matrix k-means runs on (see the module docstring)."""
    rfm = np.stack([
        np.log1p(features.recency_days), np.log1p(features.orders), np.log1p(features.aov),
        features.repeat_share,
    ], axis=1)
    blocks = [rfm]
    if features.mix.shape[1] > 1:
        blocks.append(features.mix)
    if features.vectors.shape[1]:
        blocks.append(features.vectors)
    out = []
    for block in blocks:
        z = _standardise(block)
        # every block weighs the same: its total variance is 1 whatever its width
        out.append(z / math.sqrt(max(block.shape[1], 1)))
    return np.concatenate(out, axis=1)


def _standardise(x: np.ndarray) -> np.ndarray:
    sd = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(sd > 1e-12, sd, 1.0)


@dataclass
class KMeansResult:
    labels: np.ndarray
    centroids: np.ndarray
    inertia: float


def kmeans(x: np.ndarray, k: int, rng: np.random.Generator, restarts: int = RESTARTS,
           iterations: int = 100) -> KMeansResult:
    """Lloyd's k-means from k-means++ seeds (Arthur & Vassilvitskii 2007); the best of ``restarts``.

    Ten restarts, not the usual three: on shoppers with weak structure (grocery households) three
    restarts found different groupings for different seeds; ten find the same one.
    """
    best: KMeansResult | None = None
    sq = np.einsum("ij,ij->i", x, x)
    for _ in range(restarts):
        result = lloyd(x, _plus_plus(x, k, rng, sq), iterations, sq)
        if best is None or result.inertia < best.inertia:
            best = result
    assert best is not None
    return best


def lloyd(x: np.ndarray, centroids: np.ndarray, iterations: int = 100,
          sq: np.ndarray | None = None) -> KMeansResult:
    """Lloyd's iterations from given centroids until no shopper changes group."""
    centroids = np.array(centroids, np.float64)
    k = len(centroids)
    sq = np.einsum("ij,ij->i", x, x) if sq is None else sq
    labels = np.zeros(len(x), np.int64)
    for step in range(iterations):
        dist = sq[:, None] - 2 * x @ centroids.T + np.einsum("ij,ij->i", centroids, centroids)[None, :]
        new = dist.argmin(axis=1)
        if step and np.array_equal(new, labels):
            break
        labels = new
        for c in range(k):
            members = labels == c
            if members.any():
                centroids[c] = x[members].mean(axis=0)
            else:  # an empty cluster takes the point farthest from its centroid
                far = int(dist[np.arange(len(x)), labels].argmax())
                centroids[c] = x[far]
                labels[far] = c
    inertia = float(((x - centroids[labels]) ** 2).sum())
    return KMeansResult(labels, centroids, inertia)


def _plus_plus(x: np.ndarray, k: int, rng: np.random.Generator, sq: np.ndarray) -> np.ndarray:
    centroids = np.empty((k, x.shape[1]))
    centroids[0] = x[rng.integers(len(x))]
    closest = sq - 2 * x @ centroids[0] + centroids[0] @ centroids[0]
    for c in range(1, k):
        weights = np.maximum(closest, 0.0)
        total = weights.sum()
        pick = rng.choice(len(x), p=weights / total) if total > 0 else rng.integers(len(x))
        centroids[c] = x[pick]
        closest = np.minimum(closest, sq - 2 * x @ centroids[c] + centroids[c] @ centroids[c])
    return centroids


def silhouette(x: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette coefficient of a labelling (exact, quadratic: pass a sample)."""
    ks = np.unique(labels)
    if len(ks) < 2:
        return -1.0
    d = np.sqrt(np.maximum(
        np.einsum("ij,ij->i", x, x)[:, None] - 2 * x @ x.T + np.einsum("ij,ij->i", x, x)[None, :], 0.0))
    n = len(x)
    mean_to = np.zeros((n, len(ks)))
    sizes = np.zeros(len(ks))
    for j, c in enumerate(ks):
        members = labels == c
        sizes[j] = members.sum()
        mean_to[:, j] = d[:, members].sum(axis=1)
    own = np.searchsorted(ks, labels)
    own_size = sizes[own]
    a = mean_to[np.arange(n), own] / np.maximum(own_size - 1, 1)
    others = mean_to / sizes[None, :]
    others[np.arange(n), own] = np.inf
    b = others.min(axis=1)
    s = np.where(own_size > 1, (b - a) / np.maximum(np.maximum(a, b), 1e-12), 0.0)
    return float(s.mean())


@dataclass
class Segmentation:
    """The grouping kept, and what the choice of k measured.

    Attributes:
        labels: int32 group of every shopper row of the features (0 .. k-1, largest group first).
        k: the number of groups kept.
        scores: mean silhouette per k tried.
        centroids: ``(k, d)`` in the standardised feature space.
    """

    labels: np.ndarray
    k: int
    scores: dict[int, float]
    centroids: np.ndarray


def segment(features: ShopperFeatures, seed: int = 0, k_min: int = 3, k_max: int = 12,
            k: int | None = None, min_share: float = MIN_SHARE, prefer_k: int | None = None,
            tolerance: float = K_TOLERANCE) -> Segmentation:
    """Group the shoppers (see the module docstring); ``k`` fixes the number instead of choosing it.

    A grouping with a segment of fewer than ``min_share`` of the shoppers is not kept (a few
    outliers are not a segment a shop can act on), unless no k avoids one. ``prefer_k`` (the
    previous retrain's k) is kept while its silhouette is within ``tolerance`` of the best: on
    data with weak structure the silhouettes of neighbouring k differ by noise, and a shop's
    segments should not split and merge from one week to the next over it.

    Raises:
        ValueError: fewer shoppers than groups asked for.
    """
    x = feature_matrix(features)
    n = len(x)
    k_max = min(k_max, n - 1) if k is None else k
    k_min = min(k_min, k_max) if k is None else k
    if k_min < 1 or n < max(k_min, 2):
        raise ValueError(f"{n} shoppers cannot make {k_min} segments")
    rng = np.random.default_rng(seed)
    # a large shop is grouped on a sample, then every shopper joins the nearest group and
    # Lloyd's iterations finish on all of them: the cost stops growing with the shop
    fit = np.sort(rng.choice(n, size=FIT_SAMPLE, replace=False)) if n > FIT_SAMPLE else np.arange(n)
    xf = x[fit]
    sample = np.sort(rng.choice(len(fit), size=min(len(fit), SILHOUETTE_SAMPLE), replace=False))
    scores: dict[int, float] = {}
    results: dict[int, tuple[bool, float, KMeansResult]] = {}
    best: tuple[bool, float, int, KMeansResult] | None = None
    for kk in range(k_min, k_max + 1):
        result = kmeans(xf, kk, np.random.default_rng([seed, kk]))
        if len(fit) < n:
            result = lloyd(x, result.centroids)
            fitted = result.labels[fit]
        else:
            fitted = result.labels
        score = silhouette(xf[sample], fitted[sample]) if kk > 1 else 0.0
        scores[kk] = round(score, 4)
        big_enough = bool(np.bincount(result.labels, minlength=kk).min() >= min_share * n)
        results[kk] = (big_enough, score, result)
        if best is None or (big_enough, score) > (best[0], best[1] + 1e-9):
            best = (big_enough, score, kk, result)
    assert best is not None
    if prefer_k is not None and prefer_k in results and prefer_k != best[2]:
        ok, score, result = results[prefer_k]
        if ok >= best[0] and score >= best[1] - tolerance:
            best = (ok, score, prefer_k, result)
    _ok, _score, kept, result = best
    # number groups by size, largest first (stable, so a seed gives the same numbering)
    sizes = np.bincount(result.labels, minlength=kept)
    order = np.lexsort((np.arange(kept), -sizes))
    rank = np.empty(kept, np.int64)
    rank[order] = np.arange(kept)
    return Segmentation(labels=rank[result.labels].astype(np.int32), k=kept, scores=scores,
                        centroids=result.centroids[order])


def match(previous: Mapping[str, int], current: Mapping[str, int],
          min_jaccard: float = 0.2) -> dict[int, int]:
    """Which previous segment each current group continues: ``{group: previous segment}``.

    ``previous`` and ``current`` map shopper keys to segment ids / group numbers. Pairs are taken
    by Jaccard overlap of their shoppers, largest first, each side at most once; a group whose
    best remaining overlap is under ``min_jaccard`` is new (it gets no entry).
    """
    prev_sizes: dict[int, int] = {}
    for seg in previous.values():
        prev_sizes[seg] = prev_sizes.get(seg, 0) + 1
    cur_sizes: dict[int, int] = {}
    both: dict[tuple[int, int], int] = {}
    for key, group in current.items():
        cur_sizes[group] = cur_sizes.get(group, 0) + 1
        seg = previous.get(key)
        if seg is not None:
            both[(group, seg)] = both.get((group, seg), 0) + 1
    ranked = sorted(
        ((n / (cur_sizes[g] + prev_sizes[s] - n), g, s) for (g, s), n in both.items()),
        key=lambda t: (-t[0], t[1], t[2]),
    )
    out: dict[int, int] = {}
    taken: set[int] = set()
    for jaccard, group, seg in ranked:
        if jaccard < min_jaccard:
            break
        if group in out or seg in taken:
            continue
        out[group] = seg
        taken.add(seg)
    return out


def moved(previous: Mapping[str, int], current: Mapping[str, int]) -> tuple[int, int]:
    """``(shoppers in both, of whom in another segment now)``; both map keys to segment ids."""
    common = [key for key in current if key in previous]
    return len(common), sum(1 for key in common if previous[key] != current[key])


def profile(log: EventLog, features: ShopperFeatures, labels: np.ndarray, k: int,
            top: int = 5) -> list[dict[str, object]]:
    """What each group is, as plain numbers (JSON-ready), in group order.

    Every figure is counted over the group's shoppers' purchases in ``log``: ``shoppers``,
    ``shopper_share``, ``revenue``, ``revenue_share``, ``orders``, ``aov`` (revenue / orders),
    ``orders_per_shopper``, ``median_recency_days``, ``repeat_share`` (of purchase lines),
    ``mix`` (spend share per category group, in ``features.groups`` order), ``top_categories``
    and ``top_products`` (``[id or name, share]``: share of the group's spend; products by
    their number of purchase lines, with the share of the group's lines).
    """
    group_of = np.full(len(log.shoppers), -1, np.int64)
    group_of[features.codes] = labels
    buy = np.flatnonzero((log.kind == PURCHASE) & (log.shopper >= 0))
    priced = np.isfinite(purchase_values(log)[buy])
    g_of_line = group_of[log.shopper[buy]]
    total_revenue = float(features.spend.sum()) or 1.0
    out: list[dict[str, object]] = []
    for g in range(k):
        rows = labels == g
        lines = g_of_line == g
        items = log.item[buy[lines]]
        counts = np.bincount(items, minlength=log.n_items)
        top_items = np.lexsort((np.arange(log.n_items), -counts))[:top]
        revenue = float(features.spend[rows].sum())
        orders = int(features.orders[rows].sum())
        mix = (features.mix[rows].T @ features.spend[rows] / max(revenue, 1e-12)
               if features.groups else np.zeros(0))
        named = [i for i, g in enumerate(features.groups) if g != OTHER]
        top_groups = sorted(named, key=lambda i: (-mix[i], i))[:3]
        out.append({
            "shoppers": int(rows.sum()),
            "shopper_share": round(float(rows.mean()), 4),
            "revenue": round(revenue, 2),
            "revenue_share": round(revenue / total_revenue, 4),
            "orders": orders,
            "aov": round(revenue / max(orders, 1), 2),
            "orders_per_shopper": round(orders / max(int(rows.sum()), 1), 2),
            "median_recency_days": round(float(np.median(features.recency_days[rows])), 1),
            "repeat_share": round(float(features.repeat_share[rows] @ features.lines[rows])
                                  / max(int(features.lines[rows].sum()), 1), 4),
            "mix": [round(float(v), 4) for v in mix],
            "top_categories": [[features.groups[i], round(float(mix[i]), 4)]
                               for i in top_groups if mix[i] > 0],
            "top_products": [[log.items[int(i)], round(float(counts[i]) / max(int(lines.sum()), 1), 4)]
                             for i in top_items if counts[i] > 0],
            "priced": bool(priced.any()),
        })
    return out


def suggest_name(p: Mapping[str, object], overall: Mapping[str, object], taken: Sequence[str] = ()) -> str:
    """A first name from a profile, compared with the whole shop's quartiles (``overall``, from
    :func:`overall_profile`); staff rename it freely. Example: "Lapsed one-time buyers, big orders".
    """
    q = overall
    per = float(p["orders_per_shopper"])  # type: ignore[arg-type]
    if per < 1.5:
        who = "one-time buyers"
    elif per >= q["orders_q3"]:  # type: ignore[operator]
        who = "regulars"
    else:
        who = "occasional buyers"
    recency = float(p["median_recency_days"])  # type: ignore[arg-type]
    when = "lapsed " if recency >= q["recency_q3"] else "recent " if recency <= q["recency_q1"] else ""  # type: ignore[operator]
    name = (when + who).capitalize()
    aov = float(p["aov"])  # type: ignore[arg-type]
    if aov >= q["aov_q3"]:  # type: ignore[operator]
        name += ", big orders"
    elif aov <= q["aov_q1"]:  # type: ignore[operator]
        name += ", small orders"
    mix = [float(v) for v in p.get("mix") or []]  # type: ignore[attr-defined]
    shop_mix = [float(v) for v in q.get("mix") or []]  # type: ignore[attr-defined]
    groups = list(q.get("groups") or [])  # type: ignore[call-overload]
    lifts = [(m / s, i) for i, (m, s) in enumerate(zip(mix, shop_mix, strict=False))
             if s > 0 and groups[i] != OTHER]
    if lifts:
        lift, i = max(lifts)
        if lift >= 1.3 and mix[i] >= 0.1:
            label = groups[i].title() if groups[i].isupper() else groups[i]
            name += f", mostly {label}" if mix[i] >= 0.4 else f", more {label}"
    base, n = name, 2
    while name in taken:
        name = f"{base} {n}"
        n += 1
    return name


def overall_profile(features: ShopperFeatures) -> dict[str, object]:
    """The shop-wide figures :func:`suggest_name` compares a group with: per-shopper quartiles of
    orders, recency and average order value, and the spend share of each category group."""
    def quartiles(x: np.ndarray) -> tuple[float, float]:
        if not len(x):
            return 0.0, 0.0
        q1, q3 = np.quantile(x, [0.25, 0.75])
        return float(q1), float(q3)

    o1, o3 = quartiles(features.orders.astype(np.float64))
    r1, r3 = quartiles(features.recency_days)
    a1, a3 = quartiles(features.aov)
    spend = float(features.spend.sum())
    mix = features.mix.T @ features.spend / spend if spend > 0 and features.groups else np.zeros(0)
    return {
        "orders_q1": o1, "orders_q3": max(o3, 2.0), "recency_q1": r1, "recency_q3": r3,
        "aov_q1": a1, "aov_q3": a3, "groups": list(features.groups),
        "mix": [round(float(v), 4) for v in mix],
    }
