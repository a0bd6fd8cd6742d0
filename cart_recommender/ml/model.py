"""The Keras sequence model (the Scorer named ``"model"``) and its training loop.

Keras is imported inside the functions that build or train the model, never at module import:
the web process imports this package's serving side only, and a process that has run a Keras
model cannot fork safely. The backend is TensorFlow unless ``KERAS_BACKEND`` says otherwise;
the model only uses ``keras.ops`` (the math lives in :mod:`cart_recommender.ml.network`).

Example::

    model = SequenceModel(TrainingConfig(seed=1, time_budget_s=60)).fit(log)
    scores = model.score(queries)          # (len(queries), n_items)
    model.history                          # loss and validation NDCG@10 per epoch
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from cart_recommender.ml import itemitem
from cart_recommender.ml.data import EventLog, Query
from cart_recommender.ml.examples import BasketHistories, query_inputs
from cart_recommender.ml.features import baskets_from_log, co_purchase
from cart_recommender.ml.network import Architecture, param_shapes

ProgressCallback = Callable[[int, int, float, float], None]


class TrainingStopped(Exception):
    """Raised when ``should_stop`` asked to cancel before any epoch finished."""


@dataclass
class TrainingConfig:
    """How to train; every field has a default that suits shops from 100 to 100k+ items."""

    seed: int = 42
    max_epochs: int = 20
    time_budget_s: float = 200.0
    batch_size: int = 256
    learning_rate: float = 2e-3
    dropout: float = 0.1
    patience: int = 2
    val_fraction: float = 0.1  # the most recent orders of the log, for early stopping
    max_val_examples: int = 4000
    targets_per_basket: int = 4  # held-out items drawn from each order per epoch
    max_examples_per_epoch: int = 50_000
    full_softmax_max_items: int = 20_000  # above this, sampled softmax
    negatives: int = 1024  # uniform negatives added to the in-batch ones (sampled softmax)
    check_every_batches: int = 10  # how often should_stop and the time budget are checked
    pair_max_basket: int = 100
    encoder: str = "attention"  # "gru": the GRU4Rec-style encoder the choice was measured against
    dim: int = 64
    blocks: int = 1
    heads: int = 2
    max_cart: int = 24
    max_history: int = 32
    neighbours: int = 30
    all_neighbours_max_items: int = 500  # small catalogs keep every co-purchase partner
    item_item: int = 200  # partners per item of the item-to-item (EASE) term; 0: no such term
    item_item_max_items: int = 5000  # the regression covers this many most purchased items
    item_item_max_cart: int = 256  # the term's cart window (99th percentile of carts, at most this)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainingConfig:
        known = cls.__dataclass_fields__
        unknown = set(values) - set(known)
        if unknown:
            raise ValueError(f"Unknown training parameters: {sorted(unknown)}")
        return cls(**values)


@dataclass
class TrainingHistory:
    loss: list[float] = field(default_factory=list)
    val_ndcg: list[float] = field(default_factory=list)
    val_hr: list[float] = field(default_factory=list)
    best_epoch: int = -1
    stopped: str = ""  # "", "early_stopping", "time_budget", "cancelled", "max_epochs"
    seconds: float = 0.0
    examples_seen: int = 0
    #: the item-to-item term: ridge, items covered, alpha and validation NDCG@10 per alpha tried
    item_item: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _keras() -> Any:
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    return keras


class _KerasOps:
    """``keras.ops`` plus the one helper the shared forward pass needs."""

    def __init__(self, ops: Any) -> None:
        self._ops = ops

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ops, name)

    def scatter_rows(self, index: Any, value: Any, cols: int) -> Any:
        o = self._ops
        b = o.shape(index)[0]
        flat = o.expand_dims(o.arange(b, dtype="int32"), 1) * cols + o.cast(index, "int32")
        # A scatter-add into zeros: the sum ``ops.scatter`` computes, but vectorised on every
        # backend (Keras' PyTorch ``scatter`` loops in Python over the B * M entries).
        out = o.scatter_update(o.zeros((b * cols,), "float32"), o.reshape(flat, (-1, 1)),
                               o.reshape(value, (-1,)), reduction="add")
        return o.reshape(out, (-1, cols))


def build_network(arch: Architecture, constants: dict[str, np.ndarray], config: TrainingConfig,
                  item_logq: np.ndarray | None = None) -> Any:
    """Build the Keras model. ``item_logq`` (log sampling probability) enables sampled softmax."""
    from cart_recommender.ml.keras_network import make_network

    return make_network(_keras(), arch, constants, config, item_logq)


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
        progress: ProgressCallback | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> SequenceModel:
        from cart_recommender.ml.training_loop import train

        self.arch, self.params, self.constants, self.history = train(
            log, self.config, progress=progress, should_stop=should_stop
        )
        self.items = list(log.items)
        return self

    def export(self, target: Any, metrics: dict[str, Any] | None = None,
               extras: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
        """Write the serving artifact (see :mod:`cart_recommender.ml.export`); return its manifest."""
        from cart_recommender.ml.export import save_artifact

        if self.arch is None:
            raise RuntimeError("fit() the model first")
        training = {"history": self.history.to_dict(), "config": dict(self.config.__dict__)}
        return save_artifact(
            target, items=self.items, arch=self.arch, params=self.params, constants=self.constants,
            metrics=metrics, training=training, extras=extras,
        )

    def score(self, queries: Sequence[Query]) -> np.ndarray:
        from cart_recommender.ml.serving import forward_numpy

        if self.arch is None:
            raise RuntimeError("fit() the model first")
        out = np.empty((len(queries), self.arch.n_items), np.float32)
        step = 256
        for lo in range(0, len(queries), step):
            batch = query_inputs(queries[lo : lo + step], self.arch)
            out[lo : lo + step] = forward_numpy(self.params, self.constants, batch, self.arch)
        for i, q in enumerate(queries):
            cart = np.asarray(q.cart)
            out[i, cart[(cart >= 0) & (cart < self.arch.n_items)]] = -np.inf
        return out


def prepare(log: EventLog, config: TrainingConfig) -> dict[str, Any]:
    """Everything a training run derives from the log before it touches Keras."""
    n = log.n_items
    baskets = baskets_from_log(log)
    sizes = baskets.sizes()
    # Size the token windows to the data: padding costs attention time and buys nothing.
    big = np.percentile(sizes[sizes >= 2] - 1, 95) if (sizes >= 2).any() else 1
    max_cart = int(np.clip(math.ceil(big), 1, config.max_cart))
    wide = np.percentile(sizes[sizes >= 2] - 1, 99) if (sizes >= 2).any() else 1
    known = baskets.shopper[baskets.shopper >= 0]
    returning = known.size > 0 and np.unique(known).size < known.size
    arch = Architecture(
        n_items=n, dim=config.dim, blocks=config.blocks, heads=config.heads, ffn=2 * config.dim,
        max_cart=max_cart, max_history=config.max_history if returning else 0, encoder=config.encoder,
        item_item=min(config.item_item, n - 1) if n >= 2 else 0,
        item_item_cart=int(np.clip(math.ceil(wide), 1, config.item_item_max_cart)),
        neighbours=max(1, n - 1 if n <= config.all_neighbours_max_items else min(config.neighbours, n - 1)),
    )
    usable = np.flatnonzero(sizes >= 2)
    n_val = int(math.floor(usable.size * config.val_fraction)) if usable.size >= 20 else 0
    train_rows, val_rows = usable[: usable.size - n_val], usable[usable.size - n_val :]
    # Everything the model reads is counted without the validation baskets, so validation sees
    # what a holdout (and serving) sees: statistics from the past only. Counted with the
    # validation period, the co-purchase features knew that period and made the network look
    # better on validation than on the later holdout (Online Retail: validation NDCG@10 0.115,
    # holdout 0.087), which also chose too small an item-to-item weight. training_loop
    # recounts both on every basket for the artifact.
    co = co_purchase(baskets, n, arch.neighbours, config.pair_max_basket, exclude=val_rows)
    counted = (sizes >= 1) & (sizes <= co.max_basket)
    counted[val_rows] = False
    constants = {"nbr_item": co.neighbour, "nbr_count": co.count, "item_count": co.item_count}
    item_item = None
    if arch.item_item:
        item_item = itemitem.fit(
            baskets, n, np.flatnonzero(counted), arch.item_item, config.item_item_max_items
        )
        constants.update(ii_item=item_item.item, ii_weight=item_item.weight, ii_row=item_item.row,
                         ii_alpha=np.zeros(1, np.float32))
        arch = replace(arch, item_item_rows=item_item.rows)
    counts = co.item_count[:n].astype(np.float64) + 1.0
    return {
        "arch": arch,
        "baskets": baskets,
        "counted": counted,
        "constants": constants,
        "train": BasketHistories(log, baskets, arch, train_rows),
        "val": BasketHistories(log, baskets, arch, val_rows),
        "item_prob": counts / counts.sum(),
        "item_item": item_item,
    }


def shapes_summary(arch: Architecture) -> int:
    """Number of trainable parameters (for logs and the admin)."""
    return int(sum(np.prod(s) for s, _ in param_shapes(arch).values()))
