"""A second stage that reorders the model's best candidates for a shopper with a history.

The network, the item-to-item term and the repeat weight add up to one score per product, and
the weights between them are global: one ``alpha`` and one ``gamma`` for every query of a shop.
Yet how much a cart should lean on "what you bought before" depends on the cart and the shopper
(a big weekly shop of staples against a small basket of novelties, a product of the cart's own
aisle against one of another). Re-weighting the global terms after the fit moved HR@10 by less
than 0.001 on completejourney_dev (docs/model.md); ranking the top candidates again with a
small network that sees each candidate's terms *and* its context moved it by 7% there.

So, per query with a repeat window: the ``CANDIDATES`` best products by the model's score, each
described by :data:`FEATURES` (its score and rank, where it sits in the shopper's repeat window
and that window's purchase-frequency features, its popularity, how much of the cart and of the
window is in its category, the cart's size), and a two-layer MLP trained with a listwise
softmax on queries of orders the model was *not* fitted on (the orders after its training data:
the same split that early stopping and the weight search use). The reordered candidates keep
their place above every other product, so the rest of the ranking is the model's own.

Plain arrays: fitting imports Keras when it is called (:func:`fit`), scoring is NumPy
(:func:`apply`). No Django.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cart_recommender.ml.features import REPEAT_FEATURES

#: How many of the model's best products are reordered.
CANDIDATES = 50
#: What the reranker reads of each candidate, in column order.
FEATURES = (
    "score", "rank", "score_below_best", "in_window", "window_position",
    *(f"window_feature_{i}" for i in range(REPEAT_FEATURES)),
    "log_popularity", "cart_share_of_category", "window_share_of_category", "log_cart_size",
)
HIDDEN = (64, 32)


def weight_shapes() -> dict[str, tuple[int, ...]]:
    """Name -> shape of the reranker's arrays (stored with the model's weights)."""
    shapes: dict[str, tuple[int, ...]] = {"rr_mu": (len(FEATURES),), "rr_sd": (len(FEATURES),)}
    width = len(FEATURES)
    for i, hidden in enumerate(HIDDEN):
        shapes[f"rr_w{i}"], shapes[f"rr_b{i}"] = (width, hidden), (hidden,)
        width = hidden
    shapes["rr_out"], shapes["rr_out_b"] = (width, 1), (1,)
    return shapes


def has_window(batch: dict[str, np.ndarray], n_items: int) -> np.ndarray:
    """bool per query: its repeat window holds at least one product (a shopper with purchases)."""
    if "rp_item" not in batch:
        return np.zeros(batch["cart"].shape[0], bool)
    return (batch["rp_item"] < n_items).any(axis=1)


def best_candidates(scores: np.ndarray, k: int = CANDIDATES) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best products of each row of ``scores``, best first, and the best score of the
    products left out (``-inf`` when none is)."""
    rows, n = scores.shape
    k = min(k, n)
    if k < n:  # an ascending partition: the k best at the end, the next best just before them
        part = np.argpartition(scores, n - k - 1, axis=1)
        codes = part[:, n - k :]
        below = np.take_along_axis(scores, part[:, n - k - 1 : n - k], axis=1)[:, 0]
    else:
        codes = np.broadcast_to(np.arange(n), (rows, n))
        below = np.full(rows, -np.inf, scores.dtype)
    order = np.argsort(-np.take_along_axis(scores, codes, axis=1), axis=1, kind="stable")
    return np.take_along_axis(codes, order, axis=1).astype(np.int32), below


def candidate_features(
    scores: np.ndarray, batch: dict[str, np.ndarray], n_items: int, category: np.ndarray,
    log_popularity: np.ndarray, k: int = CANDIDATES, codes: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best products of each query (or the given ``codes``) and their features.

    Args:
        scores: ``(B, n_items)`` model scores with the cart already at ``-inf``.
        batch: the queries' inputs (:func:`cart_recommender.ml.examples.query_inputs` or
            training examples): ``cart``, ``rp_item``, ``rp_feat``.
        category: int32 ``(n_items,)`` a category code per product (one code for all when the
            shop has no categories).
        log_popularity: float ``(n_items,)`` log(1 + training orders holding the product).

    Returns:
        ``codes`` int32 ``(B, k)`` best first, and ``features`` float32 ``(B, k, len(FEATURES))``.
    """
    if codes is None:
        codes, _below = best_candidates(scores, k)
    b, k = codes.shape
    top = np.take_along_axis(scores, codes, axis=1)
    finite = np.isfinite(top)
    top = np.where(finite, top, 0.0)
    out = np.zeros((b, k, len(FEATURES)), np.float32)
    out[:, :, 0] = top
    out[:, :, 1] = np.arange(k)
    out[:, :, 2] = top - top[:, :1]
    rp_item, rp_feat, cart = batch["rp_item"], batch["rp_feat"], batch["cart"]
    # where each candidate sits in the repeat window (padding, code n_items, matches nothing)
    same = codes[:, :, None] == rp_item[:, None, :]  # (B, k, window)
    inside = same.any(axis=2)
    where = same.argmax(axis=2)
    out[:, :, 3] = inside
    out[:, :, 4] = np.where(inside, where, rp_item.shape[1])
    window_feats = np.take_along_axis(rp_feat, where[:, :, None], axis=1)
    out[:, :, 5:5 + REPEAT_FEATURES] = window_feats * inside[:, :, None]
    padded = np.append(np.asarray(category, np.int64), -1)  # the padding item has no category
    mine = padded[codes][:, :, None]
    cart_cat = padded[np.minimum(cart, n_items)]
    cart_len = (cart < n_items).sum(axis=1)
    out[:, :, 13] = (mine == cart_cat[:, None, :]).sum(axis=2) / np.maximum(cart_len, 1)[:, None]
    freq = rp_feat[:, :, 0] * (rp_item < n_items)
    window_cat = padded[np.minimum(rp_item, n_items)]
    out[:, :, 14] = ((mine == window_cat[:, None, :]) * freq[:, None, :]).sum(axis=2) / np.maximum(
        freq.sum(axis=1), 1e-6)[:, None]
    out[:, :, 15] = np.log1p(cart_len)[:, None]
    out[:, :, 12] = log_popularity[codes]
    out[~finite] = 0.0
    return codes, out


@dataclass(frozen=True)
class Reranker:
    """The fitted reranker's arrays: feature scaling and the MLP's weights (all float32)."""

    weights: dict[str, np.ndarray]

    def score(self, features: np.ndarray) -> np.ndarray:
        """``(B, k)`` scores of the candidates described by ``features`` ``(B, k, F)``."""
        w = self.weights
        h = (features - w["rr_mu"]) / w["rr_sd"]
        for i in range(len(HIDDEN)):
            h = np.maximum(h @ w[f"rr_w{i}"] + w[f"rr_b{i}"], 0.0)
        return (h @ w["rr_out"])[..., 0] + w["rr_out_b"][0]


def apply(scores: np.ndarray, reranker: Reranker, batch: dict[str, np.ndarray], n_items: int,
          category: np.ndarray, log_popularity: np.ndarray, k: int = CANDIDATES) -> np.ndarray:
    """Reorder each windowed query's best candidates by ``reranker``, in ``scores`` itself.

    The candidates are placed above every other product of their query (scores of the others
    untouched); queries without a repeat window are left as they came. Returns ``scores``.
    """
    rows = np.flatnonzero(has_window(batch, n_items))
    if not rows.size:
        return scores
    mine = scores[rows]
    part = {name: value[rows] for name, value in batch.items() if name in ("cart", "rp_item", "rp_feat")}
    codes, below = best_candidates(mine, k)
    _codes, features = candidate_features(mine, part, n_items, category, log_popularity, codes=codes)
    new = reranker.score(features).astype(np.float32)
    valid = np.isfinite(np.take_along_axis(mine, codes, axis=1))
    floor = np.where(np.isfinite(below), below, 0.0)[:, None]
    lifted = floor + 1.0 + (new - np.min(np.where(valid, new, np.inf), axis=1, keepdims=True))
    scores[rows[:, None], codes] = np.where(valid, lifted, -np.inf)
    return scores


def fit(features: np.ndarray, target: np.ndarray, seed: int = 0, epochs: int = 10,
        batch_size: int = 256) -> Reranker:
    """Fit on queries whose hidden product is among their candidates.

    Args:
        features: ``(Q, k, F)`` from :func:`candidate_features`.
        target: int ``(Q,)`` the hidden product's position among the candidates, or -1 where it
            is not one of them (those queries teach nothing about the order and are dropped).
    """
    from cart_recommender.ml.keras_network import load_keras

    keras = load_keras()
    keep = target >= 0
    x, y = features[keep].astype(np.float32), target[keep].astype(np.int32)
    if not len(y):
        raise ValueError("no query has its hidden product among the candidates")
    flat = x.reshape(-1, x.shape[-1])
    mu, sd = flat.mean(axis=0), flat.std(axis=0) + 1e-6
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((x.shape[1], x.shape[2]))
    h = inputs
    dense = []
    for width in HIDDEN:
        layer = keras.layers.Dense(width, activation="relu")
        dense.append(layer)
        h = layer(h)
    last = keras.layers.Dense(1)
    logits = keras.layers.Reshape((x.shape[1],))(last(h))
    net = keras.Model(inputs, logits)
    net.compile(optimizer=keras.optimizers.Adam(2e-3),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    net.fit((x - mu) / sd, y, batch_size=batch_size, epochs=epochs, shuffle=True, verbose=0)
    weights = {"rr_mu": mu.astype(np.float32), "rr_sd": sd.astype(np.float32)}
    for i, layer in enumerate(dense):
        kernel, bias = layer.get_weights()
        weights[f"rr_w{i}"], weights[f"rr_b{i}"] = kernel.astype(np.float32), bias.astype(np.float32)
    kernel, bias = last.get_weights()
    weights["rr_out"], weights["rr_out_b"] = kernel.astype(np.float32), bias.astype(np.float32)
    return Reranker(weights)


def target_positions(codes: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Position of each query's target among its candidates ``codes`` (B, k); -1 if absent."""
    hit = codes == np.asarray(targets).reshape(-1, 1)
    return np.where(hit.any(axis=1), hit.argmax(axis=1), -1)
