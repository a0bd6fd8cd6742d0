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
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any

COLUMNS = (
    "timestamp", "user_id", "session_id", "event", "item_id", "order_id",
    "quantity", "price", "item_name", "category",
)
REQUIRED_COLUMNS = ("timestamp", "event", "item_id")
#: Columns kept as text (ids and names): checked by :func:`text_problem`.
TEXT_COLUMNS = ("user_id", "session_id", "item_id", "order_id", "item_name", "category")
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
    """Open a plain or gzip'd CSV as text (by content, not by name).

    Bytes that are not UTF-8 are kept as lone surrogates (``surrogateescape``), so the row that
    holds them is reported as a bad row by :func:`text_problem` instead of the whole file
    failing to decode.
    """
    raw = open(path, "rb")
    magic = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
    stream: IO[bytes] = gzip.GzipFile(fileobj=raw) if magic == b"\x1f\x8b" else raw
    return io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text, or None when it can.

    The one rule for every id and name that comes from outside (a CSV row, a JSON body, a URL):
    PostgreSQL text cannot hold a NUL character, and a lone surrogate (from a JSON ``\\ud800``
    escape or bytes that are not UTF-8) cannot be encoded at all.
    """
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode text (a lone surrogate or bytes that are not UTF-8)"
    return None


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

    for name in TEXT_COLUMNS:
        problem = text_problem(get(name))
        if problem:
            return RowError(line, f"{name} {problem}")
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


def check_header(header: list[str]) -> None:
    """Raise FormatError when the header lacks a required column."""
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if "user_id" not in header and "session_id" not in header:
        missing.append("user_id or session_id")
    if missing:
        raise FormatError(f"the header lacks required column(s): {', '.join(missing)}")


def read_events_from(handle: IO[str]) -> Iterator[EventRow | RowError]:
    reader = csv.DictReader(handle)
    header = reader.fieldnames
    if not header:
        raise FormatError("the file is empty: expected a header row")
    check_header(header)
    for record in reader:
        line = reader.line_num
        if None in record:  # more fields than the header
            yield RowError(line, "more fields than the header has columns")
            continue
        yield parse_row(line, record)


# --- A fast path for the ML core -------------------------------------------------------------
# Building an EventRow per line (a dict per record, Decimal prices, a datetime per timestamp) costs
# about 17 us a row: 9 s for the Online Retail file. Evaluation and benchmarks only need five
# columns as plain values, so this path reads lists, caches the parse of repeated timestamps,
# quantities and prices (shops repeat them a lot), and hands any row it does not accept to
# parse_row, so a bad row gets exactly the verdict and message that read_events gives it.

EventFields = tuple[int, float, str, str, str, str, str, float]
"""``(line, epoch_seconds, user_id, session_id, event, item_id, order_id, value)`` of a valid row;
``value`` is quantity x price, NaN without a price."""

_EVENT_SET = frozenset(EVENT_TYPES)
_CACHE_LIMIT = 200_000
_UNSEEN: Any = object()


def _fast_valid_number(cache: dict[str, bool], raw: str, is_price: bool) -> bool:
    ok = cache.get(raw)
    if ok is None:
        if is_price:
            try:
                value = Decimal(raw)
                ok = value.is_finite() and value >= 0
            except InvalidOperation:
                ok = False
        else:
            try:
                ok = int(raw) >= 1
            except ValueError:
                ok = False
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[raw] = ok
    return ok


def _plain_text(*values: str) -> bool:
    """Whether every value is storable text: :func:`text_problem` once on them all (one call a row)."""
    return text_problem("".join(values)) is None


#: item id -> ``(item_name, category, price)`` as the last valid row naming the item gave them
#: (an empty value never replaces a known one; NaN: no price).
ItemFields = dict[str, tuple[str, str, float]]


def read_event_fields(path: str | Path, items: ItemFields | None = None) -> Iterator[EventFields | RowError]:
    """Like :func:`read_events`, with the same validation, yielding :data:`EventFields` tuples.

    Pass a dict as ``items`` to have it filled with what the valid rows say about each item.

    Example::

        rows = [r for r in read_event_fields("events.csv.gz") if not isinstance(r, RowError)]
    """
    with open_text(path) as handle:
        yield from read_event_fields_from(handle, items)


def _remember(items: ItemFields, item: str, name: str, category: str, price: str) -> None:
    seen = items.get(item)
    value = float(price) if price else float("nan")
    if seen is None:
        items[item] = (name, category, value)
    elif seen != (name, category, value):
        items[item] = (name or seen[0], category or seen[1], value if price else seen[2])


def read_event_fields_from(
    handle: IO[str], items: ItemFields | None = None
) -> Iterator[EventFields | RowError]:
    reader = csv.reader(handle)
    header = next(reader, None)
    while header == []:  # DictReader skips blank lines before the header too
        header = next(reader, None)
    if not header:
        raise FormatError("the file is empty: expected a header row")
    # DictReader semantics: the header as given; a missing column reads as empty.
    check_header(header)
    width = len(header)
    # With duplicate column names DictReader keeps the last one; so does this mapping.
    index = {name: i for i, name in enumerate(header)}
    pad = [""] * width
    positions = [index.get(name, -1) for name in (
        "timestamp", "user_id", "session_id", "event", "item_id", "order_id", "quantity", "price",
    )]
    name_at, category_at = index.get("item_name", -1), index.get("category", -1)
    times: dict[str, float | None] = {}
    quantities: dict[str, bool] = {}
    prices: dict[str, bool] = {}
    for row in reader:
        if not row:  # DictReader skips blank lines
            continue
        line = reader.line_num
        if len(row) > width:
            yield RowError(line, "more fields than the header has columns")
            continue
        if len(row) < width:
            row = row + pad[len(row):]
        ts, user, session, event, item, order, qty, price = (
            row[p].strip() if p >= 0 else "" for p in positions
        )
        when = times.get(ts, _UNSEEN) if ts else None
        if when is _UNSEEN:
            try:
                when = parse_timestamp(ts).timestamp()
            except ValueError:
                when = None
            if len(times) >= _CACHE_LIMIT:
                times.clear()
            times[ts] = when
        if (
            event in _EVENT_SET and item and (user or session)
            and _plain_text(user, session, item, order)
            and (order or event != "purchase") and when is not None
            and (not qty or _fast_valid_number(quantities, qty, False))
            and (not price or _fast_valid_number(prices, price, True))
        ):
            if items is not None:
                name = row[name_at].strip() if name_at >= 0 else ""
                category = row[category_at].strip() if category_at >= 0 else ""
                if (name or category) and not _plain_text(name, category):
                    name = category = ""  # not storable text: the row's event still counts
                _remember(items, item, name, category, price)
            value = (int(qty) if qty else 1) * float(price) if price else math.nan
            yield (line, when, user, session, event, item, order, value)
        else:
            verdict = parse_row(line, dict(zip(header, row, strict=True)))
            if isinstance(verdict, EventRow):  # cannot happen unless the two paths drift apart
                if items is not None:
                    _remember(items, item, verdict.item_name, verdict.category,
                              str(verdict.price) if verdict.price is not None else "")
                value = verdict.quantity * float(verdict.price) if verdict.price is not None else math.nan
                yield (line, verdict.timestamp.timestamp(), user, session, event, item, order, value)
            else:
                yield verdict
