"""The importer's database writer: many event rows per statement, without building models.

``bulk_create`` prepares every field of every model instance in Python, which caps an import
at a few thousand rows a second. An import writes rows that are already validated, so this
module sends plain tuples through one prepared ``INSERT ... ON CONFLICT DO NOTHING`` with
``executemany``; the conflict clause covers only the unique idempotency key (a row that
breaks any other constraint still raises and rolls back its batch).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connections, router
from django.db.models.constants import OnConflict

from cart_recommender.models import Event

#: The columns an imported row fills, in the order of :class:`EventTuple`.
FIELDS = (
    "event_type", "product", "shopper_ref", "session_key", "order_ref", "quantity",
    "unit_price", "timestamp", "source", "idempotency_key",
)
#: Rows per multi-row INSERT on PostgreSQL (10 parameters a row, far below its 65,535).
ROWS_PER_STATEMENT = 1000
#: Page cache (KiB) an import asks SQLite for; see :meth:`EventRowWriter.tune_connection`.
SQLITE_CACHE_KIB = 128 * 1024
EventTuple = tuple[str, Any, str, str, str, int, Decimal | None, datetime, str, str]


class EventRowWriter:
    """Writes :data:`EventTuple` rows to the events table of the database Event writes to."""

    def __init__(self) -> None:
        self.alias = router.db_for_write(Event)
        connection = connections[self.alias]
        ops = connection.ops
        quote = ops.quote_name
        meta = Event._meta
        columns = ", ".join(quote(meta.get_field(name).column) for name in FIELDS)
        placeholders = ", ".join(["%s"] * len(FIELDS))
        table = quote(meta.db_table)
        self._multi_row = None
        if connection.vendor == "postgresql":
            # Django's psycopg cursors bind client-side, so executemany() makes the server parse
            # one INSERT per row. One statement per 1,000 rows halved the server's CPU time for
            # 100,000 rows (12 s against 21-24 s), for a little more CPU on the client.
            self._multi_row = (
                f"INSERT INTO {table} ({columns}) VALUES {{values}} ON CONFLICT DO NOTHING",
                f"({placeholders})",
            )
        if connection.vendor in ("sqlite", "postgresql"):
            # Only the unique key may conflict; SQLite's "INSERT OR IGNORE" would also drop
            # rows that break NOT NULL or CHECK constraints, silently.
            self.sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) ON CONFLICT DO NOTHING"
        else:
            suffix = ops.on_conflict_suffix_sql([], OnConflict.IGNORE, [], []) or ""
            self.sql = (
                f"{ops.insert_statement(on_conflict=OnConflict.IGNORE)} {table} ({columns}) "
                f"VALUES ({placeholders}) {suffix}"
            ).strip()
        self._adapt_datetime = ops.adapt_datetimefield_value
        self._adapt_decimal = ops.adapt_decimalfield_value
        self._times: dict[datetime, Any] = {}
        target = meta.get_field("product").target_field
        self._adapt_product = lambda pk: target.get_db_prep_save(pk, connection)
        self._products: dict[Any, Any] = {}
        self._saved_cache_size: int | None = None

    def _prepare(self, row: EventTuple) -> tuple[Any, ...]:
        when = row[7]
        adapted = self._times.get(when)
        if adapted is None:
            if len(self._times) > 100_000:
                self._times.clear()
            adapted = self._times[when] = self._adapt_datetime(when)
        product = self._products.get(row[1])
        if product is None:
            product = self._products[row[1]] = self._adapt_product(row[1])
        price = row[6]
        return (
            row[0], product, row[2], row[3], row[4], row[5],
            None if price is None else self._adapt_decimal(price, 12, 2),
            adapted, row[8], row[9],
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

    def insert(self, rows: Sequence[EventTuple]) -> None:
        """Insert ``rows`` (call inside the batch's transaction)."""
        if not rows:
            return
        prepared = [self._prepare(row) for row in rows]
        with connections[self.alias].cursor() as cursor:
            if self._multi_row is None:
                cursor.executemany(self.sql, prepared)
                return
            statement, group = self._multi_row
            for start in range(0, len(prepared), ROWS_PER_STATEMENT):
                chunk = prepared[start : start + ROWS_PER_STATEMENT]
                sql = statement.format(values=", ".join([group] * len(chunk)))
                cursor.execute(sql, [value for row in chunk for value in row])
