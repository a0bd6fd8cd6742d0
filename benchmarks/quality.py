"""Quality benchmark: evaluation protocol v1 on every shared dataset, baselines and model.

Prints a readable table per dataset, then the JSON of all reports (also written with --json).
The numbers are those of ``manage.py cart_recommender_evaluate`` (same function behind both).

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/quality.py [--no-model] [--json OUT] [FILE ...]
    ... benchmarks/quality.py --set encoder=gru --time-budget 100000 --epochs 6   # an experiment

Without FILE it runs every ``*.csv`` / ``*.csv.gz`` in ../shared/datasets/ (next to the repo)
or in --datasets DIR.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from cart_recommender.ml.quality import evaluate_file, format_table  # noqa: E402

DEFAULT_DATASETS = ROOT.parent / "shared" / "datasets"


def dataset_files(args: argparse.Namespace) -> list[Path]:
    if args.files:
        return [Path(f) for f in args.files]
    folder = Path(args.datasets)
    return sorted(p for p in folder.iterdir() if p.name.endswith((".csv", ".csv.gz")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", help="CSV files (default: every file in --datasets)")
    parser.add_argument("--datasets", default=str(DEFAULT_DATASETS), help="folder of datasets")
    parser.add_argument("--no-model", action="store_true", help="baselines only")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--time-budget", type=float, default=None, help="model training seconds")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="a model training parameter (TrainingConfig field), e.g. encoder=gru")
    parser.add_argument("--json", metavar="OUT", help="write all reports as JSON to OUT")
    args = parser.parse_args(argv)

    params = {}
    for entry in args.set:
        field, _, value = entry.partition("=")
        try:
            params[field] = json.loads(value)
        except json.JSONDecodeError:
            params[field] = value
    files = dataset_files(args)
    if not files:
        parser.error(f"no dataset found in {args.datasets}")
    reports = {}
    for path in files:
        name = path.name.split(".")[0]
        print(f"== {name} ({path})", file=sys.stderr, flush=True)
        report = evaluate_file(
            path, include_model=not args.no_model, seed=args.seed, epochs=args.epochs,
            time_budget_s=args.time_budget, params=params,
            say=lambda line: print("   " + line, file=sys.stderr, flush=True),
        )
        report["threads"] = os.environ.get("OMP_NUM_THREADS", "")
        report["params"] = params
        reports[name] = report
        print(f"\n{name}\n{format_table(report)}\n", flush=True)
    text = json.dumps({"protocol": "v1", "datasets": reports}, indent=2)
    print(text)
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
