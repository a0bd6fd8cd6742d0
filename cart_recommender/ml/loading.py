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

from dataclasses import dataclass, field
from pathlib import Path

from cart_recommender.ml.csvformat import RowError, read_event_fields
from cart_recommender.ml.data import EventLog


@dataclass
class LoadedLog:
    """The log built from the valid rows, and every bad row with its line number."""

    log: EventLog
    errors: list[RowError] = field(default_factory=list)
    rows: int = 0


def load_event_log(path: str | Path) -> LoadedLog:
    """Read a plain or gzip'd behaviour-events CSV; bad rows are skipped and returned.

    Raises:
        cart_recommender.ml.csvformat.FormatError: the header is missing or lacks columns.
    """
    errors: list[RowError] = []
    records = []
    rows = 0
    for row in read_event_fields(path):
        rows += 1
        if isinstance(row, RowError):
            errors.append(row)
        else:
            _line, when, user_id, _session, event, item_id, order_id = row
            records.append((when, user_id, event, item_id, order_id))
    return LoadedLog(log=EventLog.from_records(records), errors=errors, rows=rows)
