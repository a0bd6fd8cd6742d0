"""A 15-order shop small enough to rank by hand (the expected values are in the tests).

Orders, sorted by (time, order id as a string); times in hours:

====  =====  =====  =========  ==================================================
 #    id     time   owner      items
====  =====  =====  =========  ==================================================
 1    o1     1      alice      a b
 2    o2     2      bob        a c
 3    o3     3      alice      a b c
 4    o4     4      (anon)     b d
 5    o5     5      bob        c
 6    o6     6      carol      a d
 7    o7     7      alice      b b        (one distinct item)
 8    o8     8      dave       c d
 9    o9     9      bob        a
 10   o10    10     carol      b c
 11   o11    10.5   dave       d
 12   K40    11     dave       a d        (written after K5, sorts before it)
 13   K5     11     alice      c c        (in the last 20%, one distinct item)
 14   o14    12     alice      a x b      (test; x is never bought before)
 15   o15    13     alice      c d        (test; its history holds o14)
====  =====  =====  =========  ==================================================

15 orders -> the last 3 (K5, o14, o15); K5 has one distinct item, so the test orders are
o14 and o15 and the first test order's time (the cutoff) is 12 h. Other events: a view of
``v`` at 6.5 h and an add_to_cart of ``e`` at 11.5 h are training data (before the cutoff); a
view at exactly 12 h and one at 12.5 h are not. Catalog: a b c d v e (x is unknown).
Training order counts: a 6, b 5, c 6, d 5, v 0, e 0, so ties go a, c, b, d, e, v.
"""

from __future__ import annotations

from cart_recommender.ml.data import EventLog

HOUR = 3600.0
START = 1_700_000_000.0

ORDERS = [
    ("o1", 1, "alice", "ab"), ("o2", 2, "bob", "ac"), ("o3", 3, "alice", "abc"),
    ("o4", 4, "", "bd"), ("o5", 5, "bob", "c"), ("o6", 6, "carol", "ad"),
    ("o7", 7, "alice", "bb"), ("o8", 8, "dave", "cd"), ("o9", 9, "bob", "a"),
    ("o10", 10, "carol", "bc"), ("o11", 10.5, "dave", "d"),
    ("K5", 11, "alice", "cc"), ("K40", 11, "dave", "ad"),
    ("o14", 12, "alice", "axb"), ("o15", 13, "alice", "cd"),
]
OTHER_EVENTS = [
    (6.5, "carol", "view", "v"), (11.5, "alice", "add_to_cart", "e"),
    (12, "bob", "view", "a"), (12.5, "alice", "view", "d"),
]


def records() -> list[tuple[float, str, str, str, str]]:
    """``(time, shopper, event, item, order)`` in file order (K5 is written before K40)."""
    rows = [
        (START + hours * HOUR, owner, "purchase", item, order)
        for order, hours, owner, items in ORDERS
        for item in items
    ]
    rows += [(START + hours * HOUR, who, event, item, "") for hours, who, event, item in OTHER_EVENTS]
    return rows


def tiny_log() -> EventLog:
    return EventLog.from_records(records())


def tiny_csv() -> str:
    """The same shop in the behaviour-events CSV format."""
    from datetime import UTC, datetime

    lines = ["timestamp,user_id,session_id,event,item_id,order_id,quantity,price"]
    for when, who, event, item, order in records():
        stamp = datetime.fromtimestamp(when, UTC).isoformat().replace("+00:00", "Z")
        session = "" if who else f"guest-{order}"
        lines.append(f"{stamp},{who},{session},{event},{item},{order},1,2.50")
    return "\n".join(lines) + "\n"
