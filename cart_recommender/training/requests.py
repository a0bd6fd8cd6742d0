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
from cart_recommender.training.errors import BUSY, TrainingInProgress, TrainingUnavailable, training_params

Status = ModelVersion.Status
#: The Celery task that trains one queued version (:func:`cart_recommender.tasks.retrain`).
RETRAIN_TASK = "cart_recommender.retrain"


def busy_version() -> ModelVersion | None:
    """A run that is training with a fresh heartbeat, or queued and not yet given up, if any."""
    alive = Q(status=Status.TRAINING, heartbeat_at__gte=lock.stale_before()) | Q(
        status=Status.QUEUED, created_at__gte=lock.queue_stale_before()
    )
    return ModelVersion.objects.filter(alive).order_by("-pk").first()


def request_retrain(user: Any = None, *, params: dict[str, Any] | None = None) -> ModelVersion:
    """Queue a training run and return its version at once; a Celery worker trains it.

    The task is sent to the ``TRAINING_QUEUE`` queue after the transaction commits, so the
    worker always finds the row.

    Raises:
        TrainingInProgress: a run is queued or training and its worker is alive.
        TrainingUnavailable: the task could not be sent (no broker answers); the version is
            marked failed with the reason, so nothing is left queued.
    """
    with transaction.atomic():
        task_id = str(uuid.uuid4())
        version = _queue_version(
            user if getattr(user, "is_authenticated", False) else None,
            params,
            task_id=task_id,
            log=f"[{timezone.now():%H:%M:%S}] queued on {app_settings.TRAINING_QUEUE!r}\n",
        )
        transaction.on_commit(lambda: _send(version, task_id))
    if version.status == Status.FAILED:
        raise TrainingUnavailable(version.error)
    return version


def _send(version: ModelVersion, task_id: str) -> None:
    """Send the retrain task; a broker that cannot be reached fails the version, not the request."""
    try:
        signature(RETRAIN_TASK, args=[version.pk]).apply_async(
            queue=app_settings.TRAINING_QUEUE, task_id=task_id
        )
    except Exception as exc:  # noqa: BLE001  (kombu, redis, amqp: each has its own errors)
        message = (
            f"could not send the training task to the Celery broker ({type(exc).__name__}: {exc}). "
            "Is the broker running and CELERY_BROKER_URL right? Meanwhile train with "
            "`manage.py cart_recommender_train`."
        )
        ModelVersion.objects.filter(pk=version.pk, status=Status.QUEUED).update(
            status=Status.FAILED, error=message, finished_at=timezone.now(), progress={"stage": "failed"}
        )
        ModelVersion.objects.filter(pk=version.pk).append_log(message)
        version.status, version.error = Status.FAILED, message


def create_version(user: Any = None, *, params: dict[str, Any] | None = None) -> ModelVersion:
    """A queued version for a run that starts right here (the management command)."""
    with transaction.atomic():
        return _queue_version(user, params)


def _queue_version(user: Any, params: dict[str, Any] | None, **fields: Any) -> ModelVersion:
    """Create a queued version under the lock row, unless another run is alive (one at a time)."""
    lock.lock_row_for_update()
    lock.expire_dead_runs()
    busy = busy_version()
    if busy is not None:
        raise TrainingInProgress(busy)
    return ModelVersion.objects.create(
        status=Status.QUEUED, requested_by=user, params=training_params(params),
        heartbeat_at=timezone.now(), progress={"stage": "queued"}, **fields,
    )


def request_cancel(version: ModelVersion) -> None:
    """Ask a run to stop: a queued run is cancelled at once, a training one at its next check.

    A training run whose worker is gone (it missed several heartbeats) is cancelled at once
    too: nobody would ever read the request.
    """
    now = timezone.now()
    if version.status == Status.TRAINING and lock.worker_gone(version, now):
        lock.mark_worker_stopped(
            version, "cancelled by staff; its worker had stopped (no heartbeat for "
            f"{lock.HEARTBEAT_EVERY_S * lock.MISSED_BEATS_GONE:.0f} s)", status=Status.CANCELLED,
        )
        version.refresh_from_db()
        return
    ModelVersion.objects.filter(pk=version.pk, status__in=BUSY).update(cancel_requested=True)
    cancelled = ModelVersion.objects.filter(pk=version.pk, status=Status.QUEUED).update(
        status=Status.CANCELLED, finished_at=now, progress={"stage": "cancelled"},
    )
    if cancelled:
        ModelVersion.objects.filter(pk=version.pk).append_log("cancelled before it started")
    version.refresh_from_db()
