"""Serving the trained model with NumPy alone: no Keras, no TensorFlow, no Django.

The web process loads an exported artifact (see :mod:`cart_recommender.ml.export`) once and
scores carts in-process in well under a millisecond. The forward pass is
:func:`cart_recommender.ml.network.full_scores` run on NumPy arrays, the same function Keras
trains, so served scores equal the trained model's (a test checks it).

A :class:`ServingModel` is immutable after loading: ``score`` allocates its own arrays and
never writes to shared state, so one instance serves many threads.

Example::

    model = ServingModel.load("var/models/v12.npz")
    code = model.item_index["85123A"]
    scores = model.score(np.array([code]), History(), now=time.time())
    top = np.argsort(-scores)[:3]
    [model.items[i] for i in top]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

import numpy as np

from cart_recommender.ml import reranker
from cart_recommender.ml.data import History, Query
from cart_recommender.ml.examples import query_inputs
from cart_recommender.ml.export import Artifact, read_artifact
from cart_recommender.ml.network import CONTENT_CONSTANTS, Architecture, encode, full_scores, item_table
from cart_recommender.ml.numpy_ops import NUMPY_OPS

Folded = tuple[dict[str, np.ndarray], dict[str, np.ndarray], Architecture]


def forward_numpy(
    params: dict[str, np.ndarray], constants: dict[str, np.ndarray], batch: dict[str, np.ndarray],
    arch: Architecture,
) -> np.ndarray:
    """Scores (B, n_items) for encoded queries; cart items not masked."""
    return full_scores(NUMPY_OPS, params, constants, batch, arch).astype(np.float32, copy=False)


def query_scores(
    params: dict[str, np.ndarray], constants: dict[str, np.ndarray], batch: dict[str, np.ndarray],
    arch: Architecture, queries: Sequence[Query],
) -> np.ndarray:
    """Scores (B, n_items) of encoded ``queries`` as shoppers get them: each cart at ``-inf``
    and, where the model has a reranker, the best candidates of a shopper with a repeat window
    reordered by it (:func:`cart_recommender.ml.reranker.apply`)."""
    scores = forward_numpy(params, constants, batch, arch)
    n = arch.n_items
    for row, query in enumerate(queries):
        cart = np.asarray(query.cart)
        scores[row, cart[(cart >= 0) & (cart < n)]] = -np.inf
    if not arch.rerank:
        return scores
    fitted = reranker.Reranker({name: value for name, value in params.items() if name.startswith("rr_")})
    pool = (reranker.ContentPool(constants["rr_nbr"], constants["rr_sim"], arch.rerank_content)
            if arch.rerank_content else None)
    return reranker.apply(scores, fitted, batch, n, constants["rr_cat"][:n],
                          np.log1p(constants["item_count"][:n]), arch.rerank, pool=pool,
                          window=arch.rerank_window)


def fold_content(
    params: dict[str, np.ndarray], constants: dict[str, np.ndarray], arch: Architecture
) -> Folded:
    """The same model with its content term folded into the item table, for scoring many batches.

    Every item's vector and bias are computed once (:func:`~cart_recommender.ml.network.item_table`)
    and stored as ``item_emb``/``item_bias`` of a model without content, whose scores are the same
    (within float rounding) at the cost of a model without content. Without content: unchanged.
    """
    if not arch.content_width:
        return params, constants, arch
    emb, bias = item_table(NUMPY_OPS, params, constants, arch)
    folded = {k: v for k, v in params.items() if k not in ("tok_emb", "tok_bias")}
    folded.update(item_emb=np.asarray(emb, np.float32), item_bias=np.asarray(bias, np.float32))
    plain = {k: v for k, v in constants.items() if k not in CONTENT_CONSTANTS and k != "ct_vocab"}
    return folded, plain, replace(arch, content_width=0, content_vocab=0)


@dataclass(frozen=True)
class ServingModel:
    """A loaded artifact: the catalog ids, the model's weights and the fallback statistics.

    Attributes:
        items: external item ids; an item's code is its position.
        item_index: external id -> code.
        arch: the architecture the weights belong to.
        manifest: the artifact's JSON manifest (format version, metrics, created, ...).
        popularity: float32 (n_items,) purchase counts, for fallbacks and reasons.
        neighbours, neighbour_count: int32 / float32 (n_items, N) co-purchase partners per item
            (padded with -1 / 0), for fallbacks and "bought together" reasons.
        extras: any further named arrays the exporter stored (e.g. a baseline's arrays).
    """

    items: tuple[str, ...]
    item_index: dict[str, int]
    arch: Architecture
    manifest: dict[str, Any]
    params: dict[str, np.ndarray]
    constants: dict[str, np.ndarray]
    popularity: np.ndarray
    neighbours: np.ndarray
    neighbour_count: np.ndarray
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    #: params, constants and architecture with the content term folded in (what scoring runs)
    folded: Folded | None = None

    @classmethod
    def load(cls, source: str | Path | IO[bytes]) -> ServingModel:
        """Load an artifact written by :func:`cart_recommender.ml.export.save_artifact`."""
        return cls.from_artifact(read_artifact(source))

    @classmethod
    def from_artifact(cls, artifact: Artifact) -> ServingModel:
        n = artifact.arch.n_items
        neighbours = artifact.constants["nbr_item"][:n].copy()
        neighbours[neighbours == n] = -1  # padding, as the fallbacks and reasons read it
        neighbours.setflags(write=False)
        return cls(
            items=artifact.items,
            item_index={item: code for code, item in enumerate(artifact.items)},
            arch=artifact.arch,
            manifest=artifact.manifest,
            params=artifact.params,
            constants=artifact.constants,
            popularity=artifact.popularity,
            neighbours=neighbours,
            neighbour_count=artifact.constants["nbr_count"][:n],
            extras=artifact.extras,
            folded=fold_content(artifact.params, artifact.constants, artifact.arch),
        )

    @property
    def n_items(self) -> int:
        return len(self.items)

    def codes(self, ids: Sequence[str]) -> np.ndarray:
        """Codes of the known ids among ``ids`` (unknown ones are dropped)."""
        return np.asarray([self.item_index[i] for i in ids if i in self.item_index], np.int32)

    def score(self, cart_codes: np.ndarray, history: History | None = None, now: float = 0.0) -> np.ndarray:
        """Float32 scores (n_items,) for one cart; cart items get ``-inf``."""
        return self.score_batch([Query(np.asarray(cart_codes, np.int32), history or History(), now)])[0]

    def score_batch(self, queries: Sequence[Query]) -> np.ndarray:
        """Float32 scores (len(queries), n_items); each query's cart items get ``-inf`` (and a
        shopper's best candidates are reordered where the model has a reranker)."""
        batch = query_inputs(queries, self.arch)
        params, constants, arch = self.folded or (self.params, self.constants, self.arch)
        return query_scores(params, constants, batch, arch, queries)

    def shopper_vectors(self, histories: Sequence[History], now: float, step: int = 256) -> np.ndarray:
        """Float32 ``(len(histories), dim)``: the query vector of each history with an empty cart.

        Where the model places a shopper before they add anything: what segments read as "what
        the model learnt this shopper wants". History item codes are this model's.
        """
        params, constants, arch = self.folded or (self.params, self.constants, self.arch)
        out = np.zeros((len(histories), arch.dim), np.float32)
        empty = np.zeros(0, np.int32)
        for lo in range(0, len(histories), step):
            queries = [Query(empty, h, now) for h in histories[lo : lo + step]]
            batch = query_inputs(queries, arch)
            out[lo : lo + step] = np.asarray(encode(NUMPY_OPS, params, batch, arch, c=constants), np.float32)
        return out
