"""Repeat-aware baselines: the shopper's own decayed purchase history, and TIFU-KNN.

On household data most of a basket is what the household bought before, and the literature
finds counting hard to beat there ("A Next Basket Recommendation Reality Check", Li et al.,
TOIS 2023). Two honest references, each with its few parameters chosen on a time-based
validation split *inside* the training data (protocol v1 applied to the training log: its
newest orders), never on the test orders; ``params`` reports the choice:

* :class:`RepeatDecay`: every earlier order of the shopper weighted ``decay ** (orders since)``,
  normalised to sum to 1 over the orders, plus ``beta`` times the co-purchase score of the cart
  (:class:`~cart_recommender.ml.baselines.CoPurchase`).
* :class:`TifuKNN`: TIFU-KNN (Hu et al., SIGIR 2020): the shopper's baskets in groups of
  ``group`` (oldest first), decayed within a group by ``within`` and across groups by
  ``across``; that vector mixed, ``alpha`` to ``1 - alpha``, with the mean vector of the ``k``
  most similar training shoppers (cosine, the shopper themselves left out); plus ``beta`` times
  co-purchase.

Both are NumPy only. A shopper without history gets the co-purchase part alone, then popularity.

Example::

    scorer = RepeatDecay().fit(split.train)
    scorer.params    # {"decay": 0.9, "beta": 0.3, "val_ndcg@10": ...}
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cart_recommender.ml import protocol
from cart_recommender.ml.baselines import CoPurchase, order_counts, popularity_tiebreak
from cart_recommender.ml.data import PURCHASE, EventLog, History, Query
from cart_recommender.ml.features import baskets_of, decayed_frequency
from cart_recommender.ml.metrics import metrics_from_ranks, target_ranks, tie_priority

#: Orders of the validation split the parameters are chosen on (protocol v1 on the training log).
VALIDATION_ORDERS = 500
_BATCH = 256
#: Personal scores of one query's history for several parameter sets at once (sharing the work
#: they have in common): parameter key -> (n_items,) float64.
Family = Callable[[Query], dict[tuple, np.ndarray]]


def tifu_vector(baskets: Sequence[np.ndarray], n_items: int, group: int, within: float,
                across: float) -> np.ndarray:
    """The TIFU user vector: grouped, decayed averages of the basket vectors."""
    out = np.zeros(n_items, np.float64)
    if not baskets:
        return out
    groups = [baskets[i : i + group] for i in range(0, len(baskets), group)]
    for g, members in enumerate(groups):
        inner = np.zeros(n_items, np.float64)
        weights = within ** np.arange(len(members) - 1, -1, -1, dtype=np.float64)
        for basket, weight in zip(members, weights, strict=True):
            inner[basket] += weight
        out += across ** (len(groups) - 1 - g) * inner / weights.sum()
    return out / len(groups)


def query_shopper(query: Query) -> int:
    return int(query.shopper)


class _Validation:
    """A validation split of a training log, walked batch by batch with its co-purchase scores.

    Nothing of size (queries x items) is kept: each candidate parameter set is scored batch by
    batch, so the search fits a 30,000-item catalogue in a few hundred MB.
    """

    def __init__(self, log: EventLog) -> None:
        self.split = protocol.split(log, max_test_orders=VALIDATION_ORDERS)
        self.train = self.split.train
        self.copurchase = CoPurchase().fit(self.train)
        self.priority = tie_priority(order_counts(self.train), self.train.items)

    def __bool__(self) -> bool:
        return bool(self.split.queries)

    def batches(self) -> Iterator[tuple[slice, list[Query], np.ndarray]]:
        queries = self.split.queries
        for lo in range(0, len(queries), _BATCH):
            batch = queries[lo : lo + _BATCH]
            yield slice(lo, lo + len(batch)), batch, self.copurchase.score(batch)

    def search(self, families: Sequence[Family], betas: Sequence[float]) -> tuple[tuple, float, float]:
        """The parameters with the best validation NDCG@10: ``(parameter key, beta, ndcg)``."""
        ranks: dict[tuple[tuple, float], list[np.ndarray]] = {}
        for rows, batch, cop in self.batches():
            targets, carts = self.split.targets[rows], [q.cart for q in batch]
            for family in families:
                per_history: dict[int, dict[tuple, np.ndarray]] = {}
                for query in batch:
                    if id(query.history) not in per_history:
                        per_history[id(query.history)] = family(query)
                for key in per_history[id(batch[0].history)]:
                    mine = np.stack([per_history[id(q.history)][key] for q in batch]).astype(np.float32)
                    for beta in betas:
                        ranks.setdefault((key, beta), []).append(
                            target_ranks(mine + np.float32(beta) * cop, targets, carts, self.priority))
        scored = {k: float(metrics_from_ranks(np.concatenate(v), ks=())["ndcg@10"]) for k, v in ranks.items()}
        (key, beta), ndcg = max(scored.items(), key=lambda kv: kv[1])  # the first best on a tie
        return key, beta, ndcg


class _RepeatScorer:
    """The shared part: co-purchase fitted on the log, parameters chosen on its validation split."""

    name = ""
    DEFAULTS: dict[str, Any] = {}

    def __init__(self) -> None:
        self.copurchase = CoPurchase()
        self._tiebreak = np.zeros(0, np.float64)
        self.params: dict[str, Any] = dict(self.DEFAULTS)

    @property
    def n_items(self) -> int:
        return self.copurchase.n_items

    def fit(self, log: EventLog) -> _RepeatScorer:
        validation = _Validation(log)
        self.params = self.choose(validation) if validation else dict(self.DEFAULTS)
        self.copurchase = CoPurchase().fit(log)
        self._tiebreak = popularity_tiebreak(self.copurchase.popularity)
        self.prepare(log)
        return self

    def choose(self, validation: _Validation) -> dict[str, Any]:
        raise NotImplementedError

    def prepare(self, log: EventLog) -> None:
        """What scoring needs from the whole training log besides co-purchase (TIFU: shoppers)."""

    def personal(self, query: Query) -> np.ndarray:
        raise NotImplementedError

    def score(self, queries: Sequence[Query]) -> np.ndarray:
        out = np.empty((len(queries), self.n_items), np.float32)
        cop = self.copurchase.score(queries)
        beta = np.float32(self.params["beta"])
        tiebreak = (1e-6 * self._tiebreak).astype(np.float32)
        done: dict[int, np.ndarray] = {}  # the queries of one order share their history
        for row, query in enumerate(queries):
            mine = done.get(id(query.history))
            if mine is None:
                mine = done[id(query.history)] = self.personal(query).astype(np.float32)
            out[row] = mine + beta * cop[row] + tiebreak
        return out


class RepeatDecay(_RepeatScorer):
    """The shopper's earlier orders, newer ones weighing more, plus co-purchase of the cart."""

    name = "repeat_decay"
    DECAYS = (0.6, 0.8, 0.9, 0.95, 1.0)
    BETAS = (0.0, 0.1, 0.3, 1.0, 3.0)
    DEFAULTS = {"decay": 0.9, "beta": 0.3}

    def choose(self, validation: _Validation) -> dict[str, Any]:
        family = _decayed(validation.train.n_items, self.DECAYS)
        (decay,), beta, ndcg = validation.search([family], self.BETAS)
        return {"decay": decay, "beta": beta, "val_ndcg@10": round(ndcg, 5)}

    def to_arrays(self) -> dict[str, np.ndarray]:
        """What serving needs besides the co-purchase arrays: the chosen decay and beta."""
        return {"params": np.array([self.params["decay"], self.params["beta"]], np.float64)}

    def personal(self, query: Query) -> np.ndarray:
        decay = float(self.params["decay"])
        return _decayed(self.n_items, (decay,))(query)[(decay,)]


def _decayed(n_items: int, decays: Sequence[float]) -> Family:
    def family(query: Query) -> dict[tuple, np.ndarray]:
        baskets = baskets_of(query.history, n_items)
        return {(decay,): decayed_frequency(baskets, n_items, decay) for decay in decays}

    return family


class TifuKNN(_RepeatScorer):
    """TIFU-KNN: the shopper's grouped, decayed basket vector mixed with their nearest shoppers'."""

    name = "tifuknn"
    SHAPES = ((3, 0.9, 0.7), (7, 0.9, 0.7), (7, 1.0, 0.9))  # (group, within, across)
    KS = (50, 300)
    ALPHAS = (0.5, 0.7, 0.9, 1.0)
    BETAS = (0.0, 0.1, 0.3, 1.0)
    DEFAULTS = {"group": 7, "within": 0.9, "across": 0.7, "k": 300, "alpha": 0.7, "beta": 0.3}

    def __init__(self) -> None:
        super().__init__()
        self._users = _UserVectors.empty()

    def choose(self, validation: _Validation) -> dict[str, Any]:
        n = validation.train.n_items
        families = []
        for shape in self.SHAPES:
            users = _UserVectors.of(validation.train, *shape)
            families += [_tifu(users, n, shape, k, self.ALPHAS) for k in self.KS]
        (group, within, across, k, alpha), beta, ndcg = validation.search(families, self.BETAS)
        return {"group": group, "within": within, "across": across, "k": k, "alpha": alpha, "beta": beta,
                "val_ndcg@10": round(ndcg, 5)}

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Nothing: TIFU-KNN needs every shopper's vector, which an artifact never holds."""
        return {}

    def prepare(self, log: EventLog) -> None:
        p = self.params
        self._users = _UserVectors.of(log, int(p["group"]), float(p["within"]), float(p["across"]))

    def personal(self, query: Query) -> np.ndarray:
        p = self.params
        shape = (int(p["group"]), float(p["within"]), float(p["across"]))
        k, alpha = int(p["k"]), float(p["alpha"])
        return _tifu(self._users, self.n_items, shape, k, (alpha,))(query)[(*shape, k, alpha)]


def _tifu(users: _UserVectors, n_items: int, shape: tuple[int, float, float], k: int,
          alphas: Sequence[float]) -> Family:
    def family(query: Query) -> dict[tuple, np.ndarray]:
        mine = tifu_vector(baskets_of(query.history, n_items), n_items, *shape)
        theirs = users.neighbour_mean(mine, k, exclude=query_shopper(query)) if min(alphas) < 1 else mine
        return {(*shape, k, alpha): alpha * mine + (1 - alpha) * theirs for alpha in alphas}

    return family


@dataclass
class _UserVectors:
    """Every training shopper's TIFU vector as CSR rows (NumPy only), with their norms."""

    shoppers: np.ndarray  # the shopper code of each row
    row_of: np.ndarray  # the row of each stored entry
    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    norms: np.ndarray

    @classmethod
    def empty(cls) -> _UserVectors:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(1, np.int64), np.zeros(0, np.int64),
                   np.zeros(0), np.zeros(0))

    @classmethod
    def of(cls, log: EventLog, group: int, within: float, across: float) -> _UserVectors:
        n = log.n_items
        keep = (log.kind == PURCHASE) & (log.order >= 0) & (log.shopper >= 0)
        order = np.argsort(log.shopper[keep], kind="stable")  # time order kept within a shopper
        shopper, item, basket = log.shopper[keep][order], log.item[keep][order], log.order[keep][order]
        bounds = np.flatnonzero(np.r_[True, shopper[1:] != shopper[:-1], True]) if len(shopper) else [0]
        rows, lengths, indices, data = [], [], [], []
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            history = History(item=item[lo:hi].astype(np.int32), time=np.zeros(hi - lo),
                              kind=np.full(hi - lo, PURCHASE, np.int8), order=basket[lo:hi].astype(np.int32))
            vector = tifu_vector(baskets_of(history, n), n, group, within, across)
            nz = np.flatnonzero(vector)
            rows.append(int(shopper[lo]))
            lengths.append(len(nz))
            indices.append(nz)
            data.append(vector[nz])
        indptr = np.r_[0, np.cumsum(lengths)].astype(np.int64)
        data_all = np.concatenate(data) if data else np.zeros(0)
        row_of = np.repeat(np.arange(len(rows)), lengths)
        norms = np.sqrt(np.bincount(row_of, weights=data_all**2, minlength=len(rows)))
        indices_all = np.concatenate(indices) if indices else np.zeros(0, np.int64)
        return cls(np.asarray(rows, np.int64), row_of, indptr, indices_all, data_all, norms)

    def neighbour_mean(self, vector: np.ndarray, k: int, exclude: int = -1) -> np.ndarray:
        """The mean vector of the ``k`` training shoppers most similar (cosine) to ``vector``."""
        out = np.zeros(len(vector), np.float64)
        norm = float(np.sqrt((vector**2).sum()))
        n_rows = len(self.shoppers)
        if not n_rows or norm == 0.0:
            return out
        sims = np.bincount(self.row_of, weights=self.data * vector[self.indices], minlength=n_rows)
        sims = sims / np.maximum(self.norms * norm, 1e-12)
        sims[self.shoppers == exclude] = -np.inf  # a shopper is not their own neighbour
        k = min(k, int(np.isfinite(sims).sum()))
        if k <= 0:
            return out
        for row in np.argpartition(-sims, k - 1)[:k].tolist():
            lo, hi = self.indptr[row], self.indptr[row + 1]
            out[self.indices[lo:hi]] += self.data[lo:hi]
        return out / k


#: The repeat-aware baselines, in table order.
REPEAT_BASELINES: tuple[type[_RepeatScorer], ...] = (RepeatDecay, TifuKNN)
