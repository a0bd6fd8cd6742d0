"""``manage.py cart_recommender_evaluate FILE [--json OUT]``: evaluation protocol v1 on a CSV.

A thin shell around :func:`cart_recommender.ml.quality.evaluate_file`. It reads the file
straight into arrays and never touches the database (no migrations needed, no system checks),
so it can judge a shop's export before anything is imported.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cart_recommender.ml.csvformat import FormatError
from cart_recommender.ml.quality import evaluate_file, format_table


class Command(BaseCommand):
    help = (
        "Evaluate the baselines and the model on a behaviour-events CSV (plain or gzip'd) with "
        "evaluation protocol v1: HR@10, NDCG@10, MRR@10 and HR@3 on the most recent orders. "
        "Does not use the database."
    )
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the CSV file (.csv or .csv.gz)")
        parser.add_argument("--json", metavar="OUT", help="also write the full report as JSON to OUT")
        parser.add_argument("--no-model", action="store_true",
                            help="evaluate the baselines only (no Keras needed)")
        parser.add_argument("--seed", type=int, default=42, help="the model's random seed (42, as TRAINING)")
        parser.add_argument("--epochs", type=int, default=None, help="the model's maximum epochs")
        parser.add_argument("--time-budget", type=float, default=None, metavar="SECONDS",
                            help="the model's training time budget")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        say = (lambda line: self.stderr.write(line)) if options["verbosity"] >= 2 else None
        try:
            report = evaluate_file(
                path, include_model=not options["no_model"], seed=options["seed"],
                epochs=options["epochs"], time_budget_s=options["time_budget"], say=say,
            )
        except FormatError as exc:
            raise CommandError(f"{path}: {exc}") from exc
        source = report["source"]
        if source["bad_rows"]:
            self.stderr.write(f"{source['bad_rows']} bad row(s) skipped, e.g.:")
            for example in source["bad_row_examples"][:10]:
                self.stderr.write(f"  {example}")
        for name, reason in report["errors"].items():
            self.stderr.write(f"{name}: {reason}")
        self.stdout.write(format_table(report))
        if options["json"]:
            out = Path(options["json"])
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(report, indent=2) + "\n")
            self.stdout.write(f"JSON written to {out}")
