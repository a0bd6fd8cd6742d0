"""The behaviour-events CSV format: the one place that knows its columns and rules.

Plain Python (no Django), so both ``cart_recommender_import`` (into the database) and
``cart_recommender_evaluate`` / the benchmarks (straight into arrays) read files the same way.

Example::

    for row in read_events("events.csv.gz"):
        if isinstance(row, RowError):
            print(row.line, row.reason)
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO

COLUMNS = (
    "timestamp", "user_id", "session_id", "event", "item_id", "order_id",
    "quantity", "price", "item_name", "category",
)
REQUIRED_COLUMNS = ("timestamp", "event", "item_id")
EVENT_TYPES = ("view", "click", "add_to_cart", "remove_from_cart", "purchase")
CATEGORY_SEPARATOR = " > "


@dataclass(frozen=True, slots=True)
class EventRow:
    """One valid row. ``line`` is the 1-based line number in the file (the header is line 1)."""

    line: int
    timestamp: datetime
    user_id: str
    session_id: str
    event: str
    item_id: str
    order_id: str
    quantity: int
    price: Decimal | None
    item_name: str
    category: str


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    reason: str


class FormatError(ValueError):
    """The file as a whole cannot be read (no header, missing required columns)."""


def open_text(path: str | Path) -> IO[str]:
    """Open a plain or gzip'd CSV as text (by content, not by name)."""
    raw = open(path, "rb")
    magic = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
    if magic == b"\x1f\x8b":
        return io.TextIOWrapper(gzip.GzipFile(fileobj=raw), encoding="utf-8-sig", newline="")
    return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")


def parse_timestamp(value: str) -> datetime:
    """ISO 8601; ``Z`` or an offset; no zone means UTC."""
    value = value.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def parse_row(line: int, record: dict[str, str | None]) -> EventRow | RowError:
    """Validate one CSV record; never raises for bad data."""

    def get(name: str) -> str:
        return (record.get(name) or "").strip()

    event = get("event")
    if event not in EVENT_TYPES:
        return RowError(line, f"unknown event {event!r} (expected one of {', '.join(EVENT_TYPES)})")
    item_id = get("item_id")
    if not item_id:
        return RowError(line, "item_id is empty")
    user_id, session_id = get("user_id"), get("session_id")
    if not user_id and not session_id:
        return RowError(line, "neither user_id nor session_id is given")
    order_id = get("order_id")
    if event == "purchase" and not order_id:
        return RowError(line, "a purchase needs an order_id")
    raw_ts = get("timestamp")
    if not raw_ts:
        return RowError(line, "timestamp is empty")
    try:
        timestamp = parse_timestamp(raw_ts)
    except ValueError:
        return RowError(line, f"unparsable timestamp {raw_ts!r}")
    raw_qty = get("quantity")
    try:
        quantity = int(raw_qty) if raw_qty else 1
    except ValueError:
        return RowError(line, f"quantity {raw_qty!r} is not an integer")
    if quantity < 1:
        return RowError(line, f"quantity {quantity} is not positive")
    raw_price = get("price")
    price: Decimal | None = None
    if raw_price:
        try:
            price = Decimal(raw_price)
        except InvalidOperation:
            return RowError(line, f"price {raw_price!r} is not a decimal number")
        if not price.is_finite() or price < 0:
            return RowError(line, f"price {raw_price!r} is not a non-negative number")
    return EventRow(
        line=line, timestamp=timestamp, user_id=user_id, session_id=session_id, event=event,
        item_id=item_id, order_id=order_id, quantity=quantity, price=price,
        item_name=get("item_name"), category=get("category"),
    )


def read_events(path: str | Path) -> Iterator[EventRow | RowError]:
    """Yield every data row of a behaviour-events CSV, valid or not, in file order."""
    with open_text(path) as handle:
        yield from read_events_from(handle)


def read_events_from(handle: IO[str]) -> Iterator[EventRow | RowError]:
    reader = csv.DictReader(handle)
    header = reader.fieldnames
    if not header:
        raise FormatError("the file is empty: expected a header row")
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing or ("user_id" not in header and "session_id" not in header):
        missing += [] if ("user_id" in header or "session_id" in header) else ["user_id or session_id"]
        raise FormatError(f"the header lacks required column(s): {', '.join(missing)}")
    for record in reader:
        line = reader.line_num
        if None in record:  # more fields than the header
            yield RowError(line, "more fields than the header has columns")
            continue
        yield parse_row(line, record)
