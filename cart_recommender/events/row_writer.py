"""Writing event rows: many per statement, without building models, each key at most once.

``bulk_create`` prepares every field of every model instance in Python, which caps an import
at a few thousand rows a second. The rows written here are validated already, so they go as
plain tuples (:class:`EventRecord`) through multi-row ``INSERT ... ON CONFLICT DO NOTHING``
statements; the conflict clause covers only the unique idempotency key (a row that breaks any
other constraint still raises and rolls back its batch).

On PostgreSQL and SQLite the insert can also say which rows it stored (``RETURNING``): the
batch writer of the beacon and the ingest API (:mod:`cart_recommender.events.writer`) uses that
to report exact counts when two requests race to store the same key.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from django.db import connections, router
from django.db.models.constants import OnConflict

from cart_recommender.models import Event


class EventRecord(NamedTuple):
    """One event row as plain values; ``product`` and ``user`` are primary keys."""

    event_type: str
    product: Any
    user: Any
    shopper_ref: str
    session_key: str
    order_ref: str
    quantity: int
    unit_price: Decimal | None
    timestamp: datetime
    source: str
    idempotency_key: str | None
    bundle_id: str = ""
    served_by: str = ""
    scorer: str = ""
    arm: int | None = None
    segment: int | None = None


#: Rows per multi-row INSERT: 16 parameters a row stays below every backend's limit
#: (PostgreSQL 65,535; SQLite 32,766 since 3.32).
ROWS_PER_STATEMENT = 1000
#: Page cache (KiB) an import asks SQLite for; see :meth:`EventRowWriter.tune_connection`.
SQLITE_CACHE_KIB = 128 * 1024
#: Backends whose INSERT can return the keys it stored.
RETURNING_VENDORS = ("postgresql", "sqlite")


class EventRowWriter:
    """Writes :class:`EventRecord` rows to the events table of the database Event writes to."""

    def __init__(self) -> None:
        self.alias = router.db_for_write(Event)
        connection = connections[self.alias]
        ops = connection.ops
        quote = ops.quote_name
        meta = Event._meta
        columns = ", ".join(quote(meta.get_field(name).column) for name in EventRecord._fields)
        self.group = "(" + ", ".join(["%s"] * len(EventRecord._fields)) + ")"
        table = quote(meta.db_table)
        self.vendor = connection.vendor
        if self.vendor in RETURNING_VENDORS:
            # Only the unique key may conflict; SQLite's "INSERT OR IGNORE" would also drop
            # rows that break NOT NULL or CHECK constraints, silently. Django's psycopg cursors
            # bind client-side, so executemany() would make PostgreSQL parse one INSERT per row:
            # one statement per 1,000 rows halved the server's CPU time for 100,000 rows.
            self.sql = f"INSERT INTO {table} ({columns}) VALUES {{values}} ON CONFLICT DO NOTHING"
            self.returning = f" RETURNING {quote(meta.get_field('idempotency_key').column)}"
        else:
            suffix = ops.on_conflict_suffix_sql([], OnConflict.IGNORE, [], []) or ""
            self.sql = (
                f"{ops.insert_statement(on_conflict=OnConflict.IGNORE)} {table} ({columns}) "
                f"VALUES {{values}} {suffix}"
            ).strip()
            self.returning = ""
        self._adapt_datetime = ops.adapt_datetimefield_value
        self._adapt_decimal = ops.adapt_decimalfield_value
        self._times: dict[datetime, Any] = {}
        target = meta.get_field("product").target_field
        self._adapt_product = lambda pk: target.get_db_prep_save(pk, connection)
        self._products: dict[Any, Any] = {}
        self._saved_cache_size: int | None = None

    def _prepare(self, row: EventRecord) -> tuple[Any, ...]:
        when = row.timestamp
        adapted = self._times.get(when)
        if adapted is None:
            if len(self._times) > 100_000:
                self._times.clear()
            adapted = self._times[when] = self._adapt_datetime(when)
        product = self._products.get(row.product)
        if product is None:
            product = self._products[row.product] = self._adapt_product(row.product)
        price = row.unit_price
        return (
            row.event_type, product, row.user, row.shopper_ref, row.session_key, row.order_ref,
            row.quantity, None if price is None else self._adapt_decimal(price, 12, 2),
            adapted, row.source, row.idempotency_key, row.bundle_id, row.served_by, row.scorer, row.arm,
            row.segment,
        )

    def tune_connection(self) -> None:
        """Let SQLite keep more index pages in memory while importing (this connection only).

        Each row updates several indexes, one of them at a random place (the hashed key); with
        SQLite's default 2 MB page cache that turns into page reads once the table outgrows it.
        :meth:`restore_connection` puts the previous size back.
        """
        connection = connections[self.alias]
        if connection.vendor == "sqlite" and self._saved_cache_size is None:
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA cache_size")
                self._saved_cache_size = int(cursor.fetchone()[0])
                cursor.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")

    def restore_connection(self) -> None:
        if self._saved_cache_size is not None:
            connection = connections[self.alias]
            if connection.connection is not None:  # still the connection that was tuned
                with connection.cursor() as cursor:
                    cursor.execute(f"PRAGMA cache_size = {self._saved_cache_size}")
            self._saved_cache_size = None

    def refresh_statistics(self) -> None:
        """Let the query planner see the new rows at once.

        After a bulk import PostgreSQL's statistics still describe the old table until
        autovacuum gets to it; the co-purchase queries of the data screen and the serving
        fallbacks then pick nested loops over millions of rows (measured: 266 s instead of
        1.8 s for the top pairs of the Online Retail data).
        """
        connection = connections[self.alias]
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(f"ANALYZE {connection.ops.quote_name(Event._meta.db_table)}")
            elif connection.vendor == "sqlite":
                cursor.execute("PRAGMA optimize")

    def insert(self, rows: Sequence[EventRecord], *, returning: bool = False) -> list[str | None] | None:
        """Insert ``rows`` (call inside the batch's transaction).

        With ``returning`` (PostgreSQL and SQLite only) the result lists the idempotency key of
        every row actually stored, ``None`` for each stored row without a key; rows skipped
        because their key was taken meanwhile are missing from it. Else the result is None.
        """
        if returning and not self.returning:
            raise ValueError(f"{self.vendor} cannot say which rows an insert stored")
        stored: list[str | None] = []
        if not rows:
            return stored if returning else None
        prepared = [self._prepare(row) for row in rows]
        tail = self.returning if returning else ""
        with connections[self.alias].cursor() as cursor:
            for start in range(0, len(prepared), ROWS_PER_STATEMENT):
                chunk = prepared[start : start + ROWS_PER_STATEMENT]
                sql = self.sql.format(values=", ".join([self.group] * len(chunk))) + tail
                cursor.execute(sql, [value for row in chunk for value in row])
                if returning:
                    stored.extend(key for (key,) in cursor.fetchall())
        return stored if returning else None
