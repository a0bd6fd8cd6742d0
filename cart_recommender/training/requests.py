"""Asking for training: queue a run for a worker, or create one to run here; cancel a run.

The web process imports this module for the admin's "Retrain now", so it stays light: it knows
the retrain task only by its name (:data:`RETRAIN_TASK`), and Keras is never near it.

Example::

    from cart_recommender.training import request_retrain
    version = request_retrain(user=request.user)   # returns at once; a worker trains
"""

from __future__ import annotations

import uuid
from typing import Any

from celery import signature
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cart_recommender.conf import app_settings
from cart_recommender.models import ModelVersion
from cart_recommender.training import lock
from cart_recommender.training.errors import BUSY, TrainingInProgress, training_params

Status = ModelVersion.Status
#: The Celery task that trains one queued version (:func:`cart_recommender.tasks.retrain`).
RETRAIN_TASK = "cart_recommender.retrain"


def busy_version() -> ModelVersion | None:
    """A queued or training run whose heartbeat is fresh, if any."""
    return (
        ModelVersion.objects.filter(status__in=BUSY, heartbeat_at__gte=lock.stale_before())
        .order_by("-pk")
        .first()
    )


def request_retrain(user: Any = None, *, params: dict[str, Any] | None = None) -> ModelVersion:
    """Queue a training run and return its version at once; a Celery worker trains it.

    The task is sent to the ``TRAINING_QUEUE`` queue after the transaction commits, so the
    worker always finds the row.

    Raises:
        TrainingInProgress: a run is queued or training and its worker is alive.
    """
    with transaction.atomic():
        task_id = str(uuid.uuid4())
        version = _queue_version(
            user if getattr(user, "is_authenticated", False) else None,
            params,
            task_id=task_id,
            log=f"[{timezone.now():%H:%M:%S}] queued on {app_settings.TRAINING_QUEUE!r}\n",
        )
        transaction.on_commit(
            lambda: signature(RETRAIN_TASK, args=[version.pk]).apply_async(
                queue=app_settings.TRAINING_QUEUE, task_id=task_id
            )
        )
    return version


def create_version(user: Any = None, *, params: dict[str, Any] | None = None) -> ModelVersion:
    """A queued version for a run that starts right here (the management command)."""
    with transaction.atomic():
        return _queue_version(user, params)


def _queue_version(user: Any, params: dict[str, Any] | None, **fields: Any) -> ModelVersion:
    """Create a queued version under the lock row, unless another run is alive (one at a time)."""
    lock.lock_row_for_update()
    busy = busy_version()
    if busy is not None:
        raise TrainingInProgress(busy)
    _expire_dead_runs()
    return ModelVersion.objects.create(
        status=Status.QUEUED, requested_by=user, params=training_params(params),
        heartbeat_at=timezone.now(), progress={"stage": "queued"}, **fields,
    )


def _expire_dead_runs() -> None:
    """Runs left queued/training by a dead worker (stale heartbeat) are marked failed."""
    for version in ModelVersion.objects.filter(status__in=BUSY).filter(
        Q(heartbeat_at__lt=lock.stale_before()) | Q(heartbeat_at__isnull=True)
    ):
        lock.mark_worker_stopped(version)


def request_cancel(version: ModelVersion) -> None:
    """Ask a run to stop: a queued run is cancelled at once, a training one at its next check."""
    now = timezone.now()
    ModelVersion.objects.filter(pk=version.pk, status__in=BUSY).update(cancel_requested=True)
    cancelled = ModelVersion.objects.filter(pk=version.pk, status=Status.QUEUED).update(
        status=Status.CANCELLED, finished_at=now, progress={"stage": "cancelled"},
    )
    if cancelled:
        ModelVersion.objects.filter(pk=version.pk).append_log("cancelled before it started")
    version.refresh_from_db()
