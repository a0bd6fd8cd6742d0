"""The active model version inside each web process: loaded once, swapped without a restart.

Every process holds one :class:`ServingState`: the active version's NumPy serving model (see
:mod:`cart_recommender.ml.serving`; no Keras in the web process), the merchant's bundle rules
and a ``token`` naming both, used in cache keys. A process notices another active version
within ``MODEL_CHECK_SECONDS``: the first request after that interval runs three small queries
(active version, latest activation, rules) and loads the new artifact if it changed. In the
process that activates, the ``model_activated`` signal makes the very next request check. While
no version is active, or its artifact cannot be read, the state has no model and the bundle
engine serves from the SQL fallbacks.

Example::

    state = scoring.get_state()
    state.label  # "12", or "baseline" while no model serves
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from cart_recommender.conf import app_settings
from cart_recommender.ml.data import KIND_CODE, PURCHASE, History

logger = logging.getLogger(__name__)

#: serving_method values a loaded artifact can serve from its own arrays.
MODEL_METHODS = ("model", "copurchase", "personal", "popularity")


class Candidate(NamedTuple):
    """A product proposed by a scorer, with what explains it.

    ``anchor`` is the cart item it is most often bought with (for "Often bought with ..."),
    ``repeat`` says the shopper bought it before. A named tuple: the serving path makes a few
    dozen per request, and a frozen dataclass costs several times as much to create.
    """

    key: str
    score: float
    anchor: str | None = None
    repeat: bool = False


@dataclass
class ServingState:
    """What one process serves with right now."""

    version_id: int | None = None
    method: str = ""
    model: Any = None
    pins: dict[str, tuple[str, ...]] = field(default_factory=dict)
    blocks: dict[str, frozenset[str]] = field(default_factory=dict)
    token: str = "0"
    table: Any = None  # a CandidateTable while the version serves with the model itself

    @property
    def label(self) -> str:
        """The version that serves, as shown in markup and API answers."""
        return str(self.version_id) if self.model is not None else "baseline"


def _read_rules() -> tuple[str, dict[str, tuple[str, ...]], dict[str, frozenset[str]]]:
    from cart_recommender.models import BundleRule

    rows = sorted(
        (str(p), str(c), k)
        for p, c, k in BundleRule.objects.values_list("product_id", "companion_id", "kind")
    )
    digest = hashlib.blake2b(digest_size=6)
    pins: dict[str, list[str]] = {}
    blocks: dict[str, set[str]] = {}
    for product, companion, kind in rows:
        digest.update(f"{product}\x00{companion}\x00{kind}\x01".encode())
        if kind == "pin":
            pins.setdefault(product, []).append(companion)
        else:
            blocks.setdefault(product, set()).add(companion)
    return (
        digest.hexdigest(),
        {k: tuple(v) for k, v in pins.items()},
        {k: frozenset(v) for k, v in blocks.items()},
    )


def _load_model(version_id: int) -> Any:
    from cart_recommender import artifacts
    from cart_recommender.models import ModelVersion

    version = ModelVersion.objects.get(pk=version_id)
    _blas_single_thread()
    return artifacts.load_serving_model(version)


def _blas_single_thread() -> None:
    """Keep BLAS at one thread: a web worker scores one cart at a time, more threads contend.

    ``OPENBLAS_NUM_THREADS=1`` in the web server's environment does the same before NumPy is
    imported; this covers servers started without it.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        return
    threadpool_limits(1)  # process-wide, kept for the worker's lifetime


class _Holder:
    """The process's state plus when it was last checked against the database."""

    def __init__(self) -> None:
        self.state = ServingState()
        self.checked_at = float("-inf")
        self.lock = threading.Lock()
        self.failed_version: int | None = None

    def current(self) -> ServingState:
        if time.monotonic() - self.checked_at < app_settings.MODEL_CHECK_SECONDS:
            return self.state
        with self.lock:
            if time.monotonic() - self.checked_at >= app_settings.MODEL_CHECK_SECONDS:
                self.state = self._refresh(self.state)
                self.checked_at = time.monotonic()
        return self.state

    def _refresh(self, old: ServingState) -> ServingState:
        from cart_recommender.models import Activation, ModelVersion

        active = (
            ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE)
            .order_by("-pk")
            .values_list("pk", "serving_method")
            .first()
        )
        activation = Activation.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        digest, pins, blocks = _read_rules()
        version_id, method = active if active else (None, "")
        model = old.model if version_id == old.version_id else None
        if version_id is not None and model is None and self.failed_version != version_id:
            try:
                model = _load_model(version_id)
                self.failed_version = None
                logger.info("cart_recommender: serving model version %s (%s)", version_id, method)
            except Exception:
                # an unreadable artifact must not take the shop down: serve the fallbacks
                logger.exception("cart_recommender: cannot load model version %s", version_id)
                self.failed_version = version_id
        if model is None:
            version_id = None
        method = method or "model"
        table = old.table if model is old.model else None
        if old.table is not None and table is None:
            old.table.stop()
        if model is not None and method == "model" and table is None and app_settings.PRECOMPUTE_CANDIDATES:
            from cart_recommender.candidates import CandidateTable

            table = CandidateTable(model)
            table.start_filling()
        return ServingState(
            version_id=version_id,
            method=method,
            model=model,
            table=table,
            pins=pins,
            blocks=blocks,
            token=f"{version_id or 0}.{activation}.{digest}",
        )

    def mark_stale(self) -> None:
        self.checked_at = float("-inf")
        self.failed_version = None

    def reset(self) -> None:
        with self.lock:
            if self.state.table is not None:
                self.state.table.stop()
            self.state = ServingState()
            self.mark_stale()


_holder = _Holder()


def get_state() -> ServingState:
    """This process's serving state, re-checked at most every ``MODEL_CHECK_SECONDS``."""
    return _holder.current()


def check_now(**kwargs: Any) -> None:
    """Make the next request re-check the active version and rules (signal receiver)."""
    _holder.mark_stale()


def reset() -> None:
    """Forget the loaded model and rules (tests, and after settings change)."""
    _holder.reset()


# --------------------------------------------------------------------------- scoring


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
    index = model.item_index
    partners = []  # (cart product, {partner code: orders together}); a few dozen entries each
    for product in cart:
        code = index.get(product)
        if code is not None:
            row = zip(model.neighbours[code].tolist(), model.neighbour_count[code].tolist(), strict=True)
            partners.append((product, dict(row)))
    out = {}
    for key in keys:
        code = index.get(key)
        best, strength = None, 0.0
        for product, together in partners:
            count = together.get(code, 0.0)
            if count > strength:
                best, strength = product, count
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
        scores = np.zeros(model.n_items, dtype=np.float32)
        if cart_codes.size:
            rows = model.neighbours[cart_codes]
            weights = model.neighbour_count[cart_codes] / np.maximum(popularity[cart_codes], 1.0)[:, None]
            valid = rows >= 0
            np.add.at(scores, rows[valid], weights[valid].astype(np.float32))
        return scores + tiebreak * np.float32(1e-3)
    if method == "personal":
        scores = tiebreak.copy()
        bought = history.kind == PURCHASE
        purchases, orders = history.item[bought], history.order[bought]
        if purchases.size:
            pairs = np.unique(np.stack([orders, purchases]), axis=1)
            np.add.at(scores, pairs[1], np.float32(1.0))
        return scores
    return np.asarray(model.score(cart_codes, history, now), dtype=np.float32)
