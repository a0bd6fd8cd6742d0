"""Stronger cart-only references than co-purchase counts, to see how much a cart alone can tell.

Runs evaluation protocol v1 (the same split, candidates, tie rule and metrics as
``benchmarks/quality.py``) with item-to-item methods that look at the cart only:

* ``copurchase``: the shipped baseline, ``sum over cart items i of n(i, j) / n(i)``;
* ``cosine``: ``sum over i of n(i, j) / sqrt(n(i) n(j))``;
* ``ease@L``: EASE (Steck 2019, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW),
  a closed-form ridge regression of every item on all the others over the training baskets,
  for several ridge strengths ``L``. It needs the inverse of an ``items x items`` matrix, so it
  is skipped above ``--max-items`` items.

None of them uses the shopper's history, so on data with returning shoppers they are a
reference for the cart signal only. Prints a table per dataset and the JSON of all results.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/item_item.py [--json OUT] [FILE ...]
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
from cart_recommender.ml.loading import load_event_log  # noqa: E402
from cart_recommender.ml.metrics import HEADLINE  # noqa: E402

DEFAULT_DATASETS = ROOT.parent / "shared" / "datasets"
LAMBDAS = (20.0, 100.0, 200.0, 500.0, 2000.0)


class _ItemItem:
    """Scores = cart indicator x an ``items x items`` weight matrix (built by ``weights``)."""

    name = "item-item"

    def fit(self, log: EventLog) -> _ItemItem:
        orders, items = basket_items(log)
        n = log.n_items
        x = np.zeros((int(orders.max(initial=-1)) + 1, n), np.float32)
        x[orders, items] = 1.0
        counts = x.T @ x  # n(i, j), n(i) on the diagonal
        self.matrix = self.weights(counts.astype(np.float64)).astype(np.float32)
        return self

    def weights(self, counts: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def score(self, queries: Sequence[Query]) -> np.ndarray:
        n = self.matrix.shape[0]
        carts = np.zeros((len(queries), n), np.float32)
        for row, query in enumerate(queries):
            cart = np.asarray(query.cart)
            carts[row, cart[(cart >= 0) & (cart < n)]] = 1.0
        return carts @ self.matrix


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


def run(path: Path, max_items: int) -> dict:
    log = load_event_log(path).log
    split = protocol.split(log)
    scorers: list = [CoPurchase(), Cosine()]
    if split.train.n_items <= max_items:
        scorers += [Ease(ridge) for ridge in LAMBDAS]
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
    parser.add_argument("--json", metavar="OUT")
    args = parser.parse_args(argv)
    files = [Path(f) for f in args.files] or sorted(
        p for p in Path(args.datasets).iterdir() if p.name.endswith((".csv", ".csv.gz"))
    )
    reports = {}
    for path in files:
        name = path.name.split(".")[0]
        report = reports[name] = run(path, args.max_items)
        print(f"\n{name} ({report['dataset']['catalog']} items, {report['dataset']['queries']} queries)")
        print(f"{'method':<12}" + "".join(f"{m.upper():>9}" for m in HEADLINE))
        for method, values in report["results"].items():
            print(f"{method:<12}" + "".join(f"{values[m]:>9.4f}" for m in HEADLINE))
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
