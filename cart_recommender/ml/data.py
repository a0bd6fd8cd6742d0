"""Events and queries as plain arrays: the contract between the Django glue and the ML core.

An :class:`EventLog` holds a shop's events sorted by time, with items, shoppers and orders
coded as dense integers. Scorers (the baselines and the Keras model) are fitted on a log and
score every catalog item for a batch of :class:`Query` objects (a cart being built plus the
shopper's earlier history).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import numpy as np

from cart_recommender.ml.content import ItemContent

# Event kinds as small integers; the order is part of the exported artifact format.
EVENT_KINDS = ("view", "click", "add_to_cart", "remove_from_cart", "purchase")
KIND_CODE = {name: code for code, name in enumerate(EVENT_KINDS)}
PURCHASE = KIND_CODE["purchase"]


@dataclass
class EventLog:
    """Events sorted by (time, order); every array has one entry per event.

    Attributes:
        time: float64 seconds since the epoch.
        shopper: int32 index into ``shoppers``; -1 for an anonymous event.
        kind: int8 code from :data:`EVENT_KINDS`.
        item: int32 index into ``items``.
        order: int32 index into ``orders``; -1 for events that are not purchases.
        items, shoppers, orders: the external ids behind the codes. ``items`` may end with
            catalog items no event names (sellable products nobody has touched yet).
        content: what the shop says about each item (name, category, price), when it says it.
        value: float64 money per event (quantity x unit price of a purchase; NaN where unknown),
            when the source gives prices; None otherwise. Segments read it, the models do not.
    """

    time: np.ndarray
    shopper: np.ndarray
    kind: np.ndarray
    item: np.ndarray
    order: np.ndarray
    items: list[str]
    shoppers: list[str]
    orders: list[str]
    content: ItemContent | None = None
    value: np.ndarray | None = None

    @property
    def n_items(self) -> int:
        return len(self.items)

    def __len__(self) -> int:
        return int(self.time.shape[0])

    @classmethod
    def from_records(
        cls, records: Iterable[tuple[float | datetime, str, str, str, str]
                               | tuple[float | datetime, str, str, str, str, float]],
        content: Mapping[str, tuple[str, str, float]] | None = None,
    ) -> EventLog:
        """Build a log from ``(time, shopper_id, event, item_id, order_id[, value])`` tuples.

        ``shopper_id`` "" means anonymous; ``order_id`` is only kept for purchases; ``value``
        (money, NaN: unknown) fills :attr:`value` when any record carries one.
        ``content`` maps item ids to ``(name, category, price)`` (NaN: unknown price).
        """
        item_ix: dict[str, int] = {}
        shopper_ix: dict[str, int] = {}
        order_ix: dict[str, int] = {}
        t, s, k, it, o = [], [], [], [], []
        v: list[float] = []
        for record in records:
            when, shopper, event, item, order = record[:5]
            if len(record) > 5:
                v.extend([math.nan] * (len(t) - len(v)))
                v.append(float(record[5]))  # type: ignore[misc]
            t.append(when.timestamp() if isinstance(when, datetime) else float(when))
            s.append(shopper_ix.setdefault(shopper, len(shopper_ix)) if shopper else -1)
            code = KIND_CODE[event]
            k.append(code)
            it.append(item_ix.setdefault(item, len(item_ix)))
            o.append(order_ix.setdefault(order, len(order_ix)) if code == PURCHASE and order else -1)
        time = np.asarray(t, dtype=np.float64)
        order_arr = np.asarray(o, dtype=np.int32)
        perm = np.lexsort((order_arr, time)) if len(t) else np.arange(0)
        value = None
        if v:
            v.extend([math.nan] * (len(t) - len(v)))
            value = np.asarray(v, np.float64)[perm]
        return cls(
            time=time[perm],
            shopper=np.asarray(s, dtype=np.int32)[perm],
            kind=np.asarray(k, dtype=np.int8)[perm],
            item=np.asarray(it, dtype=np.int32)[perm],
            order=order_arr[perm],
            items=list(item_ix),
            shoppers=list(shopper_ix),
            orders=list(order_ix),
            content=ItemContent.of(list(item_ix), content) if content is not None else None,
            value=value,
        )


@dataclass
class History:
    """A shopper's earlier events, oldest first (item codes, times, kinds, order codes)."""

    item: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    time: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    kind: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    order: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))


@dataclass
class Query:
    """Score the catalog for a shopper building ``cart`` at ``time``."""

    cart: np.ndarray  # distinct item codes
    history: History
    time: float
    #: the shopper's code in the fitted log, -1 when unknown (anonymous, or at serving time):
    #: lets a neighbour-based scorer leave the shopper out of their own neighbours
    shopper: int = -1


class Scorer(Protocol):
    """What every method (baseline or model) offers the protocol and the training glue."""

    name: str

    def fit(self, log: EventLog) -> Scorer: ...

    def score(self, queries: Sequence[Query]) -> np.ndarray:
        """Return float32 scores of shape (len(queries), n_items); higher is better."""
        ...


UNKNOWN_ITEM = -1
"""The code a :class:`Query` uses, in its cart or history, for an item the fitted log does not know.

A shopper's history can hold items that were added to the shop after the scorer was fitted (or,
in the evaluation protocol, items first bought in an earlier test order). Such items keep their
place in the arrays with code -1 (it may repeat), and every scorer must ignore them.
"""
