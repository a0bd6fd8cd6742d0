"""The Keras sequence model as a Scorer (named ``"model"``): fit, score, export.

Fitting is :mod:`cart_recommender.ml.training_loop`'s (Keras is imported there, when a fit
starts); scoring runs the NumPy forward pass serving uses, so the holdout measures exactly what
shoppers will get. The math lives in :mod:`cart_recommender.ml.network`.

Example::

    model = SequenceModel(TrainingConfig(seed=1, time_budget_s=60)).fit(log)
    scores = model.score(queries)          # (len(queries), n_items)
    model.history                          # loss and validation NDCG@10 per epoch
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from cart_recommender.ml.config import EpochCallback, TrainingConfig, TrainingHistory
from cart_recommender.ml.data import EventLog, Query
from cart_recommender.ml.examples import query_inputs
from cart_recommender.ml.export import save_artifact
from cart_recommender.ml.network import Architecture
from cart_recommender.ml.serving import fold_content, query_scores
from cart_recommender.ml.training_loop import train


class SequenceModel:
    """The trained sequence model as a :class:`~cart_recommender.ml.data.Scorer`."""

    name = "model"

    def __init__(self, config: TrainingConfig | None = None) -> None:
        self.config = config or TrainingConfig()
        self.arch: Architecture | None = None
        self.params: dict[str, np.ndarray] = {}
        self.constants: dict[str, np.ndarray] = {}
        self.history = TrainingHistory()
        self.items: list[str] = []

    def fit(
        self,
        log: EventLog,
        progress: EpochCallback | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> SequenceModel:
        self.arch, self.params, self.constants, self.history = train(
            log, self.config, progress=progress, should_stop=should_stop
        )
        self.items = list(log.items)
        return self

    def export(self, target: Any, metrics: dict[str, Any] | None = None,
               extras: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
        """Write the serving artifact (see :mod:`cart_recommender.ml.export`); return its manifest."""
        if self.arch is None:
            raise RuntimeError("fit() the model first")
        training = {"history": self.history.to_dict(), "config": dict(self.config.__dict__)}
        return save_artifact(
            target, items=self.items, arch=self.arch, params=self.params, constants=self.constants,
            metrics=metrics, training=training, extras=extras,
        )

    def score(self, queries: Sequence[Query]) -> np.ndarray:
        if self.arch is None:
            raise RuntimeError("fit() the model first")
        out = np.empty((len(queries), self.arch.n_items), np.float32)
        step = 256
        params, constants, arch = fold_content(self.params, self.constants, self.arch)
        for lo in range(0, len(queries), step):
            part = queries[lo : lo + step]
            out[lo : lo + step] = query_scores(params, constants, query_inputs(part, arch), arch, part)
        return out
