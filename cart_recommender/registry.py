"""Which model version serves bundles: activation, rollback, the activation gate, the lock.

Exactly one :class:`~cart_recommender.models.ModelVersion` is ``active`` at a time. Activating
another one retires the previous one and writes an :class:`~cart_recommender.models.Activation`
row (the audit trail the admin shows); rolling back is activating an older retired version.
Web processes learn about the change through the ``model_activated`` signal, sent after the
transaction commits so a listener never reads the old state.

Training runs are serialised by the single :class:`~cart_recommender.models.TrainingLock` row.
The holder refreshes a heartbeat while it works; a lock whose heartbeat is older than
``LOCK_TIMEOUT_SECONDS`` belonged to a worker that died and may be taken over. Taking the lock
is a compare-and-swap ``UPDATE ... WHERE holder = <the holder we read>``, which is atomic on
every database Django supports (PostgreSQL additionally locks the row while we read it).

Example::

    from cart_recommender import registry
    registry.activate(version, user=request.user, note="rollback after complaint")
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q, TextField, Value
from django.db.models.functions import Concat
from django.utils import timezone

from cart_recommender.conf import app_settings
from cart_recommender.models import Activation, ModelVersion, TrainingLock
from cart_recommender.signals import model_activated

LOCK_NAME = "training"
Status = ModelVersion.Status
#: Statuses a version may be activated from.
ACTIVATABLE = (Status.READY, Status.RETIRED)


class ActivationError(ValueError):
    """The version cannot serve bundles (not trained, failed, or without an artifact)."""


# --------------------------------------------------------------------------- activation


def activate(
    version: ModelVersion, *, user: Any = None, note: str = "", automatic: bool = False
) -> Activation:
    """Make ``version`` the one that serves bundles and retire the previous active one.

    Raises:
        ActivationError: unless the version is ready or retired and has an artifact.
    """
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().get(pk=version.pk)
        if version.status not in ACTIVATABLE:
            raise ActivationError(
                f"v{version.pk} is {version.get_status_display()}; only a ready or retired "
                "version can be activated."
            )
        if not version.artifact:
            raise ActivationError(f"v{version.pk} has no stored artifact to serve from.")
        previous = (
            ModelVersion.objects.select_for_update()
            .filter(status=Status.ACTIVE)
            .exclude(pk=version.pk)
            .order_by("-pk")
        )
        previous_list = list(previous)
        for old in previous_list:
            old.status = Status.RETIRED
            old.save(update_fields=["status"])
        version.status = Status.ACTIVE
        version.save(update_fields=["status"])
        replaced = previous_list[0] if previous_list else None
        activation = Activation.objects.create(
            version=version,
            previous=replaced,
            user=user if getattr(user, "is_authenticated", False) else None,
            automatic=automatic,
            note=note[:255],
        )
        transaction.on_commit(
            lambda: model_activated.send(
                sender=ModelVersion, version=version, previous=replaced, user=activation.user
            )
        )
    return activation


def rollback_target(current: ModelVersion | None = None) -> ModelVersion | None:
    """The version a rollback would bring back: the one the current active version replaced.

    Falls back to the newest retired version older than the current one.
    """
    current = current or ModelVersion.objects.get_active()
    if current is None:
        return None
    last = current.activations.order_by("-created_at", "-pk").first()
    if last and last.previous_id and last.previous.status in ACTIVATABLE and last.previous.artifact:
        return last.previous
    return (
        ModelVersion.objects.filter(status=Status.RETIRED, pk__lt=current.pk)
        .exclude(artifact="")
        .order_by("-pk")
        .first()
    )


# --------------------------------------------------------------------------- the gate


@dataclass
class GateDecision:
    """What the activation gate decided for a freshly trained version, and why."""

    activate: bool
    reason: str


def serving_score(version: ModelVersion, metric: str | None = None) -> float | None:
    """The holdout value of ``metric`` for the scorer the version serves with."""
    metric = metric or app_settings.GATE_METRIC
    method = version.serving_method or "model"
    value = (version.metrics or {}).get(method, {}).get(metric)
    return float(value) if value is not None else None


def gate_decision(version: ModelVersion, gate: str | None = None) -> GateDecision:
    """Apply ``ACTIVATION_GATE`` (or ``gate``) to a ready version.

    ``auto`` compares the holdout value of ``GATE_METRIC`` of each version's serving scorer,
    as recorded when each was trained: the newest data decides, so a shop whose behaviour
    drifted still gets a fresh model once it measures better than the old one did.
    """
    gate = gate or app_settings.ACTIVATION_GATE
    metric = app_settings.GATE_METRIC
    if gate == "always":
        return GateDecision(True, "activation gate 'always'")
    if gate == "manual":
        return GateDecision(False, "activation gate 'manual': staff activate by hand")
    new = serving_score(version, metric)
    active = ModelVersion.objects.get_active()
    if active is None:
        return GateDecision(True, "no active version yet")
    old = serving_score(active, metric)
    if new is None:
        return GateDecision(False, f"no {metric} measured for v{version.pk}")
    if old is None or new > old:
        shown = "none" if old is None else f"{old:.4f}"
        return GateDecision(True, f"{metric} {new:.4f} beats v{active.pk}'s {shown}")
    return GateDecision(False, f"{metric} {new:.4f} does not beat v{active.pk}'s {old:.4f}")


# --------------------------------------------------------------------------- the lock


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
    ModelVersion.objects.filter(pk=version.pk, status__in=[Status.QUEUED, Status.TRAINING]).update(
        status=Status.FAILED, error=message, finished_at=now,
        log=Concat(F("log"), Value(f"[{now:%H:%M:%S}] {message}\n"), output_field=TextField()),
    )


def append_log(version_id: int, line: str) -> None:
    """Append one timestamped line to a version's log, in the database (no lost updates)."""
    stamp = timezone.now().strftime("%H:%M:%S")
    ModelVersion.objects.filter(pk=version_id).update(
        log=Concat(F("log"), Value(f"[{stamp}] {line}\n"), output_field=TextField())
    )
