"""Item-to-item regression weights (EASE) that the sequence model adds to its scores.

Counting co-purchases (the ``copurchase`` baseline, and the model's own co-purchase term)
treats every cart item as independent evidence. On real carts that is far from true: a cart
of twenty related gifts says the same thing twenty times. EASE (Steck 2019, "Embarrassingly
Shallow Autoencoders for Sparse Data", WWW) fits, in closed form, a ridge regression of every
item on all the others over the training baskets, so correlated cart items share the credit
and an item that is explained by the cart's other items gets a negative weight. Measured with
protocol v1 on Online Retail (``benchmarks/item_item.py``) it ranks the hidden item far better
than co-purchase counts (HR@10 0.222 against 0.073), so the model uses it as one more term.

The regression needs the inverse of an ``items x items`` matrix, so it covers the
``max_items`` most purchased items (5,000 by default); the weights are then cut to each
item's ``top_k`` strongest partners (either sign), which is what the artifact stores and
serving sums per cart (a few hundred numbers per cart item). Only covered items have rows;
every other item (and the cart padding) points at one empty row, so a 100,000-item shop
stores 5,001 rows instead of 100,001 (8 MB instead of 160 MB for 200 partners).

The ridge strength is the mean number of baskets an item is in: a rule that matched the best
of a sweep on both shared datasets (Groceries: rule 216, best 200; Online Retail: rule 105,
best 20-100, flat) without tuning on either.

No Keras, no Django.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cart_recommender.ml.features import Baskets
from cart_recommender.ml.numpy_ops import NUMPY_OPS

# The most item pairs generated at once while filling the Gram matrix.
_PAIRS_PER_CHUNK = 1 << 23


@dataclass
class ItemItem:
    """Sparse EASE weights of the covered items, padded to the model's shapes.

    Attributes:
        row: int32 ``(n_items + 1,)``: each item code's row in ``item`` and ``weight``; items
            the regression did not cover, and the padding code ``n_items``, point at the last
            row, which is all padding.
        item: int32 ``(covered + 1, top_k)``: partner codes; ``n_items`` is padding.
        weight: float32 ``(covered + 1, top_k)``: the regression weight of each partner.
        ridge: the ridge strength used.
        covered: how many items the regression covered (the most purchased ones).
    """

    row: np.ndarray
    item: np.ndarray
    weight: np.ndarray
    ridge: float
    covered: int

    @property
    def rows(self) -> int:
        return int(self.item.shape[0])


def empty(n_items: int, top_k: int, slots: int = 0) -> ItemItem:
    """No partners: ``slots`` rows of padding (for :func:`fit` to fill) plus the padding row,
    which every item code points at until it is given a row of its own."""
    return ItemItem(
        np.full(n_items + 1, slots, np.int32), np.full((slots + 1, top_k), n_items, np.int32),
        np.zeros((slots + 1, top_k), np.float32), 0.0, 0,
    )


def fit(
    baskets: Baskets,
    n_items: int,
    rows: np.ndarray,
    top_k: int,
    max_items: int = 5000,
    ridge: float | None = None,
) -> ItemItem:
    """EASE weights from the baskets ``rows``; returns :func:`empty` weights without data.

    Args:
        baskets: the training baskets; ``rows`` selects the ones to learn from.
        top_k: partners kept per item (the largest weights by magnitude, either sign).
        max_items: the regression covers at most this many items, the most purchased.
        ridge: ridge strength; None uses the mean basket count of the covered items.
    """
    if rows.size == 0 or n_items < 2 or top_k < 1:
        return empty(n_items, top_k)
    counts = np.zeros(n_items, np.int64)
    for b in rows:
        counts[baskets.item[baskets.start[b] : baskets.start[b + 1]]] += 1
    covered = np.flatnonzero(counts)
    if covered.size > max_items:
        covered = covered[np.argsort(-counts[covered], kind="stable")[:max_items]]
        covered.sort()
    m = covered.size
    if m < 2:
        return empty(n_items, top_k)
    local = np.full(n_items, -1, np.int64)
    local[covered] = np.arange(m)
    gram = _gram(baskets, rows, local, m)
    strength = max(float(np.diag(gram).mean()) if ridge is None else float(ridge), 1.0)
    gram[np.diag_indices(m)] += strength
    inverse = np.linalg.inv(gram)
    del gram
    weights = -inverse / np.diag(inverse)[None, :]
    del inverse
    np.fill_diagonal(weights, 0.0)
    # The strongest partners by magnitude: the negative weights (an item the cart's other
    # items already explain) matter as much as the positive ones (measured on Online Retail,
    # top 200 by magnitude: HR@10 0.226 against 0.201 for the top 200 positive weights; all
    # weights: 0.230).
    k = min(top_k, m - 1)
    strength_of = np.abs(weights)
    top = np.argpartition(-strength_of, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(strength_of, top, axis=1), axis=1, kind="stable")
    top = np.take_along_axis(top, order, axis=1)
    top_weight = np.take_along_axis(weights, top, axis=1)
    keep = top_weight != 0
    out = empty(n_items, top_k, m)
    out.row[covered] = np.arange(m, dtype=np.int32)
    out.item[:m, :k] = np.where(keep, covered[top], n_items)
    out.weight[:m, :k] = np.where(keep, top_weight, 0.0)
    out.ridge, out.covered = strength, m
    return out


def _gram(baskets: Baskets, rows: np.ndarray, local: np.ndarray, m: int) -> np.ndarray:
    """float64 ``(m, m)``: baskets holding both items (the diagonal: holding the item)."""
    flat = np.zeros(m * m, np.float64)
    chunk: list[np.ndarray] = []
    size = 0
    for b in rows:
        codes = local[baskets.item[baskets.start[b] : baskets.start[b + 1]]]
        codes = codes[codes >= 0]
        if codes.size == 0:
            continue
        chunk.append((codes[:, None] * m + codes[None, :]).ravel())
        size += chunk[-1].size
        if size > _PAIRS_PER_CHUNK:
            flat += np.bincount(np.concatenate(chunk), minlength=m * m)
            chunk, size = [], 0
    if chunk:
        flat += np.bincount(np.concatenate(chunk), minlength=m * m)
    return flat.reshape(m, m)


def scores(item_item: ItemItem, cart: np.ndarray, n_items: int) -> np.ndarray:
    """float32 ``(B, n_items)``: the summed weights for cart tokens ``cart`` (B, C), pad ``n_items``."""
    rows = item_item.row[cart]
    index = item_item.item[rows].reshape(cart.shape[0], -1)
    value = item_item.weight[rows].reshape(cart.shape[0], -1)
    return NUMPY_OPS.scatter_rows(index, value, n_items + 1)[:, :n_items]
