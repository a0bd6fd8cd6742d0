"""Scoring a cart with the serving state's model: candidates, their anchors, per-method scores.

The version's ``serving_method`` is the scorer that won its holdout: the model itself, or a
baseline recomputed here from the artifact's plain arrays (so a version that serves
co-purchase counts still needs no query). No Django here beyond the state it is given.

Example::

    candidates = model_candidates(state.get_state(), cart=["85123A"], history=[], now=time.time(), k=48)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np

from cart_recommender.ml.data import KIND_CODE, PURCHASE, History
from cart_recommender.ml.features import baskets_of, decayed_frequency
from cart_recommender.serving.state import ServingState


class Candidate(NamedTuple):
    """A product proposed by a scorer, with what explains it.

    ``anchor`` is the cart item it is most often bought with (for "Often bought with ..."),
    or, with ``same_range``, the cart item it is most like in content (for "Goes with your
    ...: same range"); ``repeat`` says the shopper bought it before. A named tuple: the serving
    path makes a few dozen per request, and a frozen dataclass costs several times as much to
    create.
    """

    key: str
    score: float
    anchor: str | None = None
    repeat: bool = False
    same_range: bool = False


def model_candidates(
    state: ServingState, cart: Sequence[str], history: Sequence[Any], now: float, k: int
) -> Iterator[Candidate] | None:
    """Top ``k`` products of the active version for this cart, best first, or None.

    None means the version cannot tell: no model is loaded, or it knows none of the cart's
    products and nothing of the shopper's history (a brand-new product: the SQL co-purchase
    counts may know more). Candidates carry no anchor yet: :func:`anchor` finds it for the
    few that end up in the bundle.
    """
    model = state.model
    if model is None:
        return None
    index = model.item_index
    codes = [index[c] for c in cart if c in index]
    known = [(index[h.product], h) for h in history if h.product in index]
    if not codes and not known:
        return None
    if state.table is not None and not known and k <= state.table.k:
        top, top_scores = state.table.ranked(codes, k)
    else:
        cart_codes = np.array(codes, dtype=np.int32)
        scores = _score(model, state.method, cart_codes, _history(known), now)
        scores[cart_codes] = -np.inf
        k = min(k, scores.shape[0])
        if k <= 0:
            return iter(())
        top = np.argpartition(-scores, k - 1)[:k] if k < scores.shape[0] else np.arange(k)
        top = top[np.argsort(-scores[top], kind="stable")]
        top_scores = scores[top]
    bought = {code for code, h in known if h.event_type == "purchase"}
    items = model.items
    # a generator: the bundle engine usually needs only the first dozen
    return (
        Candidate(key=items[code], score=score, repeat=code in bought)
        for code, score in zip(top.tolist(), top_scores.tolist(), strict=True)
        if score != -np.inf
    )


def anchors(state: ServingState, keys: Sequence[str], cart: Sequence[str]) -> dict[str, str]:
    """For each of ``keys``, the cart product it is most often bought with (per the version's
    co-purchase arrays; on a tie the earlier cart item); keys bought with no cart product are
    left out."""
    model = state.model
    if model is None or not keys:
        return {}
    return _strongest(model.item_index, keys, cart, model.neighbours, model.neighbour_count)


def range_anchors(state: ServingState, keys: Sequence[str], cart: Sequence[str]) -> dict[str, str]:
    """For each of ``keys``, the cart product it is most like in content, where the version's
    reranker keeps content neighbours (``rr_nbr``: nearest products by name words within a
    category): what explains a pick that nothing was bought with yet. Keys like no cart
    product are left out."""
    model = state.model
    if model is None or not keys or "rr_nbr" not in model.constants:
        return {}
    return _strongest(model.item_index, keys, cart, model.constants["rr_nbr"], model.constants["rr_sim"])


def _strongest(index: dict[str, int], keys: Sequence[str], cart: Sequence[str], partner: np.ndarray,
               strength: np.ndarray) -> dict[str, str]:
    """Each key's cart product with the strongest link to it (``partner[code]`` / ``strength[code]``:
    a product's linked codes and how strongly; on a tie the earlier cart product)."""
    partners = []  # (cart product, {partner code: strength}); a few dozen entries each
    for product in cart:
        code = index.get(product)
        if code is not None:
            row = zip(partner[code].tolist(), strength[code].tolist(), strict=True)
            partners.append((product, dict(row)))
    out = {}
    for key in keys:
        code = index.get(key)
        best, most = None, 0.0
        for product, linked in partners:
            value = linked.get(code, 0.0)
            if value > most:
                best, most = product, value
        if best is not None:
            out[key] = best
    return out


def _history(known: list[tuple[int, Any]]) -> History:
    n = len(known)
    orders: dict[str, int] = {}
    return History(
        item=np.fromiter((code for code, _ in known), dtype=np.int32, count=n),
        time=np.fromiter((h.timestamp.timestamp() for _, h in known), dtype=np.float64, count=n),
        kind=np.fromiter((KIND_CODE[h.event_type] for _, h in known), dtype=np.int8, count=n),
        order=np.fromiter(
            (orders.setdefault(h.order_ref, len(orders)) if h.order_ref else -1 for _, h in known),
            dtype=np.int32,
            count=n,
        ),
    )


def _copurchase(model: Any, cart_codes: np.ndarray, popularity: np.ndarray) -> np.ndarray:
    """Sum over the cart of ``n(i, j) / n(i)``, from the artifact's kept co-purchase partners."""
    scores = np.zeros(model.n_items, dtype=np.float32)
    if cart_codes.size:
        rows = model.neighbours[cart_codes]
        weights = model.neighbour_count[cart_codes] / np.maximum(popularity[cart_codes], 1.0)[:, None]
        valid = rows >= 0
        np.add.at(scores, rows[valid], weights[valid].astype(np.float32))
    return scores


def _score(model: Any, method: str, cart_codes: np.ndarray, history: Any, now: float) -> np.ndarray:
    """Float32 scores of every item by the version's serving method (a writable copy).

    The version's ``serving_method`` is the scorer that won on the holdout: the model itself,
    or a baseline recomputed here from the artifact's plain arrays.
    """
    popularity = np.asarray(model.popularity, dtype=np.float32)
    tiebreak = popularity / (float(popularity.max(initial=0.0)) + 1.0)
    if method == "popularity":
        return tiebreak.copy()
    if method == "copurchase":
        return _copurchase(model, cart_codes, popularity) + tiebreak * np.float32(1e-3)
    if method == "repeat_decay":
        chosen = model.extras.get("repeat_decay/params")
        decay, beta = (float(v) for v in chosen) if chosen is not None else (0.9, 0.3)
        mine = decayed_frequency(baskets_of(history, model.n_items), model.n_items, decay)
        cop = _copurchase(model, cart_codes, popularity)
        return (mine + np.float32(beta) * cop + tiebreak * np.float32(1e-6)).astype(np.float32)
    if method == "personal":
        scores = tiebreak.copy()
        bought = history.kind == PURCHASE
        purchases, orders = history.item[bought], history.order[bought]
        if purchases.size:
            pairs = np.unique(np.stack([orders, purchases]), axis=1)
            np.add.at(scores, pairs[1], np.float32(1.0))
        return scores
    return np.asarray(model.score(cart_codes, history, now), dtype=np.float32)
