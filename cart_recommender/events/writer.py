"""Storing a batch of validated events at once, each idempotency key at most once.

The beacon, the batch ingest API and the CSV import all end here, so "the same event sent twice
is stored once" has one implementation. Keys already stored, and keys repeated inside the batch,
are reported back by their index in the batch instead of being written again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.db import router, transaction

from cart_recommender.models import Event

# Keys looked up per query: far below every backend's limit on query parameters.
_LOOKUP_CHUNK = 900
_INSERT_BATCH = 1000


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

    Two concurrent sends of the same key cannot both be stored: the insert ignores rows that
    hit the unique key (both callers may then report the event as stored; the table holds it
    once).

    Example::

        result = write_events([Event(event_type="view", product=p, session_key="abc")])
        result.stored  # 1
    """
    result = WriteResult()
    taken = stored_keys(e.idempotency_key for e in events if e.idempotency_key)
    fresh: list[Event] = []
    for index, event in enumerate(events):
        key = event.idempotency_key
        if key:
            if key in taken:
                result.duplicates.append(index)
                continue
            taken.add(key)
        fresh.append(event)
    result.stored = len(fresh)
    if fresh and not dry_run:
        with transaction.atomic(using=router.db_for_write(Event)):
            Event.objects.bulk_create(
                fresh,
                batch_size=_INSERT_BATCH,
                ignore_conflicts=any(e.idempotency_key for e in fresh),
            )
    return result
