"""CSV -> EventLog: the fast reader gives every row the verdict of ``read_events``."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np

from cart_recommender.ml.csvformat import EventRow, RowError, read_event_fields, read_events
from cart_recommender.ml.data import KIND_CODE
from cart_recommender.ml.loading import load_event_log

CSV = "\ufeff" + "\n".join([
    "timestamp,user_id,session_id,event,item_id,order_id,quantity,price,item_name",
    "2024-01-01T10:00:00Z,u1,,purchase,A,o1,2,1.50,Mug",
    "2024-01-01T10:00:00Z,u1,,purchase,B,o1,,,",
    "2024-01-01T10:00:00+02:00,,s9,view,C,,,,",
    "2024-01-01 11:00:00,,s9,purchase,C,o2,1,0",
    "2024-01-01T12:00:00Z,u2,,wishlist,A,,,,",
    "2024-01-01T12:00:00Z,u2,,view,,,,,",
    "2024-01-01T12:00:00Z,,,view,A,,,,",
    "2024-01-01T12:00:00Z,u2,,purchase,A,,,,",
    "yesterday,u2,,view,A,,,,",
    ",u2,,view,A,,,,",
    "2024-01-01T12:00:00Z,u2,,view,A,,0,,",
    "2024-01-01T12:00:00Z,u2,,view,A,,x,,",
    "2024-01-01T12:00:00Z,u2,,view,A,,1,-1,",
    "2024-01-01T12:00:00Z,u2,,view,A,,1,NaN,",
    "2024-01-01T12:00:00Z,u2,,view,A,,1,abc,",
    "2024-01-01T12:00:00Z,u2,,view,A,,1,1,name,extra",
    "",
    "2024-01-01T12:00:00Z,u2,,add_to_cart,A",
    "2024-01-01T13:00:00Z, u3 ,,purchase, B ,o3,1,2",
]) + "\n"


def write(tmp_path: Path, text: str, gz: bool = False) -> Path:
    path = tmp_path / ("events.csv.gz" if gz else "events.csv")
    data = text.encode("utf-8")
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def as_fields(row: EventRow | RowError) -> tuple | RowError:
    if isinstance(row, RowError):
        return row
    value = row.quantity * float(row.price) if row.price is not None else math.nan
    return (row.line, row.timestamp.timestamp(), row.user_id, row.session_id, row.event, row.item_id,
            row.order_id, value)


def test_fast_reader_matches_read_events_row_by_row(tmp_path):
    for gz in (False, True):
        path = write(tmp_path, CSV, gz)
        slow = [as_fields(r) for r in read_events(path)]
        fast = list(read_event_fields(path))
        assert fast == slow
    errors = [r for r in fast if isinstance(r, RowError)]
    assert [e.line for e in errors] == list(range(6, 18))  # the blank line 18 is skipped
    assert "more fields" in errors[-1].reason


def test_load_event_log_uses_user_id_as_the_shopper(tmp_path):
    loaded = load_event_log(write(tmp_path, CSV))
    log = loaded.log
    assert loaded.rows == 18 and len(loaded.errors) == 12
    assert len(log) == 6
    assert sorted(log.shoppers) == ["u1", "u2", "u3"]  # s9's events are anonymous; " u3 " is u3
    anonymous = log.shopper == -1
    assert sorted(log.items[i] for i in log.item[anonymous]) == ["C", "C"]
    assert sorted(log.orders) == ["o1", "o2", "o3"]
    assert (log.order[log.kind != KIND_CODE["purchase"]] == -1).all()
    assert np.all(np.diff(log.time) >= 0)
    # "+02:00" is 08:00 UTC, before o1 at 10:00; "no zone" means UTC.
    assert log.items[log.item[0]] == "C" and log.kind[0] == KIND_CODE["view"]
