"""The training lock: one run at a time across workers and hosts, with a heartbeat.

Training runs are serialised by the single :class:`~cart_recommender.models.TrainingLock` row.
The holder refreshes a heartbeat every :data:`HEARTBEAT_EVERY_S` seconds from a thread of its
own (:class:`Heartbeat`), whatever the run is busy with; a lock whose heartbeat is older than
``LOCK_TIMEOUT_SECONDS`` belonged to a worker that died and may be taken over, and
:func:`expire_dead_runs` marks such runs failed (the admin, the next retrain request and the
``cart_recommender.expire_dead_runs`` task call it, so a killed worker's run ends within a
minute). Taking the lock
is a compare-and-swap ``UPDATE ... WHERE holder = <the holder we read>``, which is atomic on
every database Django supports (PostgreSQL additionally locks the row while we read it).

Example::

    from cart_recommender.training import lock
    acquired, other = lock.acquire_lock(version)
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from django.db import DatabaseError, IntegrityError, connections, transaction
from django.db.models import Q
from django.utils import timezone

from cart_recommender.conf import app_settings
from cart_recommender.models import ModelVersion, TrainingLock

LOCK_NAME = "training"
Status = ModelVersion.Status
logger = logging.getLogger(__name__)
#: Seconds between the heartbeats of a live run (LOCK_TIMEOUT_SECONDS must be several of these).
HEARTBEAT_EVERY_S = 5.0
#: A run that missed this many heartbeats is taken as gone when staff cancel it.
MISSED_BEATS_GONE = 3


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


def mark_worker_stopped(version: ModelVersion, message: str | None = None,
                        status: str = Status.FAILED) -> bool:
    """End a run whose worker is gone (``failed`` unless told otherwise); False if it had ended."""
    now = timezone.now()
    message = message or (
        "worker stopped: no heartbeat for more than "
        f"{app_settings.LOCK_TIMEOUT_SECONDS} s (the worker was killed or lost)"
    )
    marked = ModelVersion.objects.filter(pk=version.pk, status__in=[Status.QUEUED, Status.TRAINING]).update(
        status=status, error=message if status == Status.FAILED else "", finished_at=now,
        progress={"stage": str(status)},
    )
    if marked:
        ModelVersion.objects.filter(pk=version.pk).append_log(message)
        release_lock(version)
    return bool(marked)


def queue_stale_before(now: datetime | None = None) -> datetime:
    """A queued run created before this was never picked up by a worker."""
    return (now or timezone.now()) - timedelta(seconds=app_settings.QUEUE_TIMEOUT_SECONDS)


def expire_dead_runs() -> list[int]:
    """End every run whose worker is gone; return their ids.

    A training run is dead when its heartbeat is older than ``LOCK_TIMEOUT_SECONDS``; a queued
    run when no worker started it within ``QUEUE_TIMEOUT_SECONDS`` (none is running on the
    training queue, or the message was lost). Cheap: one indexed query when nothing is dead.
    """
    now = timezone.now()
    dead = ModelVersion.objects.filter(
        Q(status=Status.TRAINING) & (Q(heartbeat_at__lt=stale_before(now)) | Q(heartbeat_at__isnull=True))
        | Q(status=Status.QUEUED, created_at__lt=queue_stale_before(now))
    )
    ended = []
    for version in dead:
        if version.status == Status.QUEUED:
            message = (f"no worker started this run within {app_settings.QUEUE_TIMEOUT_SECONDS} s: is a "
                       f"Celery worker consuming the {app_settings.TRAINING_QUEUE!r} queue?")
        else:
            message = None
        if mark_worker_stopped(version, message):
            ended.append(version.pk)
    if ended:
        logger.warning("cart_recommender: ended training runs whose worker is gone: %s", ended)
    return ended


def worker_gone(version: ModelVersion, now: datetime | None = None) -> bool:
    """Whether a training run missed :data:`MISSED_BEATS_GONE` heartbeats in a row."""
    if version.heartbeat_at is None:
        return True
    silence = timedelta(seconds=HEARTBEAT_EVERY_S * MISSED_BEATS_GONE)
    return version.heartbeat_at < (now or timezone.now()) - silence


class Heartbeat:
    """Beats for a run every :data:`HEARTBEAT_EVERY_S` seconds from a thread of its own.

    The run's own work (reading a million events, an item-to-item solve, a Keras epoch) can
    keep its thread busy for minutes; this thread keeps the lock fresh meanwhile, and stops
    beating the moment the process dies, which is what tells a dead worker from a busy one.
    ``lost`` turns true when another worker took the lock over.

    A run inside a caller's transaction (a test, say) gets no thread (``active`` False): its
    rows are invisible to any other connection, so the run beats in line instead.
    """

    def __init__(self, version: ModelVersion, every: float = HEARTBEAT_EVERY_S) -> None:
        self.version = version
        self.every = every
        self.lost = False
        self.active = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cart-recommender-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self.active = not transaction.get_connection().in_atomic_block
        if self.active:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.active:
            self._stop.set()
            self._thread.join(timeout=self.every + 5)

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.every):
                try:
                    if not heartbeat(self.version):
                        self.lost = True
                        return
                except DatabaseError:  # a blip: the next beat tries again
                    logger.exception("cart_recommender: heartbeat of v%s failed", self.version.pk)
        finally:
            connections.close_all()  # this thread's own connection
