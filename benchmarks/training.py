"""Training benchmark: wall time and peak memory of one retrain at three data sizes.

Each size runs in its own child process so its peak resident memory (``ru_maxrss``) is its
own. The events are the Online Retail purchases; sizes beyond the file are reached by
replicating it forward in time with perturbations (a tenth of the lines dropped per copy, half
of the shoppers re-keyed as new customers), generated on the fly and never written to disk.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/training.py [--sizes 100000,300000,1000000]
        [--data ../shared/datasets/online_retail.csv.gz] [--time-budget 200] [--json OUT]

The retrain target is "1,000,000 events in at most 5 minutes on 2 CPU cores"; the time budget
(``TRAINING["time_budget_s"]``, 200 s by default) bounds the Keras fit, the rest is data
preparation. Times depend on what else runs on the machine: the load average is reported
with every row.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "online_retail.csv.gz"


def scaled_log(path: Path, size: int, seed: int = 0):
    """The first ``size`` events of the file, replicated forward in time when it is shorter."""
    import numpy as np

    from cart_recommender.ml.data import EventLog
    from cart_recommender.ml.loading import load_event_log

    base = load_event_log(path).log
    rng = np.random.default_rng(seed)
    span = float(base.time.max() - base.time.min()) + 86400.0
    parts, copy = [], 0
    total = 0
    while total < size:
        keep = np.ones(len(base), bool) if copy == 0 else rng.random(len(base)) >= 0.1
        shopper = base.shopper[keep].astype(np.int64)
        n_shoppers = max(len(base.shoppers), 1)
        if copy:
            renamed = (shopper >= 0) & (shopper % 2 == 1)
            shopper = np.where(renamed, shopper + copy * n_shoppers, shopper)
        order = base.order[keep].astype(np.int64)
        order = np.where(order >= 0, order + copy * max(len(base.orders), 1), -1)
        parts.append((base.time[keep] + copy * span, shopper, base.kind[keep], base.item[keep], order))
        total += int(keep.sum())
        copy += 1
    time_, shopper, kind, item, order = (np.concatenate(a)[:size] for a in zip(*parts, strict=True))
    n_copies = copy
    shoppers = [f"{s}~{c}" for c in range(n_copies) for s in base.shoppers]
    orders = [f"{o}~{c}" for c in range(n_copies) for o in base.orders]
    return EventLog(
        time=time_, shopper=shopper.astype(np.int32), kind=kind, item=item,
        order=order.astype(np.int32), items=list(base.items), shoppers=shoppers, orders=orders,
    )


def child(args: argparse.Namespace) -> None:
    import numpy as np

    from cart_recommender.ml.config import TrainingConfig
    from cart_recommender.ml.model import SequenceModel

    started = time.monotonic()
    log = scaled_log(Path(args.data), args.child)
    built = time.monotonic() - started
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    config = TrainingConfig(time_budget_s=args.time_budget)
    t0 = time.monotonic()
    model = SequenceModel(config).fit(log)
    fit_s = time.monotonic() - t0
    h = model.history
    print(json.dumps({
        "events": len(log),
        "orders": int(np.unique(log.order[log.order >= 0]).size),
        "items": log.n_items,
        "load_s": round(built, 1),
        "retrain_s": round(fit_s, 1),
        "epochs": len(h.loss),
        "best_epoch": h.best_epoch + 1,
        "stopped": h.stopped,
        "examples_seen": h.examples_seen,
        "examples_per_s": round(h.examples_seen / max(fit_s, 1e-9)),
        "val_ndcg@10": round(max(h.val_ndcg, default=0.0), 4),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "rss_after_load_mb": round(rss_before),
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }))


def format_table(rows: list[dict]) -> str:
    cols = ["events", "orders", "items", "retrain_s", "epochs", "stopped", "examples_per_s",
            "val_ndcg@10", "peak_rss_mb", "loadavg_1m"]
    lines = [" | ".join(f"{c:>14}" for c in cols)]
    for row in rows:
        lines.append(" | ".join(f"{row.get(c, '')!s:>14}" for c in cols))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,300000,1000000")
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--time-budget", type=float, default=200.0)
    parser.add_argument("--json", help="also write the JSON here")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args)
        return 0
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2"),
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        proc = subprocess.run(
            [sys.executable, __file__, "--child", str(size), "--data", args.data,
             "--time-budget", str(args.time_budget)],
            env=env, capture_output=True, text=True, check=False,
        )
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if proc.returncode or not lines:
            print(proc.stderr[-2000:], file=sys.stderr)
            rows.append({"events": size, "error": f"exit {proc.returncode}"})
        else:
            rows.append(json.loads(lines[-1]))
        print(json.dumps(rows[-1]), flush=True)
    report = {"benchmark": "training", "omp_num_threads": env["OMP_NUM_THREADS"],
              "cpus": os.cpu_count(), "rows": rows}
    print(format_table(rows))
    print(json.dumps(report, indent=2))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0 if all("error" not in r for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
