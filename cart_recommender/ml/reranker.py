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

A product few or no shoppers have bought is rarely among those best products: nothing the
network, the item-to-item term or the repeat weight read says much of it. So the shopper's
likeliest repeat purchases join the candidates however low the model scores them (a product
a household bought once is often what it buys again), and what the shop says of a product
counts too: where the model has content neighbours (each product's nearest products by name
words within its category, :func:`cart_recommender.ml.content.content_neighbours`), the
candidates also take the products most like the cart and the shopper's repeat window (a new
size of what they buy, the next design of a range) and the reranker reads that likeness too
(:data:`CONTENT_FEATURES`), so it learns on the validation orders when such a product belongs
in the bundle.

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
#: What it also reads where the model has content neighbours: the summed likeness of the
#: candidate to the cart's products and to the repeat window's (weighted by decayed frequency,
#: as a share of the window), and whether the candidate came from that likeness rather than
#: from the model's best products.
CONTENT_FEATURES = ("content_cart", "content_window", "from_content")
HIDDEN = (64, 32)


@dataclass(frozen=True)
class ContentPool:
    """Each product's content neighbours (int32 / float32 ``(n_items + 1, k)``, padded with
    ``n_items`` / 0) and how many of the products most like a query join its candidates."""

    neighbour: np.ndarray
    similarity: np.ndarray
    extra: int


def feature_names(content: bool = False) -> tuple[str, ...]:
    return FEATURES + CONTENT_FEATURES if content else FEATURES


def weight_shapes(content: bool = False) -> dict[str, tuple[int, ...]]:
    """Name -> shape of the reranker's arrays (stored with the model's weights)."""
    width = len(feature_names(content))
    shapes: dict[str, tuple[int, ...]] = {"rr_mu": (width,), "rr_sd": (width,)}
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


def _with_window(scores: np.ndarray, codes: np.ndarray, window: np.ndarray,
                 n_items: int) -> tuple[np.ndarray, np.ndarray]:
    """``codes`` followed by the ``window`` products that are not among them, and which slots
    hold a product (the others repeat the query's best candidate, and are marked False)."""
    real = window < n_items
    safe = np.where(real, window, 0)
    real &= ~(safe[:, :, None] == codes[:, None, :]).any(axis=2)
    real &= np.isfinite(np.take_along_axis(scores, safe, axis=1))
    filler = np.broadcast_to(codes[:, :1], window.shape)
    return (np.concatenate([codes, np.where(real, safe, filler).astype(np.int32)], axis=1),
            np.concatenate([np.ones(codes.shape, bool), real], axis=1))


class Likeness:
    """Every product some cart or window product of a query has among its content neighbours,
    with its summed similarity to the cart's products and to the repeat window's (each window
    product weighted by its share of the window's decayed purchase frequency, so a product like
    the shopper's staples scores near its similarity). Sparse: a few hundred products per query
    where the catalog has tens of thousands."""

    def __init__(self, batch: dict[str, np.ndarray], n_items: int, pool: ContentPool) -> None:
        cart, rp_item = batch["cart"], batch["rp_item"]
        b = cart.shape[0]
        freq = batch["rp_feat"][:, :, 0] * (rp_item < n_items)
        share = freq / np.maximum(freq.sum(axis=1, keepdims=True), 1e-6)
        cart_nbr = pool.neighbour[np.minimum(cart, n_items)].reshape(b, -1)  # padding rows: n_items
        window_nbr = pool.neighbour[np.minimum(rp_item, n_items)].reshape(b, -1)
        cart_sim = pool.similarity[np.minimum(cart, n_items)].reshape(b, -1)
        window_sim = (pool.similarity[np.minimum(rp_item, n_items)] * share[:, :, None]).reshape(b, -1)
        self.stride = n_items + 1
        rows = np.arange(b, dtype=np.int64)[:, None] * self.stride
        keys = np.concatenate([rows + cart_nbr, rows + window_nbr], axis=1).ravel()
        self.keys, where = np.unique(keys, return_inverse=True)
        where = where.reshape(b, -1)
        width = cart_nbr.shape[1]
        self.to_cart = np.bincount(where[:, :width].ravel(), weights=cart_sim.ravel(),
                                   minlength=len(self.keys)).astype(np.float32)
        self.to_window = np.bincount(where[:, width:].ravel(), weights=window_sim.ravel(),
                                     minlength=len(self.keys)).astype(np.float32)
        real = (self.keys % self.stride < n_items) & (self.to_cart + self.to_window > 0)
        self.keys, self.to_cart, self.to_window = self.keys[real], self.to_cart[real], self.to_window[real]
        self.rows = b

    def _find(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where each of ``codes`` (B, k) of its query sits among the keys, and whether it is there."""
        if not len(self.keys):
            return np.zeros(codes.shape, np.int64), np.zeros(codes.shape, bool)
        keys = np.arange(self.rows, dtype=np.int64)[:, None] * self.stride + codes
        at = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        return at, self.keys[at] == keys

    def lookup(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """float32 ``(B, k)`` twice: the likeness of ``codes`` to each query's cart and window."""
        at, found = self._find(codes)
        if not len(self.keys):
            return np.zeros(codes.shape, np.float32), np.zeros(codes.shape, np.float32)
        return np.where(found, self.to_cart[at], 0.0), np.where(found, self.to_window[at], 0.0)

    def best(self, scores: np.ndarray, codes: np.ndarray, extra: int) -> tuple[np.ndarray, np.ndarray]:
        """``codes`` followed by each query's ``extra`` most alike products that are neither among
        them nor in the cart (``scores`` ``-inf``), and a bool mask of the candidates that exist
        (a query with fewer such products keeps padding slots, marked False)."""
        b = self.rows
        row, code = self.keys // self.stride, self.keys % self.stride
        like = (self.to_cart + self.to_window).astype(np.float64)
        taken = np.zeros(len(self.keys), bool)
        at, found = self._find(codes)
        taken[at[found]] = True
        open_ = ~taken & np.isfinite(scores[row, code])
        row, code, like = row[open_], code[open_], like[open_]
        order = np.lexsort((-like, row))  # by query, most alike first
        row, code = row[order], code[order]
        rank = np.arange(len(row)) - np.searchsorted(row, row)
        keep = rank < extra
        picked = np.zeros((b, extra), np.int32)
        valid = np.zeros((b, extra), bool)
        picked[row[keep], rank[keep]] = code[keep]
        valid[row[keep], rank[keep]] = True
        return (np.concatenate([codes, picked], axis=1),
                np.concatenate([np.ones(codes.shape, bool), valid], axis=1))


def candidate_features(
    scores: np.ndarray, batch: dict[str, np.ndarray], n_items: int, category: np.ndarray,
    log_popularity: np.ndarray, k: int = CANDIDATES, codes: np.ndarray | None = None,
    pool: ContentPool | None = None, window: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best products of each query (or the given ``codes``) and their features.

    Args:
        scores: ``(B, n_items)`` model scores with the cart already at ``-inf``.
        batch: the queries' inputs (:func:`cart_recommender.ml.examples.query_inputs` or
            training examples): ``cart``, ``rp_item``, ``rp_feat``.
        category: int32 ``(n_items,)`` a category code per product (one code for all when the
            shop has no categories).
        log_popularity: float ``(n_items,)`` log(1 + training orders holding the product).
        pool: content neighbours: then ``pool.extra`` products most like the query follow
            (:meth:`Likeness.best`), and every candidate has the :data:`CONTENT_FEATURES` too.
        window: the first ``window`` products of the repeat window follow the ``k`` best
            (those not among them already): what the shopper bought before, however weakly
            the model scores it (a product bought once, years ago, or by few others).

    Returns:
        ``codes`` int32 ``(B, k [+ window] [+ extra])``: the best first, then the window's,
        then the most alike; and ``features`` float32 ``(B, same, len(feature_names(pool is
        not None)))``. A candidate slot that holds no product (padding, a window product
        already among the best, a cart product) has every feature 0.
    """
    if codes is None:
        codes, _below = best_candidates(scores, k)
    top_k = codes.shape[1]
    likeness = None
    valid = np.ones(codes.shape, bool)
    if window:
        codes, valid = _with_window(scores, codes, batch["rp_item"][:, :window], n_items)
    if pool is not None:
        likeness = Likeness(batch, n_items, pool)
        before = codes.shape[1]
        codes, more = likeness.best(scores, codes, min(pool.extra, n_items))
        valid = np.concatenate([valid, more[:, before:]], axis=1)
    b, k = codes.shape
    top = np.take_along_axis(scores, codes, axis=1)
    finite = np.isfinite(top) & valid
    top = np.where(finite, top, 0.0)
    out = np.zeros((b, k, len(feature_names(pool is not None))), np.float32)
    out[:, :, 0] = top
    out[:, :, 1] = np.minimum(np.arange(k), top_k)  # the window's and the alike: just below the best
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
    if likeness is not None:
        f = len(FEATURES)
        out[:, :, f], out[:, :, f + 1] = likeness.lookup(codes)
        out[:, before:, f + 2] = 1.0
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
          category: np.ndarray, log_popularity: np.ndarray, k: int = CANDIDATES,
          pool: ContentPool | None = None, window: int = 0) -> np.ndarray:
    """Reorder each windowed query's best candidates by ``reranker``, in ``scores`` itself.

    The candidates (with ``window`` and ``pool``, the repeat window's first products and those
    most like the query too) are placed above every other product of their query (scores of the
    others untouched); queries without a repeat window are left as they came. Returns ``scores``.
    """
    rows = np.flatnonzero(has_window(batch, n_items))
    if not rows.size:
        return scores
    mine = scores[rows]
    part = {name: value[rows] for name, value in batch.items() if name in ("cart", "rp_item", "rp_feat")}
    best, below = best_candidates(mine, k)
    codes, features = candidate_features(mine, part, n_items, category, log_popularity, codes=best,
                                         pool=pool, window=window)
    new = reranker.score(features).astype(np.float32)
    valid = np.isfinite(np.take_along_axis(mine, codes, axis=1))
    real = slots(features) | (np.arange(codes.shape[1]) < best.shape[1])  # empty slots: untouched
    floor = np.where(np.isfinite(below), below, 0.0)[:, None]
    lifted = floor + 1.0 + (new - np.min(np.where(valid & real, new, np.inf), axis=1, keepdims=True))
    rows_b = np.broadcast_to(rows[:, None], codes.shape)
    scores[rows_b[real], codes[real]] = np.where(valid, lifted, -np.inf)[real]
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
    real = slots(x)
    flat = x[real]  # the scaling and the softmax see the slots that hold a product only
    mu, sd = flat.mean(axis=0), flat.std(axis=0) + 1e-6
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((x.shape[1], x.shape[2]))
    mask = keras.Input((x.shape[1],))
    h = inputs
    dense = []
    for width in HIDDEN:
        layer = keras.layers.Dense(width, activation="relu")
        dense.append(layer)
        h = layer(h)
    last = keras.layers.Dense(1)
    logits = keras.layers.Reshape((x.shape[1],))(last(h))
    logits = keras.layers.Lambda(lambda pair: pair[0] + (pair[1] - 1.0) * 1e9)([logits, mask])
    net = keras.Model([inputs, mask], logits)
    net.compile(optimizer=keras.optimizers.Adam(2e-3),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    net.fit([(x - mu) / sd, real.astype(np.float32)], y, batch_size=batch_size, epochs=epochs, shuffle=True,
            verbose=0)
    weights = {"rr_mu": mu.astype(np.float32), "rr_sd": sd.astype(np.float32)}
    for i, layer in enumerate(dense):
        kernel, bias = layer.get_weights()
        weights[f"rr_w{i}"], weights[f"rr_b{i}"] = kernel.astype(np.float32), bias.astype(np.float32)
    kernel, bias = last.get_weights()
    weights["rr_out"], weights["rr_out_b"] = kernel.astype(np.float32), bias.astype(np.float32)
    return Reranker(weights)


def slots(features: np.ndarray) -> np.ndarray:
    """bool ``(B, k)``: which candidate slots hold a product (the others have every feature 0;
    the first slot, the model's best product, always holds one)."""
    real = features.any(axis=2)
    real[:, 0] = True
    return real


def target_positions(codes: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Position of each query's target among its candidates ``codes`` (B, k); -1 if absent."""
    hit = codes == np.asarray(targets).reshape(-1, 1)
    return np.where(hit.any(axis=1), hit.argmax(axis=1), -1)
