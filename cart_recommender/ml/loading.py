"""Behaviour-events CSV files straight into an :class:`~cart_recommender.ml.data.EventLog`.

The evaluation command and the benchmarks read files without the database. The columns and
the validation rules live in :mod:`cart_recommender.ml.csvformat` (its fast path); this module only
decides which column is the shopper: the evaluation protocol owns orders by ``user_id``, so an
event without one is anonymous, whatever its ``session_id``.

Example::

    loaded = load_event_log("online_retail.csv.gz")
    print(len(loaded.log), "events;", len(loaded.errors), "bad rows")
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from cart_recommender.ml.csvformat import ItemFields, RowError, read_event_fields
from cart_recommender.ml.data import EventLog


@dataclass
class LoadedLog:
    """The log built from the valid rows, and every bad row with its line number."""

    log: EventLog
    errors: list[RowError] = field(default_factory=list)
    rows: int = 0


def load_event_log(path: str | Path) -> LoadedLog:
    """Read a plain or gzip'd behaviour-events CSV; bad rows are skipped and returned.

    The log carries the items' names, categories and prices when the file gives any.

    Raises:
        cart_recommender.ml.csvformat.FormatError: the header is missing or lacks columns.
    """
    errors: list[RowError] = []
    records = []
    rows = 0
    items: ItemFields = {}
    for row in read_event_fields(path, items):
        rows += 1
        if isinstance(row, RowError):
            errors.append(row)
        else:
            _line, when, user_id, _session, event, item_id, order_id, value = row
            records.append((when, user_id, event, item_id, order_id, value))
    content = items if any(n or c or math.isfinite(p) for n, c, p in items.values()) else None
    return LoadedLog(log=EventLog.from_records(records, content=content), errors=errors, rows=rows)
