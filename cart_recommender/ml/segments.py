"""Shopper segments on plain arrays: who buys what, found by k-means. No Django.

A segment is a group of shoppers who behave alike. Each shopper who bought at least once is
described by

* recency, frequency and value: days since the last order, the number of orders, the average
  order value (log scale, so one wholesale buyer does not stretch the axis for everyone);
* how much of what they buy they bought before (the repeat share);
* their category mix: the share of their spend in each top-level category (the most bought
  ``MAX_GROUPS`` of them, the rest as "Other");
* where the model places them, when a model is given: the first principal components of the
  vectors the sequence model computes for their history (what the model learnt they want).

The features are :mod:`.shopper_features`'s. Each block is standardised and weighted so that
it counts as much as each other block, whatever its number of columns. k-means
(:mod:`.clustering`: k-means++ seeds, the best of ten restarts) then groups the shoppers, for
every k from ``k_min`` to ``k_max``; the k kept is the one with the highest mean silhouette
(Rousseeuw 1987) on a fixed sample, among the groupings whose every segment holds at least
:data:`MIN_SHARE` of the shoppers: the grouping whose shoppers are closest to their own segment
relative to the nearest other one; a retrain keeps the previous k while its silhouette is
within :data:`K_TOLERANCE` of the best. A seed makes all of it reproducible.

:func:`match` carries segments across retrains: a new group takes the identity of the previous
segment it shares most shoppers with (Jaccard overlap, largest first), so names and rules stay
with the shoppers they were written for. :mod:`.segment_profiles` describes each group in the
words a shop owner uses (size, share of revenue, average order value, top categories and
products, repeat share) and suggests a first name from that profile.

Example::

    features = shopper_features(log, now=log.time.max())
    seg = segment(features, seed=42)
    seg.k, seg.labels[:5]
    profiles = segment_profiles.profile(log, features, seg.labels, seg.k)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from cart_recommender.ml.clustering import KMeansResult, kmeans, lloyd, silhouette
from cart_recommender.ml.shopper_features import ShopperFeatures

#: Shoppers the silhouette is measured on (a fixed sample: the cost is quadratic).
SILHOUETTE_SAMPLE = 3000
#: The smallest segment a grouping may have, as a share of the shoppers.
MIN_SHARE = 0.02
#: Above this many shoppers the groups are found on a sample of this size (see :func:`segment`).
FIT_SAMPLE = 20_000
#: Standardised features are clipped at this many standard deviations (see :func:`_standardise`).
CLIP = 3.0
#: The previous retrain's k is kept while its silhouette is at most this much below the best.
K_TOLERANCE = 0.02


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
    """z-scores clipped at :data:`CLIP` standard deviations: a handful of extreme shoppers (one
    order in a shop of weekly households, a near-empty history the model places apart) would
    otherwise make a segment of their own."""
    sd = x.std(axis=0)
    return np.clip((x - x.mean(axis=0)) / np.where(sd > 1e-12, sd, 1.0), -CLIP, CLIP)


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


def moved_between(previous: Mapping[str, int], current: Mapping[str, int]) -> tuple[int, int]:
    """``(shoppers in both, of whom in another segment now)``; both map keys to segment ids."""
    common = [key for key in current if key in previous]
    return len(common), sum(1 for key in common if previous[key] != current[key])
