"""The whole evaluation protocol on a file: load, split, fit every method, evaluate, report.

Behind both ``manage.py cart_recommender_evaluate`` and ``benchmarks/quality.py``, so the two
print the same numbers. No Django and no database: the events come straight from the CSV.
Keras itself is imported only when the model is fitted, so the protocol runs with the baselines
alone where Keras is not installed.

Example::

    report = evaluate_file("online_retail.csv.gz", include_model=False)
    print(format_table(report))
    report["results"]["copurchase"]["hr@10"]
"""

from __future__ import annotations

import importlib.util
import os
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cart_recommender.ml import protocol
from cart_recommender.ml.baselines import CategoryPopularity, CoPurchase, Personal, Popularity
from cart_recommender.ml.config import TrainingConfig
from cart_recommender.ml.data import EventLog, Scorer
from cart_recommender.ml.loading import load_event_log
from cart_recommender.ml.metrics import HEADLINE
from cart_recommender.ml.model import SequenceModel
from cart_recommender.ml.repeat import RepeatDecay, TifuKNN

METHOD_ORDER = ("popularity", "category_popularity", "copurchase", "personal", "repeat_decay", "tifuknn",
                "model")
#: Every scorer the model is measured against, in table order.
BASELINES = (Popularity, CategoryPopularity, CoPurchase, Personal, RepeatDecay, TifuKNN)


def _rss_mb() -> float | None:
    """This process's resident memory now (Linux; None elsewhere)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return None


class PeakMemory:
    """The most resident memory a block added over what the process held before it.

    Sampled every 20 ms in a thread: memory freed between samples is missed, so this is a
    lower bound, but it sees Keras and NumPy alike (tracemalloc would miss the TensorFlow side).
    """

    def __init__(self, every_s: float = 0.02) -> None:
        self.every_s = every_s
        self.added_mb: float | None = None

    def __enter__(self) -> PeakMemory:
        self._start = _rss_mb()
        self._peak = self._start or 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._done.wait(self.every_s):
            self._peak = max(self._peak, _rss_mb() or 0.0)

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()
        now = _rss_mb()
        if self._start is not None and now is not None:
            self.added_mb = round(max(self._peak, now) - self._start, 1)


def make_model(seed: int = 0, epochs: int | None = None, time_budget_s: float | None = None,
               params: dict[str, Any] | None = None) -> Scorer:
    """The Keras sequence model, unfitted; raises ImportError where it cannot be used.

    ``params``: other :class:`~cart_recommender.ml.config.TrainingConfig` fields (experiments).
    """
    if importlib.util.find_spec("keras") is None:
        raise ImportError("keras is not installed (pip install 'cart-recommender[train]')")
    options: dict[str, Any] = {**(params or {}), "seed": seed}
    if epochs is not None:
        options["max_epochs"] = epochs
    if time_budget_s is not None:
        options["time_budget_s"] = time_budget_s
    return SequenceModel(TrainingConfig(**options))


def evaluate_log(
    log: EventLog,
    *,
    include_model: bool = True,
    seed: int = 0,
    epochs: int | None = None,
    time_budget_s: float | None = None,
    params: dict[str, Any] | None = None,
    say: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Split ``log`` by protocol v1, fit the baselines (and the model), evaluate them all.

    Args:
        include_model: also train and evaluate the Keras model when it can be imported.
        seed, epochs, time_budget_s: the model's training parameters (None: its defaults).
        params: further training parameters of the model (``TrainingConfig`` fields).
        say: receives a line of progress now and then (e.g. ``print``).

    Returns:
        ``{"dataset", "results", "timings": {"train_s", "eval_s", "split_s", "by_method"},
        "errors"}``; ``errors`` maps a method that could not run (the model) to the reason.
    """
    say = say or (lambda line: None)
    started = time.perf_counter()
    split = protocol.split(log)
    split_s = round(time.perf_counter() - started, 3)
    say(", ".join(f"{k} {v}" for k, v in split.dataset.items()))
    scorers: list[Scorer] = [cls() for cls in BASELINES]
    errors: dict[str, str] = {}
    if include_model:
        try:
            scorers.append(make_model(seed=seed, epochs=epochs, time_budget_s=time_budget_s, params=params))
        except ImportError as exc:
            errors["model"] = f"not available: {exc}"
    train_s: dict[str, float] = {}
    peak_mb: dict[str, float | None] = {}
    fitted: list[Scorer] = []
    for scorer in scorers:
        say(f"fitting {scorer.name}")
        try:
            with PeakMemory() as memory:
                train_s.update(protocol.fit_all([scorer], split))
            peak_mb[scorer.name] = memory.added_mb
        except Exception as exc:  # a failing model must not hide the baselines' numbers
            if scorer.name != "model":
                raise
            errors["model"] = f"training failed: {exc!r}\n{traceback.format_exc()}"
            continue
        fitted.append(scorer)
    say("evaluating")
    report = protocol.evaluate(fitted, split)
    by_method = {
        name: {"train_s": train_s.get(name, 0.0), "fit_peak_mb": peak_mb.get(name), **times}
        for name, times in report["timings"]["by_method"].items()
    }
    report["timings"] = {
        "train_s": round(sum(train_s.values()), 3),
        "eval_s": report["timings"]["eval_s"],
        "split_s": split_s,
        "by_method": by_method,
    }
    report["errors"] = errors
    # the parameters each repeat-aware baseline chose on its validation split
    report["chosen_params"] = {s.name: s.params for s in fitted if isinstance(s, (RepeatDecay, TifuKNN))}
    # and what the model chose after its fit (the same numbers a version page shows)
    for scorer in fitted:
        history = getattr(scorer, "history", None)
        if scorer.name == "model" and history is not None:
            report["chosen_params"]["model"] = {
                "epochs": len(history.loss), "stopped": history.stopped,
                "alpha": history.item_item.get("alpha", 0.0), "gamma": history.repeat_mix.get("gamma", 0.0),
                "rerank": history.rerank.get("kept", False),
                "rerank_val_ndcg": history.rerank.get("val_ndcg"),
                **{f"after_fit_{k}": v for k, v in history.after_fit.items()},
            }
    return report


def evaluate_file(path: str | Path, **options: Any) -> dict[str, Any]:
    """:func:`evaluate_log` on a behaviour-events CSV (plain or .gz); bad rows are skipped.

    The report gains ``source``: the file, its data rows, the bad rows (at most 20 shown with
    their line numbers and reasons) and the seconds the file took to read.
    """
    started = time.perf_counter()
    loaded = load_event_log(path)
    load_s = round(time.perf_counter() - started, 3)
    report = evaluate_log(loaded.log, **options)
    report["source"] = {
        "file": str(path),
        "rows": loaded.rows,
        "bad_rows": len(loaded.errors),
        "bad_row_examples": [f"line {e.line}: {e.reason}" for e in loaded.errors[:20]],
        "load_s": load_s,
    }
    return report


def format_table(report: dict[str, Any]) -> str:
    """A readable method x metric table of one report: the headline metrics; HR@10 and NDCG@10
    on repeat and explore queries and on cold and new items; fit seconds; the memory a fit added
    at its peak (MB over what the process held before it); evaluation seconds; and the model
    against the best baseline."""
    results = report["results"]
    names = [m for m in METHOD_ORDER if m in results] + sorted(set(results) - set(METHOD_ORDER))
    by_method = report.get("timings", {}).get("by_method", {})
    kinds = ("repeat", "explore")
    ages = ("cold", "new")
    header = (f"{'method':<20}" + "".join(f"{m.upper():>9}" for m in HEADLINE)
              + "".join(f"{k[:3] + ' HR':>9}{k[:3] + ' NDCG':>10}" for k in kinds + ages)
              + f"{'fit s':>8}{'fit MB':>8}{'eval s':>8}")
    lines = [header, "-" * len(header)]
    for name in names:
        times = by_method.get(name, {})
        split = {**results[name].get("by_kind", {}), **results[name].get("by_item_age", {})}
        lines.append(
            f"{name:<20}" + "".join(f"{results[name][m]:>9.4f}" for m in HEADLINE)
            + "".join(f"{split.get(k, {}).get('hr@10', 0.0):>9.4f}"
                      f"{split.get(k, {}).get('ndcg@10', 0.0):>10.4f}" for k in kinds + ages)
            + f"{times.get('train_s', 0.0):>8.1f}"
            + (f"{times['fit_peak_mb']:>8.0f}" if times.get("fit_peak_mb") is not None else f"{'-':>8}")
            + f"{times.get('eval_s', 0.0):>8.1f}"
        )
    for name, reason in report.get("errors", {}).items():
        lines.append(f"{name:<20} skipped: {reason.splitlines()[0]}")
    baselines = [m for m in names if m != "model"]
    if "model" in results and baselines:
        for metric in ("hr@10", "ndcg@10"):
            best = max(baselines, key=lambda m: results[m][metric])
            ratio = results["model"][metric] / max(results[best][metric], 1e-12)
            lines.append(f"model / best baseline {metric.upper()}: {ratio:.2f}x (best: {best})")
        for age in ages:
            found = {m: results[m].get("by_item_age", {}).get(age, {}).get("hr@10", 0.0) for m in names}
            best = max(baselines, key=lambda m: found[m])
            ratio = (f"{found['model'] / found[best]:.2f}x" if found[best]
                     else "no baseline finds any" if found["model"] == 0 else "only the model finds any")
            lines.append(f"model / best baseline {age} HR@10: {ratio} (best: {best})")
    kinds_count = ({**results[names[0]].get("by_kind", {}), **results[names[0]].get("by_item_age", {})}
                   if names else {})
    if kinds_count:
        lines.append("queries: " + ", ".join(f"{k} {kinds_count[k]['queries']:,}"
                                             for k in kinds + ages if k in kinds_count))
    for name, params in report.get("chosen_params", {}).items():
        lines.append(f"{name} chose " + ", ".join(f"{k}={v}" for k, v in params.items()))
    dataset = report["dataset"]
    lines.append(", ".join(f"{k} {v:,}" for k, v in dataset.items()))
    return "\n".join(lines)
