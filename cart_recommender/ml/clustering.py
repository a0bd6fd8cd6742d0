"""k-means and the silhouette on plain arrays (NumPy only): what :mod:`.segments` groups with.

Example::

    result = kmeans(x, 4, np.random.default_rng(0))
    silhouette(x, result.labels)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Restarts of k-means per k (see :func:`kmeans`).
RESTARTS = 10


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
