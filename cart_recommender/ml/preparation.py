"""Everything a fit derives from the event log before it touches Keras.

The baskets, the network's :class:`~cart_recommender.ml.network.Architecture` sized to the data,
the time-based validation split, and the constant arrays the network reads (co-purchase tables,
the item-to-item regression). Plain NumPy: the training glue also calls it to write an artifact
without a trained model.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import Any

import numpy as np

from cart_recommender.ml import itemitem, reranker
from cart_recommender.ml.config import TrainingConfig
from cart_recommender.ml.content import build_tokens, content_neighbours
from cart_recommender.ml.data import EventLog
from cart_recommender.ml.examples import BasketHistories
from cart_recommender.ml.features import baskets_from_log, co_purchase
from cart_recommender.ml.network import Architecture


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
        max_cart=max_cart, max_history=config.max_history if returning else 0,
        repeat_window=config.repeat_window if returning else 0,
        feature_hidden=config.feature_hidden, encoder=config.encoder,
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
    counting = time.monotonic()
    co = co_purchase(baskets, n, arch.neighbours, config.pair_max_basket, exclude=val_rows)
    co_purchase_s = time.monotonic() - counting
    counted = (sizes >= 1) & (sizes <= co.max_basket)
    counted[val_rows] = False
    constants = {"nbr_item": co.neighbour, "nbr_count": co.count, "item_count": co.item_count}
    item_item = None
    item_item_s = 0.0
    if arch.item_item:
        fitting = time.monotonic()
        item_item = itemitem.fit(
            baskets, n, np.flatnonzero(counted), arch.item_item, config.item_item_max_items
        )
        constants.update(ii_item=item_item.item, ii_weight=item_item.weight, ii_row=item_item.row,
                         ii_alpha=np.zeros(1, np.float32))
        arch = replace(arch, item_item_rows=item_item.rows)
        item_item_s = time.monotonic() - fitting
    content = log.content
    vocab = None
    has_content = content is not None and len(content) == n and content.has_any()
    if has_content and config.content_tokens:
        # only items bought in the training baskets have a trained embedding of their own
        training = np.ones(len(baskets), bool)
        training[val_rows] = False
        known = np.bincount(baskets.item[np.repeat(training, sizes)], minlength=n) > 0
        tokens = build_tokens(content, known, config.content_vocab, config.content_tokens)
        if tokens.vocab:
            constants.update(ct_tok=tokens.tokens, ct_w=tokens.weights,
                             id_known=np.append(known, False).astype(np.float32))
            arch = replace(arch, content_width=tokens.width, content_vocab=len(tokens.vocab))
            vocab = np.asarray(list(tokens.vocab), dtype=str)
    if has_content and config.content_neighbours and arch.repeat_window:
        nbr, sim = content_neighbours(content, config.content_neighbours)
        if sim.any():
            constants.update(ct_nbr=nbr, ct_sim=sim, ct_kappa=np.zeros(1, np.float32))
            arch = replace(arch, content_neighbours=config.content_neighbours)
    rerank_pool = None
    if has_content and config.rerank_candidates and config.rerank_content and arch.repeat_window:
        if arch.content_neighbours == config.rerank_neighbours:
            nbr, sim = constants["ct_nbr"], constants["ct_sim"]
        else:
            nbr, sim = content_neighbours(content, config.rerank_neighbours)
        if sim.any():
            rerank_pool = reranker.ContentPool(nbr, sim, config.rerank_content)
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
        # the content tokens in vocabulary order, for the artifact (serving tokenises new items)
        "content_vocab": vocab,
        # the reranker's content neighbours (None: its candidates come from the scores alone)
        "rerank_pool": rerank_pool,
        # what the recounts on every basket after the fit will take, about
        "item_item_s": item_item_s,
        "co_purchase_s": co_purchase_s,
    }
