"""How the sequence model trains, and what a fit reports: plain dataclasses, no Keras.

:class:`TrainingConfig` holds every hyper-parameter with its one default; the shape-defining
ones end up in the artifact as the :class:`~cart_recommender.ml.network.Architecture`, which
:func:`~cart_recommender.ml.preparation.prepare` sizes to the data.

Example::

    config = TrainingConfig.from_dict({"seed": 1, "time_budget_s": 60})
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: Called after every epoch with (epoch, epochs, loss, elapsed seconds).
EpochCallback = Callable[[int, int, float, float], None]
#: The query encoders the network can use (see :func:`cart_recommender.ml.network.encode`).
ENCODERS = ("attention", "gru")


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
    # The network's shape (recorded in the artifact as its Architecture, see ml/network.py):
    encoder: str = "attention"  # "gru": the GRU4Rec-style encoder the choice was measured against
    dim: int = 64  # embedding width; the attention block's feed-forward layer is twice this
    blocks: int = 1
    heads: int = 2
    max_cart: int = 24
    max_history: int = 32
    # the shopper's most likely repeat purchases over their whole history (0: no repeat window)
    repeat_window: int = 64
    neighbours: int = 30  # co-purchase partners per cart item the co-purchase term reads
    feature_hidden: int = 16  # hidden units of the repeat and co-purchase terms
    all_neighbours_max_items: int = 500  # small catalogs keep every co-purchase partner
    item_item: int = 200  # partners per item of the item-to-item (EASE) term; 0: no such term
    item_item_max_items: int = 5000  # the regression covers this many most purchased items
    item_item_max_cart: int = 256  # the term's cart window (99th percentile of carts, at most this)
    # Product content (name words, category levels, price band) in every item's vector, where the
    # log carries any (see ml/content.py). Off by default until it measures better on cold and
    # new products than the baselines (docs/model.md); 12 is the width measured.
    content_tokens: int = 0  # tokens per item, category and price first; 0: no content vectors
    content_vocab: int = 20_000  # the most frequent tokens shared by 2+ items
    content_id_dropout: float = 0.2  # how often training hides an item's own embedding
    content_neighbours: int = 0  # nearest items in content the repeat window lifts (0: none; 8 measured)
    # The second stage (ml/reranker.py): the model's best products reordered for a shopper with
    # a purchase history, by a small network fitted on the validation orders; 0: none.
    rerank_candidates: int = 50
    rerank_examples: int = 20_000  # validation examples scored for its training lists
    rerank_window: int = 64  # the repeat window's first products join its candidates (0: none)
    # Where the log has content: the products most like a query's cart and repeat window (by
    # name words within a category) that join the reranker's candidates, and the content
    # neighbours kept per product to find them; 0: none.
    rerank_content: int = 20
    rerank_neighbours: int = 8

    def __post_init__(self) -> None:
        if self.encoder not in ENCODERS:
            raise ValueError(f"encoder must be one of {ENCODERS}, not {self.encoder!r}")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainingConfig:
        known = cls.__dataclass_fields__
        unknown = set(values) - set(known)
        if unknown:
            raise ValueError(f"Unknown training parameters: {sorted(unknown)}")
        return cls(**values)


@dataclass
class TrainingHistory:
    """What a fit did, epoch by epoch (shown on the admin's version page)."""

    loss: list[float] = field(default_factory=list)
    val_ndcg: list[float] = field(default_factory=list)
    val_hr: list[float] = field(default_factory=list)
    best_epoch: int = -1
    stopped: str = ""  # "", "early_stopping", "time_budget", "cancelled", "max_epochs"
    seconds: float = 0.0
    examples_seen: int = 0
    #: the item-to-item term: ridge, items covered, alpha and validation NDCG@10 per alpha tried
    item_item: dict[str, Any] = field(default_factory=dict)
    #: the repeat window's extra weight: gamma and validation NDCG@10 per gamma tried
    repeat_mix: dict[str, Any] = field(default_factory=dict)
    #: the content neighbours' weight: kappa and validation NDCG@10 per kappa tried
    content_mix: dict[str, Any] = field(default_factory=dict)
    #: the reranker: its lists, whether it was kept and the held-out NDCG@10 that decided it
    rerank: dict[str, Any] = field(default_factory=dict)
    #: the weight search and recounts after the epochs: seconds reserved for them, seconds taken
    after_fit: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)
