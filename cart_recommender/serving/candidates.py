"""Per-version candidate lists: the model's own top picks for every one-item cart.

A full forward pass costs a few milliseconds of Python and NumPy per request, several times a
bare web request; most of that work is the same for every shopper whose cart holds the same
item. So each web process computes, once per model version, the top ``K`` items the model
scores for the cart ``{i}`` (empty history) for every item ``i``: in batches, in a background
thread, right after the version is loaded. Items not reached yet are computed on demand.

Serving a cart without shopper history then costs a few array lookups: a one-item cart gets
exactly the model's ranking; a larger cart merges its items' lists by summed score (an item
missing from one list counts with that list's lowest kept score), a close and cheap stand-in
for scoring the whole set. Shoppers with a history always get the full forward pass.

Memory: ``n_items x K`` codes and scores (20,000 items x 48: under 8 MB). No Django here.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from cart_recommender.ml.data import History, Query
from cart_recommender.ml.examples import query_inputs
from cart_recommender.ml.serving import forward_numpy

#: Candidates kept per item: what the bundle engine asks for up to a bundle size of 6.
K = 48
BATCH = 256


class CandidateTable:
    """Top-``K`` (code, score) of each one-item cart, filled lazily and in the background."""

    def __init__(self, model: Any, k: int = K) -> None:
        self.model = model
        n = model.n_items
        self.k = max(1, min(k, n - 1))
        self.codes = np.full((n, self.k), -1, dtype=np.int32)
        self.scores = np.full((n, self.k), -np.inf, dtype=np.float32)
        self.done = np.zeros(n, dtype=bool)
        self._arch = replace(model.arch, max_history=0, max_cart=1)  # padding is masked: same scores
        self._stop = threading.Event()

    @property
    def complete(self) -> bool:
        return bool(self.done.all())

    def compute(self, codes: np.ndarray) -> None:
        """Fill the rows of ``codes`` (one batched forward pass)."""
        codes = np.asarray(codes, dtype=np.int32)
        if codes.size == 0:
            return
        queries = [Query(np.array([c], np.int32), History(), 0.0) for c in codes.tolist()]
        scores = forward_numpy(
            self.model.params, self.model.constants, query_inputs(queries, self._arch), self._arch
        )
        rows = np.arange(codes.size)
        scores[rows, codes] = -np.inf
        top = np.argpartition(-scores, self.k - 1, axis=1)[:, : self.k]
        top_scores = np.take_along_axis(scores, top, axis=1)
        order = np.argsort(-top_scores, axis=1, kind="stable")
        self.codes[codes] = np.take_along_axis(top, order, axis=1)
        self.scores[codes] = np.take_along_axis(top_scores, order, axis=1)
        self.done[codes] = True

    def fill(self, batch: int = BATCH) -> None:
        """Compute every row not done yet (the background thread's job); stop() ends it early."""
        n = self.done.shape[0]
        for lo in range(0, n, batch):
            if self._stop.is_set():
                return
            todo = np.flatnonzero(~self.done[lo : lo + batch]) + lo
            self.compute(todo)
            time.sleep(0)  # hand the GIL to waiting requests between batches (see .background)

    def start_filling(self) -> threading.Thread:
        thread = threading.Thread(target=self.fill, name="cart-recommender-candidates", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()

    def ranked(self, cart_codes: Sequence[int], k: int) -> tuple[np.ndarray, np.ndarray]:
        """The best ``k`` (codes, scores) for a cart, cart items excluded, best first."""
        cart = sorted({int(c) for c in cart_codes})  # a cart holds a handful: plain Python
        done = self.done
        missing = [c for c in cart if not done[c]]
        if missing:
            self.compute(np.array(missing, dtype=np.int32))
        if len(cart) == 1:
            row = self.scores[cart[0]]
            keep = int(np.isfinite(row[:k]).sum())
            return self.codes[cart[0], :keep], row[:keep]
        # total(j) = sum of the lists' floors + sum over lists holding j of (score - floor).
        # Plain Python over 2-3 lists of K: on the request path each NumPy call costs
        # microseconds of overhead, more than this whole merge (measured in a live request).
        totals: dict[int, float] = {}
        floors = 0.0
        for codes, scores in zip(self.codes[cart].tolist(), self.scores[cart].tolist(), strict=True):
            floor = scores[-1] if scores[-1] != _NEG_INF else 0.0
            floors += floor
            for code, score in zip(codes, scores, strict=True):
                if score == _NEG_INF:  # unused slots hold -inf, at the end of the row
                    break
                totals[code] = totals.get(code, 0.0) + (score - floor)
        for c in cart:
            totals.pop(c, None)
        best = heapq.nsmallest(k, totals.items(), key=_by_total)  # highest total, then code
        return (
            np.array([code for code, _ in best], dtype=np.int32),
            np.array([total + floors for _, total in best], dtype=np.float32),
        )


_NEG_INF = float("-inf")


def _by_total(entry: tuple[int, float]) -> tuple[float, int]:
    return -entry[1], entry[0]
