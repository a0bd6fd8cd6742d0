"""Quality benchmark: evaluation protocol v1 on every shared dataset, baselines and model.

Prints a readable table per dataset, then the JSON of all reports (also written with --json).
The numbers are those of ``manage.py cart_recommender_evaluate`` (same function behind both).

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/quality.py [--no-model] [--json OUT] [FILE ...]
    ... benchmarks/quality.py --set encoder=gru --time-budget 100000 --epochs 6   # an experiment

Without FILE it runs every ``*.csv`` / ``*.csv.gz`` in ../shared/datasets/ (next to the repo)
or in --datasets DIR. Each dataset runs in a process of its own, so that its "fit MB" (how much
resident memory a method's fit added) is not hidden by memory an earlier dataset left behind.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
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
    parser.add_argument("--table-only", action="store_true", help=argparse.SUPPRESS)  # a child run
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
    if len(files) > 1:
        for path in files:
            reports.update(_in_child(path, args))
        return _finish(reports, args)
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
    return _finish(reports, args)


def _in_child(path: Path, args: argparse.Namespace) -> dict:
    """One dataset's report, measured in a fresh Python process (its table printed as it ends)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        command = [sys.executable, __file__, str(path), "--json", str(out), "--table-only",
                   "--seed", str(args.seed)]
        if args.no_model:
            command.append("--no-model")
        if args.epochs is not None:
            command += ["--epochs", str(args.epochs)]
        if args.time_budget is not None:
            command += ["--time-budget", str(args.time_budget)]
        for entry in args.set:
            command += ["--set", entry]
        subprocess.run(command, check=True)
        return json.loads(out.read_text())["datasets"]


def _finish(reports: dict, args: argparse.Namespace) -> int:
    text = json.dumps({"protocol": "v1", "datasets": reports}, indent=2)
    if not args.table_only:
        print(text)
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
