"""The three baselines every model is measured against, and the serving fallbacks.

* :class:`Popularity` scores an item by the number of training orders that contain it.
* :class:`CoPurchase` scores ``j`` by ``sum over cart items i of n(i, j) / n(i)``, where ``n``
  counts training orders containing the items (an item-to-item conditional probability).
* :class:`Personal` scores ``j`` by how many of the shopper's earlier orders contain it, plus a
  fraction below 1 that grows with popularity, so popularity only breaks ties.

All three implement the :class:`~cart_recommender.ml.data.Scorer` protocol and are NumPy only
(the co-purchase counts are kept as CSR arrays built with NumPy, so no SciPy is needed).

For fast in-process serving and human reasons ("Often bought with X") they export their state
as plain arrays with ``to_arrays()`` and come back with ``from_arrays()``. The array names, all
indexed by the item codes of the fitted log (``log.items``):

``popularity``
    int64 ``(n_items,)``: training orders containing each item (all three baselines).
``neighbour_indptr``
    int64 ``(n_items + 1,)``: CSR row pointers; item ``i``'s neighbours lie in
    ``[neighbour_indptr[i], neighbour_indptr[i + 1])`` (co-purchase only).
``neighbour_items``
    int32: neighbour item codes, most often co-bought first (ties: lower code first).
``neighbour_counts``
    int32: ``n(i, j)``, the training orders holding both items, aligned with ``neighbour_items``.

Example::

    copurchase = CoPurchase().fit(log)
    arrays = copurchase.to_arrays(top_n=50)   # store them with np.savez
    served = CoPurchase.from_arrays(arrays)   # scores from the kept neighbours only
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cart_recommender.ml.data import PURCHASE, EventLog, History, Query

# The most item pairs generated at once while counting co-purchases.
_PAIRS_PER_CHUNK = 1 << 23
# Catalogs with at most this many item pairs count co-purchases in (and score from) a dense square.
_DENSE_CELLS = 1 << 25
_DENSE_MIN_QUERIES = 256
# Incremental co-purchase sums are redone from scratch after this many updates (rounding drift).
_MAX_UPDATES = 64


def basket_items(log: EventLog) -> tuple[np.ndarray, np.ndarray]:
    """The distinct ``(order, item)`` pairs of the log's purchases, sorted by order then item.

    Purchases without an order (code -1) belong to no basket and are left out.
    """
    keep = (log.kind == PURCHASE) & (log.order >= 0)
    n = max(log.n_items, 1)
    keys = np.unique(log.order[keep].astype(np.int64) * n + log.item[keep])
    return (keys // n).astype(np.int32), (keys % n).astype(np.int32)


def order_counts(log: EventLog) -> np.ndarray:
    """int64 ``(n_items,)``: how many orders of the log contain each item.

    This is the popularity the protocol also uses to break ties (see ``ml/metrics.py``).
    """
    _orders, items = basket_items(log)
    return np.bincount(items, minlength=log.n_items).astype(np.int64)


def popularity_tiebreak(popularity: np.ndarray) -> np.ndarray:
    """float64 in ``[0, 1)``, increasing with popularity: added to integer scores to break ties."""
    return popularity.astype(np.float64) / (float(popularity.max(initial=0)) + 1.0)


def co_purchase_counts(log: EventLog) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR ``(indptr, indices, counts)`` of ``n(i, j)`` for ``i != j``, columns ascending.

    Item pairs are generated order by order in bounded chunks, so memory follows the number of
    distinct pairs, not the (much larger) number of pair occurrences.
    """
    n = log.n_items
    orders, items = basket_items(log)
    starts = np.flatnonzero(np.r_[True, orders[1:] != orders[:-1]]) if len(orders) else np.zeros(0, int)
    sizes = np.diff(np.r_[starts, len(orders)])
    dense = np.zeros(n * n if n * n <= _DENSE_CELLS else 0, np.int64)
    keys_parts: list[np.ndarray] = []
    count_parts: list[np.ndarray] = []
    group = 0
    while group < len(starts):
        # Take whole orders until the chunk holds about _PAIRS_PER_CHUNK pairs (at least one order).
        cum = np.cumsum(sizes[group:].astype(np.int64) ** 2)
        stop = group + max(1, int(np.searchsorted(cum, _PAIRS_PER_CHUNK, side="right")))
        g_start, g_size = starts[group:stop], sizes[group:stop]
        # One entry per element of these orders: where its order starts and how big it is.
        elem_start = np.repeat(g_start, g_size)
        elem_size = np.repeat(g_size, g_size)
        elem = np.arange(g_start[0], g_start[-1] + g_size[-1])
        left = np.repeat(elem, elem_size)
        offsets = np.arange(len(left)) - np.repeat(np.cumsum(elem_size) - elem_size, elem_size)
        right = np.repeat(elem_start, elem_size) + offsets
        keep = left != right
        keys = items[left[keep]].astype(np.int64) * n + items[right[keep]]
        if len(dense):  # small catalogs: counting into a dense square beats sorting the keys
            dense += np.bincount(keys, minlength=n * n)
        else:
            uniq, counts = np.unique(keys, return_counts=True)
            keys_parts.append(uniq)
            count_parts.append(counts)
        group = stop
    if len(dense):
        uniq = np.flatnonzero(dense)
        counts = dense[uniq].astype(np.int32)
    elif keys_parts:
        all_keys = np.concatenate(keys_parts)
        uniq, inverse = np.unique(all_keys, return_inverse=True)
        counts = np.bincount(inverse, weights=np.concatenate(count_parts)).astype(np.int32)
    else:
        uniq, counts = np.zeros(0, np.int64), np.zeros(0, np.int32)
    rows = uniq // max(n, 1)
    indptr = np.r_[0, np.cumsum(np.bincount(rows, minlength=n))].astype(np.int64)
    return indptr, (uniq % max(n, 1)).astype(np.int32), counts


def _known(codes: np.ndarray, n_items: int) -> np.ndarray:
    """Drop unknown (-1) and out-of-range codes: scorers ignore items they were not fitted on."""
    codes = np.asarray(codes, dtype=np.int64)
    return codes[(codes >= 0) & (codes < n_items)]


class Popularity:
    """Most-bought items first, whatever the cart or the shopper."""

    name = "popularity"

    def __init__(self) -> None:
        self.popularity = np.zeros(0, np.int64)

    def fit(self, log: EventLog) -> Popularity:
        self.popularity = order_counts(log)
        return self

    @property
    def n_items(self) -> int:
        return len(self.popularity)

    def score(self, queries: Sequence[Query]) -> np.ndarray:
        row = self.popularity.astype(np.float32)
        return np.broadcast_to(row, (len(queries), len(row))).copy()

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"popularity": self.popularity.copy()}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Popularity:
        scorer = cls()
        scorer.popularity = np.asarray(arrays["popularity"], dtype=np.int64)
        return scorer


class CoPurchase:
    """Items often bought together with the cart's items (sum of ``n(i, j) / n(i)``)."""

    name = "copurchase"

    def __init__(self) -> None:
        self.popularity = np.zeros(0, np.int64)
        self.indptr = np.zeros(1, np.int64)
        self.indices = np.zeros(0, np.int32)
        self.counts = np.zeros(0, np.int32)
        self._weights = np.zeros(0, np.float32)
        self._dense: np.ndarray | None = None

    @property
    def n_items(self) -> int:
        return len(self.popularity)

    def fit(self, log: EventLog) -> CoPurchase:
        self.popularity = order_counts(log)
        self.indptr, self.indices, self.counts = co_purchase_counts(log)
        self._prepare()
        return self

    def _prepare(self) -> None:
        rows = np.repeat(np.arange(self.n_items), np.diff(self.indptr))
        denominators = np.maximum(self.popularity[rows], 1).astype(np.float64)
        self._weights = (self.counts / denominators).astype(np.float32)
        self._dense = None

    def _dense_rows(self, n_queries: int) -> np.ndarray | None:
        """The weights as a dense square, built on the first large batch of a small catalog.

        Co-purchases are dense on small catalogs (half of all pairs on Online Retail), and
        summing dense rows is then much faster than gathering CSR entries; a server scoring one
        cart at a time never pays for the square.
        """
        n = self.n_items
        if self._dense is None and n_queries >= _DENSE_MIN_QUERIES and n * n <= _DENSE_CELLS:
            rows = np.repeat(np.arange(n), np.diff(self.indptr))
            dense = np.zeros((n, n), np.float32)
            dense[rows, self.indices] = self._weights
            self._dense = dense
        return self._dense

    def neighbours(self, item: int, top_n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Codes and counts of the items most often bought with ``item``, most frequent first."""
        lo, hi = self.indptr[item], self.indptr[item + 1]
        codes, counts = self.indices[lo:hi], self.counts[lo:hi]
        order = np.lexsort((codes, -counts.astype(np.int64)))[:top_n]
        return codes[order], counts[order]

    def score(self, queries: Sequence[Query]) -> np.ndarray:
        """Sum the cart items' rows; each query whose cart differs little from the previous one's
        (leave-one-out on one order, a cart growing an item at a time) updates that sum instead."""
        n = self.n_items
        out = np.zeros((len(queries), n), np.float32)
        dense = self._dense_rows(len(queries))

        def row_sum(items: np.ndarray) -> np.ndarray:
            if dense is None:
                return self._sparse_row_sum(items)
            if len(items) == 1:  # the usual update: one row in, one out
                return dense[items[0]]
            return dense[items].sum(axis=0, dtype=np.float64)

        previous = np.zeros(0, np.int64)
        previous_mask = np.zeros(n, bool)
        total = np.zeros(n, np.float64)
        updates = 0
        for row, query in enumerate(queries):
            mask = np.zeros(n, bool)
            mask[_known(query.cart, n)] = True
            cart = np.flatnonzero(mask)  # distinct (an item twice in a cart counts once), sorted
            added = cart[~previous_mask[cart]]
            removed = previous[~mask[previous]]
            if len(added) + len(removed) < len(cart) and updates < _MAX_UPDATES:
                if len(added):
                    total += row_sum(added)
                if len(removed):
                    total -= row_sum(removed)
                updates += 1
            else:
                total = row_sum(cart).astype(np.float64)
                updates = 0
            out[row] = total
            previous, previous_mask = cart, mask
        return out

    def _sparse_row_sum(self, items: np.ndarray) -> np.ndarray:
        starts, ends = self.indptr[items], self.indptr[items + 1]
        lengths = ends - starts
        # The concatenated CSR ranges [start, end) of the items' rows.
        positions = np.arange(int(lengths.sum())) + np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
        return np.bincount(self.indices[positions], weights=self._weights[positions], minlength=self.n_items)

    def to_arrays(self, top_n: int | None = 50) -> dict[str, np.ndarray]:
        """The state as plain arrays (see the module docstring); keeps ``top_n`` neighbours per item."""
        rows = np.repeat(np.arange(self.n_items), np.diff(self.indptr))
        order = np.lexsort((self.indices, -self.counts.astype(np.int64), rows))
        rank = np.arange(len(order)) - self.indptr[rows[order]]
        kept = order[rank < top_n] if top_n is not None else order
        lengths = np.bincount(rows[kept], minlength=self.n_items)
        return {
            "popularity": self.popularity.copy(),
            "neighbour_indptr": np.r_[0, np.cumsum(lengths)].astype(np.int64),
            "neighbour_items": self.indices[kept].astype(np.int32),
            "neighbour_counts": self.counts[kept].astype(np.int32),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> CoPurchase:
        scorer = cls()
        scorer.popularity = np.asarray(arrays["popularity"], dtype=np.int64)
        scorer.indptr = np.asarray(arrays["neighbour_indptr"], dtype=np.int64)
        scorer.indices = np.asarray(arrays["neighbour_items"], dtype=np.int32)
        scorer.counts = np.asarray(arrays["neighbour_counts"], dtype=np.int32)
        scorer._prepare()
        return scorer


class Personal:
    """Repeat purchases: items in more of the shopper's earlier orders first; popularity breaks ties.

    Only purchase events of the query's history count, each order once per item; a history
    without order codes counts each purchase event as its own order.
    """

    name = "personal"

    def __init__(self) -> None:
        self.popularity = np.zeros(0, np.int64)
        self._tiebreak = np.zeros(0, np.float64)

    @property
    def n_items(self) -> int:
        return len(self.popularity)

    def fit(self, log: EventLog) -> Personal:
        return self._set(order_counts(log))

    def _set(self, popularity: np.ndarray) -> Personal:
        self.popularity = popularity
        self._tiebreak = popularity_tiebreak(popularity)
        return self

    def repeat_counts(self, history: History) -> np.ndarray:
        """int64 ``(n_items,)``: how many of the history's orders contain each item."""
        n = self.n_items
        items = np.asarray(history.item, dtype=np.int64)
        kinds = np.asarray(history.kind)
        orders = np.asarray(history.order, dtype=np.int64)
        keep = (items >= 0) & (items < n)
        if len(kinds) == len(items):
            keep &= kinds == PURCHASE
        if len(orders) != len(items):
            orders = np.arange(len(items))
        keys = np.unique(orders[keep] * n + items[keep]) if keep.any() else np.zeros(0, np.int64)
        return np.bincount(keys % n if n else keys, minlength=n)

    def score(self, queries: Sequence[Query]) -> np.ndarray:
        out = np.empty((len(queries), self.n_items), np.float32)
        done: dict[int, np.ndarray] = {}  # queries of one order share their History object
        for row, query in enumerate(queries):
            scores = done.get(id(query.history))
            if scores is None:
                scores = (self.repeat_counts(query.history) + self._tiebreak).astype(np.float32)
                done[id(query.history)] = scores
            out[row] = scores
        return out

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"popularity": self.popularity.copy()}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Personal:
        return cls()._set(np.asarray(arrays["popularity"], dtype=np.int64))


class CategoryPopularity:
    """Items of the cart's own categories first, the most bought first: the honest reference
    for items with little or no history, which only their category places.

    ``j`` scores the number of cart items in ``j``'s category (its full path), plus a fraction
    below 1 that grows with popularity. Without categories (``log.content`` holds none) it is
    :class:`Popularity`. Reported in evaluations, never served.
    """

    name = "category_popularity"

    def __init__(self) -> None:
        self.popularity = np.zeros(0, np.int64)
        self.category = np.zeros(0, np.int64)  # code per item; ``_none``: no category
        self._none = 0
        self._tiebreak = np.zeros(0, np.float64)

    @property
    def n_items(self) -> int:
        return len(self.popularity)

    def fit(self, log: EventLog) -> CategoryPopularity:
        self.popularity = order_counts(log)
        self._tiebreak = popularity_tiebreak(self.popularity)
        paths = log.content.category if log.content is not None else [""] * log.n_items
        codes: dict[str, int] = {}
        raw = [codes.setdefault(path, len(codes)) if path else -1 for path in paths]
        self._none = len(codes)
        self.category = np.asarray([c if c >= 0 else self._none for c in raw], np.int64)
        return self

    def score(self, queries: Sequence[Query]) -> np.ndarray:
        shared = np.zeros((len(queries), self._none + 1), np.float64)
        for row, query in enumerate(queries):
            np.add.at(shared[row], self.category[_known(query.cart, self.n_items)], 1.0)
        shared[:, self._none] = 0.0  # "no category" is no category to share
        return (shared[:, self.category] + self._tiebreak).astype(np.float32)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Nothing: it is measured, never served, so an artifact needs none of it."""
        return {}
