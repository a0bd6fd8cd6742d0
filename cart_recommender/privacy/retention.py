"""``EVENT_RETENTION_DAYS``: old behaviour events deleted in small batches, never in one long lock.

Each batch is its own short transaction deleting at most ``batch_size`` rows found through the
``(event_type, timestamp)`` index, so ingest, serving and a running snapshot wait on no lock for
longer than one batch (a few tens of milliseconds on PostgreSQL: ``benchmarks/retention.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from cart_recommender.conf import app_settings
from cart_recommender.models import Event, EventType

#: Rows one batch deletes.
BATCH_SIZE = 5000


@dataclass
class RetentionResult:
    """What one pass of :func:`delete_expired_events` did."""

    cutoff: datetime | None
    deleted: int = 0
    batches: int = 0
    seconds: float = 0.0
    longest_batch_s: float = 0.0


def delete_expired_events(
    *, days: int | None = None, now: datetime | None = None, batch_size: int = BATCH_SIZE,
    progress: Callable[[RetentionResult], None] | None = None,
) -> RetentionResult:
    """Delete events older than ``days`` (default ``EVENT_RETENTION_DAYS``; None keeps all)."""
    days = app_settings.EVENT_RETENTION_DAYS if days is None else days
    if days is None:
        return RetentionResult(cutoff=None)
    cutoff = (now or timezone.now()) - timedelta(days=days)
    result = RetentionResult(cutoff=cutoff)
    started = time.monotonic()
    for event_type in EventType.values:
        while True:
            batch_started = time.monotonic()
            with transaction.atomic():
                pks = list(
                    Event.objects.filter(event_type=event_type, timestamp__lt=cutoff)
                    .order_by().values_list("pk", flat=True)[:batch_size]
                )
                if not pks:
                    break
                deleted, _ = Event.objects.filter(pk__in=pks).delete()
            result.deleted += deleted
            result.batches += 1
            result.longest_batch_s = max(result.longest_batch_s, time.monotonic() - batch_started)
            if progress is not None:
                progress(result)
    result.seconds = time.monotonic() - started
    return result

