"""The array API of :mod:`cart_recommender.ml.network`, on NumPy: how serving runs the network.

Training runs the same functions on ``keras.ops`` (:class:`cart_recommender.ml.keras_network.KerasOps`).
"""

from __future__ import annotations

from typing import Any

import numpy as np


class NumpyOps:
    """The array API of :mod:`cart_recommender.ml.network`, on NumPy."""

    take = staticmethod(np.take)
    arange = staticmethod(np.arange)
    matmul = staticmethod(np.matmul)
    concatenate = staticmethod(np.concatenate)
    reshape = staticmethod(np.reshape)
    transpose = staticmethod(np.transpose)
    expand_dims = staticmethod(np.expand_dims)
    stack = staticmethod(np.stack)
    sum = staticmethod(np.sum)
    mean = staticmethod(np.mean)
    sqrt = staticmethod(np.sqrt)
    square = staticmethod(np.square)
    log1p = staticmethod(np.log1p)
    maximum = staticmethod(np.maximum)
    zeros_like = staticmethod(np.zeros_like)
    ones_like = staticmethod(np.ones_like)
    equal = staticmethod(np.equal)
    not_equal = staticmethod(np.not_equal)

    @staticmethod
    def cast(x: Any, dtype: str) -> np.ndarray:
        return np.asarray(x).astype(dtype)

    tanh = staticmethod(np.tanh)

    @staticmethod
    def sigmoid(x: np.ndarray) -> np.ndarray:
        return 0.5 * (1.0 + np.tanh(0.5 * x))  # no overflow for large |x|

    @staticmethod
    def relu(x: np.ndarray) -> np.ndarray:
        return np.maximum(x, np.float32(0))

    @staticmethod
    def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True)

    @staticmethod
    def scatter_rows(index: np.ndarray, value: np.ndarray, cols: int) -> np.ndarray:
        rows = index.shape[0]
        flat = (np.arange(rows, dtype=np.int64)[:, None] * cols + index).ravel()
        out = np.bincount(flat, weights=value.ravel(), minlength=rows * cols)
        return out.astype(np.float32).reshape(rows, cols)


NUMPY_OPS = NumpyOps()
