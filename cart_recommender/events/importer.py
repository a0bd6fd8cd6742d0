"""Importing a behaviour-events CSV (see :mod:`cart_recommender.ml.csvformat`) into the database.

The file is read in batches. Each batch is checked as a whole first (row format, field
lengths, products), then its good rows are written in one transaction together with the
products it creates, so a batch is either stored completely or not at all:

* a bad row (unknown event, unparsable timestamp, unknown product without
  ``create_products``, ...) is skipped and reported with its line number; it leaves no trace,
  not even a created product;
* with ``strict``, the whole file is checked before anything is written and any bad row aborts
  the import with nothing stored;
* an unexpected database error rolls back the current batch and stops the import; earlier
  batches stay stored, and re-running the same file continues where it stopped.

Every row gets an idempotency key derived from what it says (timestamp, shopper, event, item,
order), not from the file or the line, so importing the same rows again, from any file, stores
nothing twice.

Example::

    report = EventImporter(create_products=True).run("events.csv.gz")
    print(report.stored, report.duplicates, [(e.line, e.reason) for e in report.errors])
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction

from cart_recommender.adapter import get_adapter
from cart_recommender.events.row_writer import EventRecord, EventRowWriter
from cart_recommender.events.writer import stored_keys
from cart_recommender.ml.csvformat import EventRow, RowError, read_events
from cart_recommender.models import Event, EventSource
from cart_recommender.performance import attribution

#: Rows per transaction. Every commit rewrites the index pages the batch touched, and the
#: idempotency key index is touched at random places, so on SQLite 5,000-row batches made a
#: 60,000-row import into a 200,000-event table 1.4-2.2x slower than one 60,000-row batch. A batch
#: holds the database's write lock while it is written (a few seconds on SQLite).
DEFAULT_BATCH_SIZE = 50_000
#: Bad rows kept in the report with their reason; more are only counted.
MAX_KEPT_ERRORS = 10_000
_CENT = Decimal("0.01")
_MAX_PRICE = Decimal(10) ** 10  # Event.unit_price: 12 digits, 2 of them decimals
_WOULD_CREATE = object()  # dry run: a product that would be created


@functools.lru_cache(maxsize=65_536)
def _utc_text(when: datetime) -> str:
    # the rows of one order share a timestamp: convert each one once
    return when.astimezone(UTC).isoformat()


def row_key(row: EventRow) -> str:
    """The idempotency key of an imported row: the same event gives the same key in any file.

    The timestamp enters in UTC, so ``...Z`` and ``...+00:00`` (or another offset for the same
    instant) give the same key.
    """
    parts = (_utc_text(row.timestamp), row.user_id, row.session_id, row.event, row.item_id, row.order_id)
    return "import:" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


@dataclass
class ImportReport:
    """What an import did (or, in a dry run, would do)."""

    rows: int = 0
    stored: int = 0
    duplicates: int = 0
    products_created: int = 0
    skipped_unknown: int = 0
    bad_rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    dry_run: bool = False
    elapsed_s: float = 0.0

    def add_error(self, error: RowError) -> None:
        self.bad_rows += 1
        if len(self.errors) < MAX_KEPT_ERRORS:
            self.errors.append(error)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.elapsed_s if self.elapsed_s > 0 else 0.0


class ImportAborted(Exception):
    """The import stopped; ``report`` says what had been stored before it did."""

    def __init__(self, message: str, report: ImportReport) -> None:
        super().__init__(message)
        self.report = report


class EventImporter:
    """Reads a behaviour-events CSV and stores its rows as events (``source="import"``).

    Args:
        create_products: create products the shop does not know, through the adapter's
            ``create_product`` (name, category and price from the row that mentions it first);
            without it, rows of unknown products are bad rows.
        skip_unknown_products: pass over rows of products the shop does not know, counted in
            :attr:`ImportReport.skipped_unknown` (a history exported from a larger catalog).
        dry_run: check and count everything, write nothing.
        strict: check the whole file first; any bad row aborts with nothing written.
        batch_size: rows per transaction (see :data:`DEFAULT_BATCH_SIZE`).
        progress: called with the number of rows read so far, after each batch.
    """

    def __init__(
        self,
        *,
        create_products: bool = False,
        skip_unknown_products: bool = False,
        dry_run: bool = False,
        strict: bool = False,
        batch_size: int = DEFAULT_BATCH_SIZE,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if create_products and skip_unknown_products:
            raise ValueError("create_products and skip_unknown_products exclude each other")
        self.create_products = create_products
        self.skip_unknown_products = skip_unknown_products
        self._absent: set[str] = set()  # external ids known to name no product
        self.dry_run = dry_run
        self.strict = strict
        self.batch_size = batch_size
        self.progress = progress
        self.adapter = get_adapter()
        self._products: dict[str, Any] = {}  # external id -> product pk (or _WOULD_CREATE)
        self._row_writer: EventRowWriter | None = None
        self._seen_in_dry_run: set[str] = set()
        self._limits = {
            name: Event._meta.get_field(column).max_length
            for name, column in (("user_id", "shopper_ref"), ("session_id", "session_key"),
                                 ("order_id", "order_ref"))
        }

    # -- the whole file ----------------------------------------------------------------------
    def run(self, path: str | Path) -> ImportReport:
        """Import ``path`` (plain or gzip'd CSV). Raises :class:`ImportAborted` on failure."""
        started = time.monotonic()
        if self.strict:
            checked = EventImporter(
                create_products=self.create_products, skip_unknown_products=self.skip_unknown_products,
                dry_run=True, batch_size=self.batch_size, progress=self.progress,
            ).run(path)
            if checked.bad_rows:
                checked.elapsed_s = time.monotonic() - started
                raise ImportAborted(
                    f"{checked.bad_rows} bad row(s) in {checked.rows} rows; nothing was stored (--strict)",
                    checked,
                )
            if self.dry_run:
                return checked
        report = ImportReport(dry_run=self.dry_run)
        batch: list[EventRow | RowError] = []
        try:
            for row in read_events(path):
                batch.append(row)
                if len(batch) >= self.batch_size:
                    self._apply(batch, report)
                    batch = []
            if batch:
                self._apply(batch, report)
            if report.stored and self._row_writer is not None:
                self._row_writer.refresh_statistics()
        finally:
            if self._row_writer is not None:
                self._row_writer.restore_connection()
        report.elapsed_s = time.monotonic() - started
        return report

    # -- one batch ---------------------------------------------------------------------------
    def _apply(self, batch: list[EventRow | RowError], report: ImportReport) -> None:
        report.rows += len(batch)
        bad: dict[int, str] = {}
        good: list[EventRow] = []
        for row in batch:
            if isinstance(row, RowError):
                bad[row.line] = row.reason
            else:
                reason = self._check_lengths(row)
                if reason:
                    bad[row.line] = reason
                else:
                    good.append(row)
        self._resolve(row.item_id for row in good)
        missing: dict[str, EventRow] = {}
        skipped: set[int] = set()
        for row in good:
            if row.item_id not in self._products:
                if self.create_products:
                    missing.setdefault(row.item_id, row)
                elif self.skip_unknown_products:
                    skipped.add(row.line)
                else:
                    bad[row.line] = (f"unknown item_id {row.item_id!r} (use --create-products to create "
                                     "it, or --skip-unknown-products)")
        if skipped:
            good = [row for row in good if row.line not in skipped]
            report.skipped_unknown += len(skipped)
        first, last = batch[0].line, batch[-1].line
        try:
            with transaction.atomic():
                created = self._create(missing, bad, good)
                rows = [self._tuple(row, created) for row in good if row.line not in bad]
                fresh = self._credited(self._drop_duplicates(rows))
                if not self.dry_run:
                    self._writer().insert(fresh)
        except DatabaseError as exc:
            raise ImportAborted(
                f"lines {first}-{last} were not stored ({exc}); the {report.stored} events stored "
                "before stay stored, and re-running the file skips them", report,
            ) from exc
        self._products.update(created)
        report.products_created += len(created)
        report.stored += len(fresh)
        report.duplicates += len(rows) - len(fresh)
        for line in sorted(bad):
            report.add_error(RowError(line, bad[line]))
        if self.progress is not None:
            self.progress(report.rows)

    def _check_lengths(self, row: EventRow) -> str | None:
        for name, limit in self._limits.items():
            if len(getattr(row, name)) > limit:
                return f"{name} is longer than {limit} characters"
        if row.price is not None and row.price >= _MAX_PRICE:
            return f"price {row.price} is too large"
        return None

    def _resolve(self, item_ids: Iterable[str]) -> None:
        unknown = {i for i in item_ids if i not in self._products and i not in self._absent}
        if unknown:
            found = self.adapter.get_products_by_external_ids(unknown)
            for external_id, product in found.items():
                self._products[external_id] = product.pk
            if not self.create_products:  # asked once: a later batch does not ask again
                self._absent |= unknown - set(found)

    def _create(
        self, missing: dict[str, EventRow], bad: dict[int, str], good: list[EventRow]
    ) -> dict[str, Any]:
        """Create the batch's unknown products (inside the batch's transaction)."""
        created: dict[str, Any] = {}
        failed: dict[str, str] = {}
        usable = {row.item_id for row in good if row.line not in bad}
        for external_id, row in missing.items():
            if external_id not in usable:
                continue  # only bad rows mention it: create nothing for them
            if self.dry_run:
                created[external_id] = _WOULD_CREATE
                continue
            try:
                with transaction.atomic():
                    product = self.adapter.create_product(
                        external_id, row.item_name, row.category or None, row.price
                    )
            except (DatabaseError, ValidationError, ValueError, TypeError) as exc:
                failed[external_id] = f"could not create product {external_id!r}: {exc}"
                continue
            created[external_id] = product.pk
        for row in good:
            if row.item_id in failed and row.line not in bad:
                bad[row.line] = failed[row.item_id]
        return created

    def _writer(self) -> EventRowWriter:
        if self._row_writer is None:
            self._row_writer = EventRowWriter()
            self._row_writer.tune_connection()
        return self._row_writer

    def _drop_duplicates(self, rows: list[EventRecord]) -> list[EventRecord]:
        """Rows whose key is neither stored already nor repeated earlier in the batch.

        A dry run also remembers the keys it has seen, so a file that repeats a row in two
        batches is counted as a real run would store it.
        """
        taken = stored_keys(row.idempotency_key for row in rows) | self._seen_in_dry_run
        fresh: list[EventRecord] = []
        for row in rows:
            if row.idempotency_key not in taken:
                taken.add(row.idempotency_key)
                fresh.append(row)
        if self.dry_run:
            self._seen_in_dry_run.update(row.idempotency_key for row in fresh)
        return fresh

    @staticmethod
    def _credited(rows: list[EventRecord]) -> list[EventRecord]:
        """The rows, the purchases and adds among them credited to the bundles that showed them."""
        credits = attribution.credit_rows([
            attribution.Row(r.event_type, r.product, r.user, r.shopper_ref, r.session_key, r.order_ref,
                            r.timestamp) if r.product is not None else None
            for r in rows
        ])
        return [
            row if credit is None else row._replace(
                bundle_id=credit.bundle_id, served_by=credit.served_by, scorer=credit.scorer,
                arm=credit.arm_id, segment=credit.segment)
            for row, credit in zip(rows, credits, strict=True)
        ]

    def _tuple(self, row: EventRow, created: dict[str, Any]) -> EventRecord:
        pk = self._products.get(row.item_id, created.get(row.item_id))
        return EventRecord(
            event_type=row.event,
            product=None if pk is _WOULD_CREATE else pk,
            user=None,
            shopper_ref=row.user_id,
            session_key=row.session_id,
            order_ref=row.order_id,
            quantity=row.quantity,
            unit_price=row.price.quantize(_CENT) if row.price is not None else None,
            timestamp=row.timestamp,
            source=EventSource.IMPORT.value,
            idempotency_key=row_key(row),
        )
