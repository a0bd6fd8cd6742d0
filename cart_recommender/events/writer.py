"""Storing a batch of validated events at once, each idempotency key at most once.

The beacon and the batch ingest API end here, and the CSV import writes through the same
:class:`~cart_recommender.events.row_writer.EventRowWriter` in batches of its own, so "the same
event sent twice is stored once" has one implementation. Keys already stored, and keys repeated
inside the batch, are reported back by their index in the batch instead of being written again.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from django.db import OperationalError, router, transaction

from cart_recommender.events.row_writer import EventRecord, EventRowWriter
from cart_recommender.models import Event
from cart_recommender.performance import attribution

T = TypeVar("T")
# Keys looked up per query: far below every backend's limit on query parameters.
_LOOKUP_CHUNK = 900


@dataclass
class WriteResult:
    """What :func:`write_events` did: how many rows it stored, which inputs it skipped."""

    stored: int = 0
    duplicates: list[int] = field(default_factory=list)


def stored_keys(keys: Iterable[str]) -> set[str]:
    """The subset of ``keys`` that some stored event already carries."""
    wanted = list(dict.fromkeys(k for k in keys if k))
    found: set[str] = set()
    for start in range(0, len(wanted), _LOOKUP_CHUNK):
        chunk = wanted[start : start + _LOOKUP_CHUNK]
        found.update(
            Event.objects.filter(idempotency_key__in=chunk).values_list("idempotency_key", flat=True)
        )
    return found


def write_events(events: Sequence[Event], *, dry_run: bool = False) -> WriteResult:
    """Insert ``events`` in one transaction, skipping those whose key is already taken.

    The events must be valid already (callers validate and resolve products first). With
    ``dry_run`` nothing is written, but the result says what would have been.

    Safe under concurrent, overlapping and reordered retries of the same batch:

    * rows are inserted in idempotency-key order, so two requests holding the same keys in
      different orders take the unique index's locks in the same order and cannot deadlock;
      a deadlock or serialization failure from elsewhere is retried (:data:`ATTEMPTS`);
    * on PostgreSQL and SQLite the insert says which rows it stored, so ``stored`` is exact and
      a key that a concurrent request stored first is listed under ``duplicates``. On other
      databases ``stored`` counts the rows sent (the table still holds each key once).

    Example::

        result = write_events([Event(event_type="view", product=p, session_key="abc")])
        result.stored  # 1
    """
    result = WriteResult()
    taken = stored_keys(e.idempotency_key for e in events if e.idempotency_key)
    fresh: list[tuple[int, Event]] = []
    for index, event in enumerate(events):
        key = event.idempotency_key
        if key:
            if key in taken:
                result.duplicates.append(index)
                continue
            taken.add(key)
        fresh.append((index, event))
    if dry_run or not fresh:
        result.stored = len(fresh)
        return result
    fresh.sort(key=lambda entry: entry[1].idempotency_key or "")
    attribution.attribute([event for _, event in fresh])
    writer = EventRowWriter()
    records = [_record(event) for _, event in fresh]
    if not writer.returning:
        _with_retries(lambda: writer.insert(records))
        result.stored = len(fresh)
        return result
    stored = _with_retries(lambda: writer.insert(records, returning=True)) or []
    kept = {key for key in stored if key is not None}
    result.stored = len(stored)
    result.duplicates += [index for index, e in fresh if e.idempotency_key and e.idempotency_key not in kept]
    result.duplicates.sort()
    return result


#: Tries of one batch that a deadlock or serialization failure (PostgreSQL) interrupts.
ATTEMPTS = 4
#: SQLSTATEs worth a retry: serialization_failure, deadlock_detected.
RETRY_STATES = frozenset({"40001", "40P01"})


def _with_retries(insert: Callable[[], T]) -> T:
    """Run ``insert`` in a transaction (a savepoint inside an outer one), retrying the failures
    a concurrent writer can cause; anything else, and the last failure, propagates."""
    attempt = 1
    while True:
        try:
            with transaction.atomic(using=router.db_for_write(Event)):
                return insert()
        except OperationalError as exc:
            state = getattr(exc.__cause__, "sqlstate", None)
            if state not in RETRY_STATES or attempt == ATTEMPTS:
                raise
        time.sleep(0.01 * 2**attempt * random.random())  # jitter: the two writers drift apart
        attempt += 1


def _record(event: Event) -> EventRecord:
    return EventRecord(
        event_type=event.event_type, product=event.product_id, user=event.user_id,
        shopper_ref=event.shopper_ref, session_key=event.session_key, order_ref=event.order_ref,
        quantity=event.quantity, unit_price=event.unit_price, timestamp=event.timestamp,
        source=event.source, idempotency_key=event.idempotency_key or None,
        bundle_id=event.bundle_id, served_by=event.served_by, scorer=event.scorer, arm=event.arm_id,
        segment=event.segment,
    )
