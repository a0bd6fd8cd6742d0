"""The training lock: one run at a time across workers and hosts, with a heartbeat.

Training runs are serialised by the single :class:`~cart_recommender.models.TrainingLock` row.
The holder refreshes a heartbeat while it works; a lock whose heartbeat is older than
``LOCK_TIMEOUT_SECONDS`` belonged to a worker that died and may be taken over. Taking the lock
is a compare-and-swap ``UPDATE ... WHERE holder = <the holder we read>``, which is atomic on
every database Django supports (PostgreSQL additionally locks the row while we read it).

Example::

    from cart_recommender.training import lock
    acquired, other = lock.acquire_lock(version)
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from cart_recommender.conf import app_settings
from cart_recommender.models import ModelVersion, TrainingLock

LOCK_NAME = "training"
Status = ModelVersion.Status


def _lock_row() -> TrainingLock:
    try:
        return TrainingLock.objects.get_or_create(name=LOCK_NAME)[0]
    except IntegrityError:  # created concurrently by another worker
        return TrainingLock.objects.get(name=LOCK_NAME)


def lock_row_for_update() -> TrainingLock:
    """Lock the lock row itself (PostgreSQL) so concurrent retrain requests queue up here.

    Call inside ``transaction.atomic()``.
    """
    _lock_row()
    return TrainingLock.objects.select_for_update().get(name=LOCK_NAME)


def stale_before(now: datetime | None = None) -> datetime:
    """Heartbeats older than this belong to a dead worker."""
    return (now or timezone.now()) - timedelta(seconds=app_settings.LOCK_TIMEOUT_SECONDS)


def lock_holder() -> ModelVersion | None:
    """The version holding a live (not stale) lock, or None."""
    row = TrainingLock.objects.filter(name=LOCK_NAME).select_related("holder").first()
    if row is None or row.holder is None or row.heartbeat_at is None:
        return None
    return row.holder if row.heartbeat_at >= stale_before() else None


def acquire_lock(version: ModelVersion) -> tuple[bool, ModelVersion | None]:
    """Try to take the training lock for ``version``.

    Returns ``(acquired, other)``: ``other`` is the live holder when refused, or the dead
    holder that was taken over (already marked failed) when acquired.
    """
    _lock_row()
    now = timezone.now()
    with transaction.atomic():
        row = TrainingLock.objects.select_for_update().get(name=LOCK_NAME)
        old_holder_id = row.holder_id
        live = (
            old_holder_id is not None
            and old_holder_id != version.pk
            and row.heartbeat_at is not None
            and row.heartbeat_at >= stale_before(now)
        )
        if live:
            return False, ModelVersion.objects.filter(pk=old_holder_id).first()
        same = Q(holder__isnull=True) if old_holder_id is None else Q(holder_id=old_holder_id)
        taken = TrainingLock.objects.filter(same, name=LOCK_NAME).update(
            holder=version, heartbeat_at=now
        )
        if not taken:  # someone else won the race between our read and our write
            holder = lock_holder()
            return False, holder
    dead = None
    if old_holder_id is not None and old_holder_id != version.pk:
        dead = ModelVersion.objects.filter(pk=old_holder_id).first()
        if dead is not None and dead.status in (Status.QUEUED, Status.TRAINING):
            mark_worker_stopped(dead)
    return True, dead


def heartbeat(version: ModelVersion) -> bool:
    """Refresh the lock's heartbeat; False if the lock was taken over (the run must stop)."""
    now = timezone.now()
    ModelVersion.objects.filter(pk=version.pk).update(heartbeat_at=now)
    return bool(TrainingLock.objects.filter(name=LOCK_NAME, holder=version).update(heartbeat_at=now))


def release_lock(version: ModelVersion) -> None:
    """Give the lock back if ``version`` still holds it."""
    TrainingLock.objects.filter(name=LOCK_NAME, holder=version).update(holder=None, heartbeat_at=None)


def mark_worker_stopped(version: ModelVersion) -> None:
    """Mark a run whose worker died (its heartbeat went stale) as failed."""
    now = timezone.now()
    message = (
        "worker stopped: no heartbeat for more than "
        f"{app_settings.LOCK_TIMEOUT_SECONDS} s (the worker was killed or lost)"
    )
    marked = ModelVersion.objects.filter(pk=version.pk, status__in=[Status.QUEUED, Status.TRAINING]).update(
        status=Status.FAILED, error=message, finished_at=now,
    )
    if marked:
        ModelVersion.objects.filter(pk=version.pk).append_log(message)
