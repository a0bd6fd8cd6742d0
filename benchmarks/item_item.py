"""Stronger cart-only references than co-purchase counts, to see how much a cart alone can tell.

Runs evaluation protocol v1 (the same split, candidates, tie rule and metrics as
``benchmarks/quality.py``) with item-to-item methods that look at the cart only:

* ``copurchase``: the shipped baseline, ``sum over cart items i of n(i, j) / n(i)``;
* ``cosine``: ``sum over i of n(i, j) / sqrt(n(i) n(j))``;
* ``ease@L``: EASE (Steck 2019, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW),
  a closed-form ridge regression of every item on all the others over the training baskets,
  for several ridge strengths ``L``. It needs the inverse of an ``items x items`` matrix, so it
  is skipped above ``--max-items`` items;
* ``softmax`` (with ``--learned``): the same ``items x items`` form, but the weights learned by
  gradient descent with the loss the model trains with (a full softmax over the catalog on
  leave-one-out examples of the training baskets, early stopping on the newest 10% of them),
  and ``mlp``: a one-hidden-layer network (256 tanh units, input dropout 0.3) in its place.
  Both need Keras and are skipped above 1,000 items (their examples are dense arrays);
* ``leaky-ease@L`` (with ``--ceiling``): EASE fitted on the training baskets *and the test
  receipts themselves*, so it has seen every hidden item next to its cart. It is not a method
  but a yardstick of the headroom: a pairwise cart model that cannot beat it honestly.

None of them uses the shopper's history, so on data with returning shoppers they are a
reference for the cart signal only. Prints a table per dataset and the JSON of all results.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/item_item.py [--learned] [--ceiling] [--json OUT] [FILE ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cart_recommender.ml import protocol  # noqa: E402
from cart_recommender.ml.baselines import CoPurchase, basket_items  # noqa: E402
from cart_recommender.ml.data import EventLog, Query  # noqa: E402
from cart_recommender.ml.features import Baskets, baskets_from_log  # noqa: E402
from cart_recommender.ml.loading import load_event_log  # noqa: E402
from cart_recommender.ml.metrics import HEADLINE, metrics_from_ranks  # noqa: E402

DEFAULT_DATASETS = ROOT.parent / "shared" / "datasets"
LAMBDAS = (20.0, 100.0, 200.0, 500.0, 2000.0)
LEARNED_MAX_ITEMS = 1000  # its examples are dense (examples x items) arrays


def order_matrix(log: EventLog) -> np.ndarray:
    """float32 (orders, items): 1 where the order holds the item."""
    orders, items = basket_items(log)
    x = np.zeros((int(orders.max(initial=-1)) + 1, log.n_items), np.float32)
    x[orders, items] = 1.0
    return x


def cart_matrix(queries: Sequence[Query], n: int) -> np.ndarray:
    """float32 (queries, items): 1 where the query's cart holds the item."""
    carts = np.zeros((len(queries), n), np.float32)
    for row, query in enumerate(queries):
        cart = np.asarray(query.cart)
        carts[row, cart[(cart >= 0) & (cart < n)]] = 1.0
    return carts


class _ItemItem:
    """Scores = cart indicator x an ``items x items`` weight matrix (built by ``weights``)."""

    name = "item-item"

    def fit(self, log: EventLog) -> _ItemItem:
        x = order_matrix(log)
        counts = x.T @ x  # n(i, j), n(i) on the diagonal
        self.matrix = self.weights(counts.astype(np.float64)).astype(np.float32)
        return self

    def weights(self, counts: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def score(self, queries: Sequence[Query]) -> np.ndarray:
        return cart_matrix(queries, self.matrix.shape[0]) @ self.matrix


class Cosine(_ItemItem):
    name = "cosine"

    def weights(self, counts: np.ndarray) -> np.ndarray:
        single = np.maximum(np.diag(counts), 1.0)
        out = counts / np.sqrt(single[:, None] * single[None, :])
        np.fill_diagonal(out, 0.0)
        return out


class Ease(_ItemItem):
    def __init__(self, ridge: float) -> None:
        self.ridge = ridge
        self.name = f"ease@{ridge:g}"

    def weights(self, counts: np.ndarray) -> np.ndarray:
        inverse = np.linalg.inv(counts + self.ridge * np.eye(counts.shape[0]))
        out = -inverse / np.diag(inverse)[None, :]
        np.fill_diagonal(out, 0.0)
        return out


class LeakyEase(Ease):
    """EASE whose counts include the test receipts (rebuilt from the split's queries)."""

    def __init__(self, ridge: float, split: protocol.Split) -> None:
        super().__init__(ridge)
        self.name = f"leaky-ease@{ridge:g}"
        self.split = split

    def fit(self, log: EventLog) -> LeakyEase:
        test = np.zeros((len(self.split.test_orders), log.n_items), np.float32)
        known = self.split.targets >= 0
        test[self.split.query_order[known], self.split.targets[known]] = 1.0
        both = np.concatenate([order_matrix(log), test])
        self.matrix = self.weights((both.T @ both).astype(np.float64)).astype(np.float32)
        return self


class Learned:
    """Cart multi-hot -> catalog logits, fitted with a full softmax (Keras imported here only)."""

    def __init__(self, hidden: int, seed: int = 1) -> None:
        self.hidden, self.seed = hidden, seed
        self.name = f"mlp{hidden}" if hidden else "softmax"

    @staticmethod
    def _examples(baskets: Baskets, rows: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Leave-one-out examples: each item of each basket in ``rows`` held out once."""
        x, y = [], []
        for b in rows:
            basket = baskets.item[baskets.start[b] : baskets.start[b + 1]]
            if basket.size < 2:
                continue
            for t in range(basket.size):
                row = np.zeros(n, np.float32)
                row[np.delete(basket, t)] = 1.0
                x.append(row)
                y.append(basket[t])
        return np.asarray(x, np.float32).reshape(-1, n), np.asarray(y, np.int32)

    def fit(self, log: EventLog) -> Learned:
        import os

        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        import keras
        from keras import ops

        keras.utils.set_random_seed(self.seed)
        baskets = baskets_from_log(log)  # oldest first
        n = self.n = log.n_items
        rows = np.arange(len(baskets))
        cut = len(baskets) - max(1, len(baskets) // 10)
        x_fit, y_fit = self._examples(baskets, rows[:cut], n)
        x_val, y_val = self._examples(baskets, rows[cut:], n)
        cart = keras.Input((n,))
        reg = keras.regularizers.L2(1e-5)
        if self.hidden:
            scaled = cart / ops.sqrt(ops.maximum(ops.sum(cart, axis=1, keepdims=True), 1.0))
            h = keras.layers.Dense(self.hidden, activation="tanh", kernel_regularizer=reg)(
                keras.layers.Dropout(0.3)(scaled))
            logits = keras.layers.Dense(n, kernel_regularizer=reg)(h)
        else:
            logits = keras.layers.Dense(n, kernel_regularizer=reg)(cart)
        self.model = keras.Model(cart, ops.where(cart > 0.5, -1e9, logits))
        self.model.compile(keras.optimizers.Adam(2e-3),
                           keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        best, weights, best_epoch = -1.0, None, 0
        for epoch in range(60):
            self.model.fit(x_fit, y_fit, batch_size=256, epochs=1, verbose=0)
            scores = self.model.predict(x_val, batch_size=2048, verbose=0)
            rank = (scores > scores[np.arange(y_val.size), y_val][:, None]).sum(axis=1) + 1
            ndcg = metrics_from_ranks(rank)["ndcg@10"]
            if ndcg > best:
                best, weights, best_epoch = ndcg, self.model.get_weights(), epoch
            elif epoch - best_epoch >= 4:
                break
        self.model.set_weights(weights)
        return self

    def score(self, queries: Sequence[Query]) -> np.ndarray:
        return self.model.predict(cart_matrix(queries, self.n), batch_size=2048, verbose=0)


def run(path: Path, max_items: int, learned: bool = False, ceiling: bool = False) -> dict:
    log = load_event_log(path).log
    split = protocol.split(log)
    scorers: list = [CoPurchase(), Cosine()]
    if split.train.n_items <= max_items:
        scorers += [Ease(ridge) for ridge in LAMBDAS]
        if learned and split.train.n_items <= LEARNED_MAX_ITEMS:
            scorers += [Learned(0), Learned(256)]
        if ceiling:
            scorers += [LeakyEase(ridge, split) for ridge in LAMBDAS]
    fit_s = protocol.fit_all(scorers, split)
    started = time.perf_counter()
    report = protocol.evaluate(scorers, split)
    report["timings"] = {"fit_s": fit_s, "eval_s": round(time.perf_counter() - started, 2)}
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", help="CSV files (default: every file in --datasets)")
    parser.add_argument("--datasets", default=str(DEFAULT_DATASETS))
    parser.add_argument("--max-items", type=int, default=6000, help="largest catalog for EASE")
    parser.add_argument("--learned", action="store_true", help="also the learned softmax and MLP (Keras)")
    parser.add_argument("--ceiling", action="store_true",
                        help="also EASE fitted with the test receipts (a headroom yardstick, not a method)")
    parser.add_argument("--json", metavar="OUT")
    args = parser.parse_args(argv)
    files = [Path(f) for f in args.files] or sorted(
        p for p in Path(args.datasets).iterdir() if p.name.endswith((".csv", ".csv.gz"))
    )
    reports = {}
    for path in files:
        name = path.name.split(".")[0]
        report = reports[name] = run(path, args.max_items, args.learned, args.ceiling)
        print(f"\n{name} ({report['dataset']['catalog']} items, {report['dataset']['queries']} queries)")
        print(f"{'method':<18}" + "".join(f"{m.upper():>9}" for m in HEADLINE))
        for method, values in report["results"].items():
            print(f"{method:<18}" + "".join(f"{values[m]:>9.4f}" for m in HEADLINE))
    for report in reports.values():
        for values in report["results"].values():
            values.pop("hr_curve", None)
    text = json.dumps({"protocol": "v1", "datasets": reports}, indent=2)
    print(text)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
