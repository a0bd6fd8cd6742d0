"""The sequence model's forward pass, written once against a small array API.

Training runs it with ``keras.ops`` (see :mod:`cart_recommender.ml.model`); serving runs the
very same function with NumPy (see :mod:`cart_recommender.ml.serving`). One definition of the
math means the served scores cannot drift from the trained model; a test still checks that the
two backends agree numerically.

The model, for a cart ``c`` and a shopper history ``h`` (distinct recent items):

* an encoder: a [CLS] token, the cart items (an unordered set) and the history items (with
  age, count and last-event-kind embeddings) go through ``blocks`` pre-norm self-attention
  blocks; the [CLS] output is the query vector ``u``. The alternative ``encoder="gru"`` (the
  GRU4Rec family, kept to measure the choice against, see docs/model.md) reads the same tokens as
  one sequence, history oldest first then the cart, and its last state is ``u``;
* every item ``j`` scores ``u . E[j] + b[j]`` (tied item embeddings; a learned popularity bias)
  plus two learned, ``u``-dependent feature terms that the encoder would otherwise have to
  memorise item by item:
  - *repeat*: for each history item, a weight from its age, count, kind, the item's own repeat
    propensity and ``u`` (this is how the model balances repeats against new items);
  - *co-purchase*: for each cart item's top-N co-purchase neighbours, a weight from their
    counts (raw, confidence, cosine-like), the candidate's popularity and the cart size;
  - *repeat window*, when ``repeat_window`` > 0: for the shopper's most likely repeat
    purchases over their *whole* history (not only the recent tokens), a weight from decayed
    purchase frequencies, counts, recency and ``u`` (input ``rp_item``/``rp_feat``);
* when ``content_width`` > 0, every item's vector and bias also hold the mean of its content
  tokens' (name words, category levels, price band; :mod:`cart_recommender.ml.content`):
  ``E[j] = known[j] * item_emb[j] + mean(tok_emb[tokens of j])``, the same for the bias. An
  item the fit never saw bought (``known`` 0) is scored by its content alone, so it can still
  be suggested; serving folds the sum into one table when it loads (:func:`item_table`);
* when ``content_neighbours`` > 0, ``kappa`` times each repeat-window item's decayed frequency
  times its content similarity, on its nearest items in content: a shopper who buys one size
  or colour of a product is shown its siblings, new ones included (``kappa`` fitted after the
  network, on the validation split, like ``alpha``);
* and, when ``item_item`` > 0, ``alpha`` times the summed item-to-item regression weights
  of the cart items' partners (:mod:`cart_recommender.ml.itemitem`), read from a cart window
  of its own (``item_item_cart`` items, input ``ii_cart``), wider than the encoder's. The
  weights and ``alpha`` are fitted after the network (``alpha`` on the validation split), so
  the term is left out while training.

Nothing here imports Keras, TensorFlow or Django.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from cart_recommender.ml.config import ENCODERS
from cart_recommender.ml.features import AGE_BUCKETS, COUNT_BUCKETS, N_KINDS, REPEAT_FEATURES

CO_FEATURES = 5
NEG = -1e9


@dataclass(frozen=True)
class Architecture:
    """Hyper-parameters that define the weights' shapes (stored in the artifact manifest).

    Made by :func:`cart_recommender.ml.preparation.prepare` from a
    :class:`~cart_recommender.ml.config.TrainingConfig` (where the defaults live) and the data,
    or read back from an artifact. Only fields added after the first artifacts have
    defaults, the value those older artifacts mean: the attention encoder, and no
    item-to-item term.
    """

    n_items: int
    dim: int
    blocks: int
    heads: int
    ffn: int
    max_cart: int
    max_history: int
    neighbours: int
    feature_hidden: int
    encoder: str = "attention"  # or "gru"
    item_item: int = 0  # partners per item of the item-to-item term; 0: no such term
    item_item_cart: int = 0  # cart items the item-to-item term reads (input ``ii_cart``)
    # Rows of the item-to-item arrays: the items the regression covered plus one padding row,
    # reached through ``ii_row`` (item code -> row). 0: one row per item and no ``ii_row``
    # (artifacts written before the compact layout, which cost 8 bytes x partners per item
    # for every item, covered or not).
    item_item_rows: int = 0
    # Items of the repeat window: the shopper's most likely repeat purchases over their whole
    # history, each with decayed-frequency features (inputs ``rp_item``, ``rp_feat``); 0: none.
    repeat_window: int = 0
    # Content tokens per item (inputs ``ct_tok``/``ct_w`` of the constants) and the size of
    # their vocabulary; 0: no content term.
    content_width: int = 0
    content_vocab: int = 0
    # Content neighbours per item (constants ``ct_nbr``/``ct_sim``) through which the repeat
    # window also lifts the products most like what the shopper buys, times ``ct_kappa``
    # (chosen after the fit); 0: no such term.
    content_neighbours: int = 0
    # Candidates the second stage reorders for a shopper with a repeat window (weights ``rr_*``,
    # constant ``rr_cat``; :mod:`cart_recommender.ml.reranker`), fitted after the network; 0: none.
    rerank: int = 0
    # With the reranker: how many of the repeat window's first products join its candidates
    # (``rerank_window``), the content neighbours kept per product (``rerank_neighbours``;
    # constants ``rr_nbr``/``rr_sim``) and how many of the products most like a query join them
    # (``rerank_content``); 0: none of that, candidates from the model's scores alone.
    rerank_window: int = 0
    rerank_neighbours: int = 0
    rerank_content: int = 0

    def __post_init__(self) -> None:
        if self.encoder not in ENCODERS:
            raise ValueError(f"encoder must be one of {ENCODERS}, not {self.encoder!r}")

    def to_dict(self) -> dict[str, int | str]:
        return asdict(self)

    @property
    def tokens(self) -> int:
        return 1 + self.max_cart + self.max_history


def param_shapes(arch: Architecture) -> dict[str, tuple[tuple[int, ...], str]]:
    """Name -> (shape, initializer) of every trainable weight (the reranker's, fitted after the
    network, are :func:`cart_recommender.ml.reranker.weight_shapes`)."""
    n, d, r, f = arch.n_items, arch.dim, arch.feature_hidden, arch.ffn
    shapes: dict[str, tuple[tuple[int, ...], str]] = {
        "item_emb": ((n + 1, d), "embedding"),
        "item_bias": ((n + 1,), "zeros"),
        "cls": ((d,), "embedding"),
        "type_cart": ((d,), "embedding"),
        "type_hist": ((d,), "embedding"),
        "age_emb": ((AGE_BUCKETS, d), "embedding"),
        "count_emb": ((COUNT_BUCKETS, d), "embedding"),
        "kind_emb": ((N_KINDS, d), "embedding"),
        "out_ln_g": ((d,), "ones"),
        "out_ln_b": ((d,), "zeros"),
        "rep_age": ((AGE_BUCKETS, r), "embedding"),
        "rep_count": ((COUNT_BUCKETS, r), "embedding"),
        "rep_kind": ((N_KINDS, r), "embedding"),
        "rep_user": ((d, r), "glorot"),
        "rep_b": ((r,), "zeros"),
        "rep_out": ((r,), "small"),
        "rep_item": ((n + 1,), "zeros"),
        "co_feat": ((CO_FEATURES, r), "glorot"),
        "co_user": ((d, r), "glorot"),
        "co_b": ((r,), "zeros"),
        "co_out": ((r,), "small"),
    }
    if arch.repeat_window:
        shapes.update({
            "rp_feat": ((REPEAT_FEATURES, r), "glorot"),
            "rp_user": ((d, r), "glorot"),
            "rp_b": ((r,), "zeros"),
            "rp_out": ((r,), "small"),
            "rp_lin": ((REPEAT_FEATURES,), "zeros"),
            "rp_item": ((n + 1,), "zeros"),
        })
    if arch.content_width:
        shapes.update({
            "tok_emb": ((arch.content_vocab + 1, d), "embedding"),
            "tok_bias": ((arch.content_vocab + 1,), "zeros"),
        })
    if arch.encoder == "gru":
        del shapes["cls"]
        shapes.update(
            {
                "gru_wx": ((d, 3 * d), "glorot"),
                "gru_wh": ((d, 3 * d), "glorot"),
                "gru_b": ((3 * d,), "zeros"),
            }
        )
        return shapes
    for i in range(arch.blocks):
        shapes.update(
            {
                f"b{i}_ln1_g": ((d,), "ones"),
                f"b{i}_ln1_b": ((d,), "zeros"),
                f"b{i}_wq": ((d, d), "glorot"),
                f"b{i}_wk": ((d, d), "glorot"),
                f"b{i}_wv": ((d, d), "glorot"),
                f"b{i}_wo": ((d, d), "glorot"),
                f"b{i}_bo": ((d,), "zeros"),
                f"b{i}_ln2_g": ((d,), "ones"),
                f"b{i}_ln2_b": ((d,), "zeros"),
                f"b{i}_w1": ((d, f), "glorot"),
                f"b{i}_b1": ((f,), "zeros"),
                f"b{i}_w2": ((f, d), "glorot"),
                f"b{i}_b2": ((d,), "zeros"),
            }
        )
    return shapes


CONSTANTS = ("nbr_item", "nbr_count", "item_count")
ITEM_ITEM_CONSTANTS = ("ii_item", "ii_weight", "ii_alpha")
#: Each item's content token rows and weights, and whether its own embedding was trained.
CONTENT_CONSTANTS = ("ct_tok", "ct_w", "id_known")
#: Each item's nearest items in content, their similarities, and the term's weight.
NEIGHBOUR_CONSTANTS = ("ct_nbr", "ct_sim", "ct_kappa")
#: The reranker's content neighbours of each item, and their similarities.
RERANK_CONTENT_CONSTANTS = ("rr_nbr", "rr_sim")


def constant_names(arch: Architecture) -> tuple[str, ...]:
    """The constant arrays a model of ``arch`` reads (see :func:`feature_terms`)."""
    names = CONSTANTS + (CONTENT_CONSTANTS if arch.content_width else ())
    names += NEIGHBOUR_CONSTANTS if arch.content_neighbours and arch.repeat_window else ()
    names += ("rr_cat",) if arch.rerank else ()
    names += RERANK_CONTENT_CONSTANTS if arch.rerank and arch.rerank_content else ()
    if not arch.item_item:
        return names
    return names + ITEM_ITEM_CONSTANTS + (("ii_row",) if arch.item_item_rows else ())


def item_rows(
    xp: Any, p: dict[str, Any], c: dict[str, Any], codes: Any, arch: Architecture,
    drop_id: Callable | None = None,
) -> tuple[Any, Any]:
    """Vectors ``(..., dim)`` and biases ``(...)`` of the items ``codes`` (any shape).

    With content, an item's own embedding counts only where it was trained (``id_known``);
    ``drop_id`` (training) also drops it at random, so the content part learns to carry an
    item on its own.
    """
    vec = xp.take(p["item_emb"], codes, axis=0)
    bias = xp.take(p["item_bias"], codes, axis=0)
    if not arch.content_width:
        return vec, bias
    known = xp.take(c["id_known"], codes, axis=0)
    if drop_id is not None:
        known = drop_id(known)
    tok = xp.take(c["ct_tok"], codes, axis=0)
    w = xp.take(c["ct_w"], codes, axis=0)
    content = xp.sum(xp.take(p["tok_emb"], tok, axis=0) * xp.expand_dims(w, -1), axis=-2)
    content_bias = xp.sum(xp.take(p["tok_bias"], tok, axis=0) * w, axis=-1)
    return vec * xp.expand_dims(known, -1) + content, bias * known + content_bias


def item_table(
    xp: Any, p: dict[str, Any], c: dict[str, Any], arch: Architecture, drop_id: Callable | None = None,
) -> tuple[Any, Any]:
    """Every item's vector and bias, the padding item included: ``(n + 1, dim)``, ``(n + 1,)``.

    A model with content scores exactly as before when ``item_emb``/``item_bias`` are replaced by
    these and ``content_width`` set to 0: that is how serving folds the content term in once.
    Without content these are the weights themselves (no copy).
    """
    if not arch.content_width:
        return p["item_emb"], p["item_bias"]
    codes = xp.arange(arch.n_items + 1, dtype="int32")
    return item_rows(xp, p, c, codes, arch, drop_id)


INPUTS = ("cart", "hist_item", "hist_age", "hist_count", "hist_kind", "target", "own", "ii_cart",
          "rp_item", "rp_feat")


def _layer_norm(xp: Any, x: Any, g: Any, b: Any) -> Any:
    mean = xp.mean(x, axis=-1, keepdims=True)
    var = xp.mean(xp.square(x - mean), axis=-1, keepdims=True)
    return (x - mean) / xp.sqrt(var + 1e-5) * g + b


def _identity(x: Any) -> Any:
    return x


def encode(
    xp: Any, p: dict[str, Any], batch: dict[str, Any], arch: Architecture, drop: Callable = _identity,
    c: dict[str, Any] | None = None, drop_id: Callable | None = None,
) -> Any:
    """The query vector ``u`` (B, dim) for a batch of carts and histories (``c``: the constants,
    needed with content)."""
    n, d, h = arch.n_items, arch.dim, arch.heads
    dh = d // h
    cart, hist = batch["cart"], batch["hist_item"]
    cart_tok = item_rows(xp, p, c or {}, cart, arch, drop_id)[0] + p["type_cart"]
    hist_tok = (
        item_rows(xp, p, c or {}, hist, arch, drop_id)[0]
        + p["type_hist"]
        + xp.take(p["age_emb"], batch["hist_age"], axis=0)
        + xp.take(p["count_emb"], batch["hist_count"], axis=0)
        + xp.take(p["kind_emb"], batch["hist_kind"], axis=0)
    )
    cart_ok = xp.cast(xp.not_equal(cart, n), "float32")
    hist_ok = xp.cast(xp.not_equal(hist, n), "float32")
    if arch.encoder == "gru":
        return _gru_encode(xp, p, drop(cart_tok), cart_ok, drop(hist_tok), hist_ok, arch)
    cls = xp.zeros_like(cart_tok[:, :1, :]) + p["cls"]
    x = drop(xp.concatenate([cls, cart_tok, hist_tok], axis=1))
    valid = xp.concatenate([xp.ones_like(cart_ok[:, :1]), cart_ok, hist_ok], axis=1)
    x = x * xp.expand_dims(valid, -1)
    t = arch.tokens
    key_bias = xp.reshape((1.0 - valid) * NEG, (-1, 1, 1, t))
    for i in range(arch.blocks):
        y = _layer_norm(xp, x, p[f"b{i}_ln1_g"], p[f"b{i}_ln1_b"])
        q = xp.transpose(xp.reshape(xp.matmul(y, p[f"b{i}_wq"]), (-1, t, h, dh)), (0, 2, 1, 3))
        k = xp.transpose(xp.reshape(xp.matmul(y, p[f"b{i}_wk"]), (-1, t, h, dh)), (0, 2, 3, 1))
        v = xp.transpose(xp.reshape(xp.matmul(y, p[f"b{i}_wv"]), (-1, t, h, dh)), (0, 2, 1, 3))
        att = xp.softmax(xp.matmul(q, k) * (1.0 / dh**0.5) + key_bias, axis=-1)
        o = xp.reshape(xp.transpose(xp.matmul(att, v), (0, 2, 1, 3)), (-1, t, d))
        x = x + drop(xp.matmul(o, p[f"b{i}_wo"]) + p[f"b{i}_bo"])
        y = _layer_norm(xp, x, p[f"b{i}_ln2_g"], p[f"b{i}_ln2_b"])
        y = xp.matmul(xp.relu(xp.matmul(y, p[f"b{i}_w1"]) + p[f"b{i}_b1"]), p[f"b{i}_w2"]) + p[f"b{i}_b2"]
        x = x + drop(y)
    return _layer_norm(xp, x[:, 0, :], p["out_ln_g"], p["out_ln_b"])


def _gru_encode(
    xp: Any, p: dict[str, Any], cart_tok: Any, cart_ok: Any, hist_tok: Any, hist_ok: Any,
    arch: Architecture,
) -> Any:
    """A GRU over the history (oldest first) and then the cart; its last state, normalised.

    History tokens come most recent first, so they are read backwards; padded steps leave the
    state as it was. The input projections are computed for all steps at once.
    """
    d = arch.dim
    steps = [(hist_tok, hist_ok, t) for t in range(arch.max_history - 1, -1, -1)]
    steps += [(cart_tok, cart_ok, t) for t in range(arch.max_cart)]
    proj_hist = xp.matmul(hist_tok, p["gru_wx"]) + p["gru_b"]
    proj_cart = xp.matmul(cart_tok, p["gru_wx"]) + p["gru_b"]
    h = xp.zeros_like(cart_tok[:, 0, :])
    for tokens, ok, t in steps:
        x = (proj_hist if tokens is hist_tok else proj_cart)[:, t, :]
        m = ok[:, t : t + 1]
        hh = xp.matmul(h, p["gru_wh"])
        z = xp.sigmoid(x[:, :d] + hh[:, :d])
        r = xp.sigmoid(x[:, d : 2 * d] + hh[:, d : 2 * d])
        cand = xp.tanh(x[:, 2 * d :] + r * hh[:, 2 * d :])
        h = h + m * ((1.0 - z) * (cand - h))
    return _layer_norm(xp, h, p["out_ln_g"], p["out_ln_b"])


def feature_terms(
    xp: Any, p: dict[str, Any], c: dict[str, Any], batch: dict[str, Any], u: Any, arch: Architecture,
    post_fit: bool = True,
) -> tuple[Any, Any]:
    """Per-entry item codes and weights of the repeat, co-purchase and item-to-item terms.

    Returns ``(index, value)``, both (B, M): add ``value`` to the score of item ``index``
    (``index == n_items`` is padding). ``c`` holds the constants. ``post_fit=False`` leaves
    out the terms whose weights are chosen after the fit (training, where the item-to-item
    ``alpha`` and the content neighbours' ``kappa`` are not known yet).
    """
    n = arch.n_items
    hist = batch["hist_item"]
    hist_ok = xp.cast(xp.not_equal(hist, n), "float32")
    rep_h = xp.relu(
        xp.take(p["rep_age"], batch["hist_age"], axis=0)
        + xp.take(p["rep_count"], batch["hist_count"], axis=0)
        + xp.take(p["rep_kind"], batch["hist_kind"], axis=0)
        + xp.expand_dims(xp.matmul(u, p["rep_user"]), 1)
        + p["rep_b"]
    )
    rep_val = (xp.sum(rep_h * p["rep_out"], axis=-1) + xp.take(p["rep_item"], hist, axis=0)) * hist_ok

    cart = batch["cart"]
    cart_ok = xp.cast(xp.not_equal(cart, n), "float32")
    nb = xp.take(c["nbr_item"], cart, axis=0)  # (B, C, N)
    cnt = xp.take(c["nbr_count"], cart, axis=0)
    own = xp.reshape(batch["own"], (-1, 1, 1))
    is_target = xp.cast(xp.equal(nb, xp.reshape(batch["target"], (-1, 1, 1))), "float32") * own
    cnt = cnt - is_target
    ci = xp.maximum(xp.expand_dims(xp.take(c["item_count"], cart, axis=0), -1) - own, 1.0)
    cj = xp.maximum(xp.take(c["item_count"], nb, axis=0) - is_target, 1.0)
    cart_len = xp.reshape(xp.sum(cart_ok, axis=1), (-1, 1, 1))
    feats = xp.stack(
        [
            xp.log1p(cnt),
            cnt / ci,
            xp.log1p(cnt) - 0.5 * xp.log1p(ci) - 0.5 * xp.log1p(cj),
            xp.log1p(cj) * 0.25,
            xp.log1p(cart_len + xp.zeros_like(cnt)),
        ],
        axis=-1,
    )
    co_h = xp.relu(
        xp.matmul(feats, p["co_feat"])
        + xp.reshape(xp.matmul(u, p["co_user"]), (-1, 1, 1, arch.feature_hidden))
        + p["co_b"]
    )
    valid = xp.cast(cnt > 0.5, "float32") * xp.expand_dims(cart_ok, -1)
    co_val = xp.sum(co_h * p["co_out"], axis=-1) * valid
    m = arch.max_cart * arch.neighbours
    index = [hist, xp.reshape(nb, (-1, m))]
    value = [rep_val, xp.reshape(co_val, (-1, m))]
    if arch.repeat_window:
        # the whole history's repeats: an MLP of the decayed frequencies, counts and recency,
        # conditioned on the query vector, plus a linear path and a per-item repeat bias
        items, feats = batch["rp_item"], batch["rp_feat"]
        rp_ok = xp.cast(xp.not_equal(items, n), "float32")
        rp_h = xp.relu(
            xp.matmul(feats, p["rp_feat"]) + xp.expand_dims(xp.matmul(u, p["rp_user"]), 1) + p["rp_b"]
        )
        rp_val = (xp.sum(rp_h * p["rp_out"], axis=-1) + xp.sum(feats * p["rp_lin"], axis=-1)
                  + xp.take(p["rp_item"], items, axis=0)) * rp_ok
        index.append(items)
        value.append(rp_val)
        if arch.content_neighbours and post_fit:
            # the products most like each repeat, lifted by how often it is bought
            width = arch.repeat_window * arch.content_neighbours
            lift = xp.take(c["ct_sim"], items, axis=0) * xp.expand_dims(feats[..., 0], -1) * c["ct_kappa"]
            index.append(xp.reshape(xp.take(c["ct_nbr"], items, axis=0), (-1, width)))
            value.append(xp.reshape(lift, (-1, width)))
    if arch.item_item and post_fit:
        # its own, wider cart window: a regression over the whole cart is its point
        k = arch.item_item_cart * arch.item_item
        ii_cart = batch["ii_cart"]
        if arch.item_item_rows:
            ii_cart = xp.take(c["ii_row"], ii_cart, axis=0)
        index.append(xp.reshape(xp.take(c["ii_item"], ii_cart, axis=0), (-1, k)))
        value.append(xp.reshape(xp.take(c["ii_weight"], ii_cart, axis=0) * c["ii_alpha"], (-1, k)))
    return xp.concatenate(index, axis=1), xp.concatenate(value, axis=1)


def full_scores(
    xp: Any, p: dict[str, Any], c: dict[str, Any], batch: dict[str, Any], arch: Architecture,
    drop: Callable = _identity,
) -> Any:
    """Scores (B, n_items) of every catalog item; cart items are *not* masked here."""
    n = arch.n_items
    u = encode(xp, p, batch, arch, drop, c)
    index, value = feature_terms(xp, p, c, batch, u, arch)
    dense = xp.scatter_rows(index, value, n + 1)[:, :n]
    emb, bias = item_table(xp, p, c, arch)
    return xp.matmul(u, xp.transpose(emb[:n])) + bias[:n] + dense
