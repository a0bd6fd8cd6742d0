"""The Keras side of the sequence model: weights, dropout, the training-time softmax.

Importing this file never imports Keras: :func:`load_keras` does, when :func:`build_network`
is called. The forward math is :mod:`cart_recommender.ml.network`'s; this file only adds what
exists at training time:

* a full softmax over the catalog when it is small enough (every item is a negative, which
  is what a 169-item grocery needs), cart items masked out since they are never the answer;
* otherwise a sampled softmax: the batch's own targets plus uniform negatives, with the
  sampling-probability (logQ) correction of keras-rs and accidental hits masked by hand
  (keras-rs 0.4.0's ``RemoveAccidentalHits`` does nothing).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from cart_recommender.ml.config import TrainingConfig
from cart_recommender.ml.network import (
    NEG,
    Architecture,
    encode,
    feature_terms,
    item_rows,
    item_table,
    param_shapes,
)


def load_keras() -> Any:
    """Import Keras (TensorFlow backend unless ``KERAS_BACKEND`` says otherwise).

    The one place the ML core imports Keras, called when a model is built or trained, never at
    module import: a web process that scores with NumPy must not pay for it, and a process that
    has run a Keras model cannot fork safely.
    """
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    return keras


class KerasOps:
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
    return make_network(load_keras(), arch, constants, config, item_logq)


def make_network(keras: Any, arch: Architecture, constants: dict[str, np.ndarray], config: TrainingConfig,
                 item_logq: np.ndarray | None) -> Any:
    """The Keras model for ``arch``, built with the ``keras`` module given (see :func:`load_keras`)."""
    ops = keras.ops
    xp = KerasOps(ops)
    n = arch.n_items
    inits = {
        "embedding": keras.initializers.RandomNormal(stddev=0.05),
        "glorot": keras.initializers.GlorotUniform(),
        "zeros": keras.initializers.Zeros(),
        "ones": keras.initializers.Ones(),
        "small": keras.initializers.RandomNormal(stddev=0.1),
    }
    sampled = item_logq is not None

    class CartSequenceModel(keras.Model):
        def __init__(self) -> None:
            super().__init__(name="cart_sequence_model")
            self.p = {
                name: self.add_weight(name=name, shape=shape, initializer=inits[init])
                for name, (shape, init) in param_shapes(arch).items()
            }
            self.c = {}
            for name, value in constants.items():
                if value.dtype.kind == "U":  # the content vocabulary: for serving, not the graph
                    continue
                var = self.add_weight(
                    name=name, shape=value.shape, dtype=str(value.dtype), trainable=False,
                    initializer="zeros",
                )
                var.assign(value)
                self.c[name] = var
            self.seed_gen = keras.random.SeedGenerator(config.seed)
            if sampled:
                self.correction = _sampling_correction(keras)
                self.logq = self.add_weight(
                    name="item_logq", shape=(n,), trainable=False, initializer="zeros"
                )
                self.logq.assign(item_logq.astype(np.float32))

        def _drop(self, x: Any) -> Any:
            return keras.random.dropout(x, config.dropout, seed=self.seed_gen)

        def _drop_id(self, known: Any) -> Any:
            keep = keras.random.uniform(ops.shape(known), seed=self.seed_gen) >= config.content_id_dropout
            return known * ops.cast(keep, "float32")

        def call(self, inputs: dict[str, Any], training: bool = False) -> Any:
            drop = self._drop if training and config.dropout > 0 else (lambda x: x)
            drop_id = (self._drop_id if training and arch.content_width and config.content_id_dropout > 0
                       else None)
            u = encode(xp, self.p, inputs, arch, drop, self.c, drop_id)
            # the item-to-item and content-neighbour weights are fitted after training
            index, value = feature_terms(xp, self.p, self.c, inputs, u, arch, post_fit=not training)
            dense = xp.scatter_rows(index, value, n + 1)
            cart = inputs["cart"]
            if sampled and training:
                return self._sampled_logits(u, dense, cart, inputs["target"], drop_id)
            in_cart = xp.scatter_rows(cart, ops.ones_like(ops.cast(cart, "float32")), n + 1)
            emb, bias = item_table(xp, self.p, self.c, arch, drop_id)
            scores = ops.matmul(u, ops.transpose(emb[:n])) + bias[:n]
            scores = scores + dense[:, :n]
            masked = in_cart[:, :n] > 0.5
            if training and arch.content_width:
                # an item nobody bought in the training data is unseen, not unwanted: pushing its
                # content down as a negative would teach the model to avoid new products
                masked = ops.logical_or(masked, ops.expand_dims(self.c["id_known"][:n] < 0.5, 0))
            return ops.where(masked, NEG, scores)

        def _sampled_logits(self, u: Any, dense: Any, cart: Any, target: Any, drop_id: Any) -> Any:
            neg = keras.random.randint((config.negatives,), 0, n, dtype="int32", seed=self.seed_gen)
            cand = ops.concatenate([ops.cast(target, "int32"), neg])
            emb, bias = item_rows(xp, self.p, self.c, cand, arch, drop_id)
            logits = ops.matmul(u, ops.transpose(emb))
            logits = logits + bias
            logits = logits + ops.take(dense, cand, axis=1)
            logits = self.correction(logits, ops.exp(ops.take(self.logq, cand, axis=0)))
            b = ops.shape(u)[0]
            same = ops.equal(ops.expand_dims(target, 1), ops.expand_dims(cand, 0))
            own = ops.equal(
                ops.expand_dims(ops.arange(b, dtype="int32"), 1),
                ops.expand_dims(ops.arange(ops.shape(cand)[0], dtype="int32"), 0),
            )
            in_cart = ops.any(ops.equal(ops.expand_dims(cart, 2), ops.reshape(cand, (1, 1, -1))), axis=1)
            masked = ops.logical_or(ops.logical_and(same, ops.logical_not(own)), in_cart)
            if arch.content_width:  # see call(): unseen items are no negatives
                masked = ops.logical_or(masked, ops.expand_dims(ops.take(self.c["id_known"], cand) < 0.5, 0))
            return ops.where(masked, NEG, logits)

    return CartSequenceModel()


def _sampling_correction(keras: Any) -> Any:
    import keras_rs

    return keras_rs.layers.SamplingProbabilityCorrection()
