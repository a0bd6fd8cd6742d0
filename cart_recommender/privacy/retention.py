"""``EVENT_RETENTION_DAYS``: old behaviour events deleted in small batches, never in one long lock.

Each batch is its own short transaction deleting at most ``batch_size`` rows found through the
``(event_type, timestamp)`` index, walking it forward from where the last batch ended (the
index still lists rows deleted moments ago until a vacuum; starting at the front each time
would read them again and again). On SQLite a writer holds the whole database, so
ingest and the beacon wait at most one batch, not the whole deletion; on PostgreSQL no
transaction holds hundreds of thousands of row locks (which would block an erasure touching
the same rows and hold back vacuum). ``benchmarks/retention.py`` measures it.
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
        since = None  # walk the index forward: rows deleted by earlier batches are never re-read
        while True:
            batch_started = time.monotonic()
            expired = Event.objects.filter(event_type=event_type, timestamp__lt=cutoff)
            if since is not None:
                expired = expired.filter(timestamp__gte=since)
            with transaction.atomic():
                rows = list(expired.order_by("timestamp").values_list("pk", "timestamp")[:batch_size])
                if not rows:
                    break
                deleted, _ = Event.objects.filter(pk__in=[pk for pk, _when in rows]).delete()
            since = rows[-1][1]
            result.deleted += deleted
            result.batches += 1
            result.longest_batch_s = max(result.longest_batch_s, time.monotonic() - batch_started)
            if progress is not None:
                progress(result)
            if len(rows) < batch_size:
                break
    result.seconds = time.monotonic() - started
    return result

