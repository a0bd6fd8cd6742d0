"""``manage.py cart_recommender_import FILE``: load a behaviour-events CSV (plain or .gz).

A thin shell around :class:`cart_recommender.events.importer.EventImporter`: it parses options,
shows progress on stderr and prints the report.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cart_recommender.events.importer import DEFAULT_BATCH_SIZE, EventImporter, ImportAborted, ImportReport
from cart_recommender.ml.csvformat import FormatError

SHOWN_ERRORS = 50


class Command(BaseCommand):
    help = (
        "Import behaviour events from a CSV file (plain or gzip'd) in the format described in "
        "docs/recording.md. Rows already imported are skipped, so re-running is safe."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the CSV file (.csv or .csv.gz)")
        parser.add_argument("--create-products", action="store_true",
                            help="create unknown products from the file's name, category and price")
        parser.add_argument("--skip-unknown-products", action="store_true",
                            help="pass over rows of products the shop does not have (counted, not errors)")
        parser.add_argument("--dry-run", action="store_true", help="check and count, write nothing")
        parser.add_argument("--strict", action="store_true",
                            help="check the whole file first; any bad row aborts with nothing written")
        parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE,
                            help=f"rows per transaction ({DEFAULT_BATCH_SIZE})")
        parser.add_argument("--no-progress", action="store_true", help="do not show progress")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        if options["create_products"] and options["skip_unknown_products"]:
            raise CommandError("--create-products and --skip-unknown-products exclude each other")
        progress, close = (None, lambda: None) if options["no_progress"] else _progress()
        importer = EventImporter(
            create_products=options["create_products"], dry_run=options["dry_run"],
            skip_unknown_products=options["skip_unknown_products"],
            strict=options["strict"], batch_size=options["batch_size"], progress=progress,
        )
        try:
            report = importer.run(path)
        except FormatError as exc:
            raise CommandError(f"{path}: {exc}") from exc
        except ImportAborted as exc:
            self._print_errors(exc.report)
            raise CommandError(str(exc)) from exc
        finally:
            close()
        self._print_errors(report)
        self.stdout.write(self._summary(report))

    def _print_errors(self, report: ImportReport) -> None:
        for error in report.errors[:SHOWN_ERRORS]:
            self.stderr.write(f"line {error.line}: {error.reason}")
        if report.bad_rows > SHOWN_ERRORS:
            self.stderr.write(f"... and {report.bad_rows - SHOWN_ERRORS} more bad row(s)")

    def _summary(self, report: ImportReport) -> str:
        verb = "would store" if report.dry_run else "stored"
        created = "would create" if report.dry_run else "created"
        return (
            f"{report.rows} rows read in {report.elapsed_s:.1f} s ({report.rows_per_second:,.0f} rows/s): "
            f"{verb} {report.stored} events, {report.duplicates} already stored (skipped), "
            f"{report.bad_rows} bad rows, {created} {report.products_created} products"
            + (f", skipped {report.skipped_unknown} rows of unknown products"
               if report.skipped_unknown else "")
        )


def _progress() -> tuple[Callable[[int], None], Callable[[], None]]:
    """A tqdm bar on stderr, or plain progress lines when tqdm is not installed."""
    try:
        from tqdm import tqdm
    except ImportError:
        return _text_progress()
    bar = tqdm(unit=" rows", unit_scale=True, file=sys.stderr, mininterval=0.5)

    def update(rows: int) -> None:
        if rows < bar.n:  # --strict: the writing pass starts again from the top
            bar.reset()
        bar.update(rows - bar.n)

    return update, bar.close


def _text_progress() -> tuple[Callable[[int], None], Callable[[], None]]:
    started = time.monotonic()
    last = [0.0]

    def update(rows: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 2:
            last[0] = now
            rate = rows / max(now - started, 1e-9)
            print(f"  {rows:,} rows ({rate:,.0f} rows/s)", file=sys.stderr, flush=True)

    return update, lambda: None
