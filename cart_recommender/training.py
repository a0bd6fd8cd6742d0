"""Retraining as a service: request a run, cancel it, and the run itself.

The web process imports this module to call :func:`request_retrain` (the admin's "Retrain
now"), so nothing heavy is imported here: Keras is only loaded inside :func:`run_training`,
which runs in a Celery worker (:func:`cart_recommender.tasks.retrain`) or in the
``cart_recommender_train`` command.

A run: take the training lock; snapshot the events; split them on time with the evaluation
protocol (the same one the benchmarks use); fit the baselines and the model on the training
part; evaluate every method on the holdout; serve with whichever scored best on
``GATE_METRIC``; export one artifact (model weights when it has them, and the baselines'
arrays) into the artifact storage; then let the activation gate decide whether it goes live.
The model is trained once: the holdout-trained model is the one that ships, so a retrain on a
million events stays within its time budget.

Example::

    from cart_recommender.training import request_retrain
    version = request_retrain(user=request.user)   # returns at once; a worker trains
"""

from __future__ import annotations

import tempfile
import time
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cart_recommender import registry
from cart_recommender.conf import app_settings
from cart_recommender.models import ModelVersion
from cart_recommender.signals import training_finished

Status = ModelVersion.Status
ProgressCallback = Callable[[dict[str, Any]], None]
#: Runs in these states hold (or wait for) the training slot.
BUSY = (Status.QUEUED, Status.TRAINING)


class TrainingInProgress(Exception):
    """Another run is queued or training and its worker is alive."""

    def __init__(self, version: ModelVersion) -> None:
        self.version = version
        super().__init__(
            f"A training run is already {version.get_status_display()} (v{version.pk}); "
            "wait for it to finish or cancel it first."
        )


class TrainingError(Exception):
    """A run cannot produce a model (too little data, bad parameters); shown to staff as is."""


class Cancelled(Exception):
    """Raised inside a run when staff asked to cancel it."""


def training_params(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """``TRAINING`` settings with a run's own overrides on top."""
    return {**app_settings.TRAINING, **(overrides or {})}


# --------------------------------------------------------------------------- requests


def busy_version() -> ModelVersion | None:
    """A queued or training run whose heartbeat is fresh, if any."""
    return (
        ModelVersion.objects.filter(status__in=BUSY, heartbeat_at__gte=registry.stale_before())
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
    from cart_recommender.tasks import retrain

    with transaction.atomic():
        task_id = str(uuid.uuid4())
        version = _queue_version(
            user if getattr(user, "is_authenticated", False) else None,
            params,
            task_id=task_id,
            log=f"[{timezone.now():%H:%M:%S}] queued on {app_settings.TRAINING_QUEUE!r}\n",
        )
        transaction.on_commit(
            lambda: retrain.apply_async(
                args=[version.pk], queue=app_settings.TRAINING_QUEUE, task_id=task_id
            )
        )
    return version


def create_version(user: Any = None, *, params: dict[str, Any] | None = None) -> ModelVersion:
    """A queued version for a run that starts right here (the management command)."""
    with transaction.atomic():
        return _queue_version(user, params)


def _queue_version(user: Any, params: dict[str, Any] | None, **fields: Any) -> ModelVersion:
    """Create a queued version under the lock row, unless another run is alive (one at a time)."""
    registry.lock_row_for_update()
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
        Q(heartbeat_at__lt=registry.stale_before()) | Q(heartbeat_at__isnull=True)
    ):
        registry.mark_worker_stopped(version)


def request_cancel(version: ModelVersion) -> None:
    """Ask a run to stop: a queued run is cancelled at once, a training one at its next check."""
    now = timezone.now()
    ModelVersion.objects.filter(pk=version.pk, status__in=BUSY).update(cancel_requested=True)
    cancelled = ModelVersion.objects.filter(pk=version.pk, status=Status.QUEUED).update(
        status=Status.CANCELLED, finished_at=now, progress={"stage": "cancelled"},
    )
    if cancelled:
        registry.append_log(version.pk, "cancelled before it started")
    version.refresh_from_db()


# --------------------------------------------------------------------------- the run


def run_training(
    version_id: int, *, progress: ProgressCallback | None = None, gate: str | None = None
) -> ModelVersion:
    """Train the queued version ``version_id`` synchronously; return it in its final state.

    Args:
        version_id: a queued :class:`ModelVersion` (see :func:`request_retrain`).
        progress: called with the progress dict at every update (the command's progress bar).
        gate: overrides ``ACTIVATION_GATE`` for this run (the command's ``--no-activate``).

    Failures never raise: the version is marked failed with the traceback, the active
    version keeps serving, and the lock is released.
    """
    from cart_recommender.training_run import TrainingRun

    version = ModelVersion.objects.get(pk=version_id)
    if version.status != Status.QUEUED:
        registry.append_log(version.pk, f"task received while {version.status}: nothing to do")
        return version
    if version.cancel_requested:
        ModelVersion.objects.filter(pk=version.pk).update(
            status=Status.CANCELLED, finished_at=timezone.now()
        )
        return ModelVersion.objects.get(pk=version_id)
    acquired, other = registry.acquire_lock(version)
    if not acquired:
        message = f"another training run (v{other.pk if other else '?'}) holds the training lock"
        ModelVersion.objects.filter(pk=version.pk).update(
            status=Status.FAILED, error=message, finished_at=timezone.now()
        )
        registry.append_log(version.pk, message)
        return ModelVersion.objects.get(pk=version_id)
    if other is not None:
        registry.append_log(version.pk, f"took over the lock of v{other.pk}, whose worker stopped")
    run = TrainingRun(version, progress=progress)
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="cart-train-") as tmp:
            run.execute(Path(tmp))
    except Cancelled:
        run.finish(Status.CANCELLED, "cancelled by staff", duration=time.monotonic() - started)
    except KeyboardInterrupt:  # Ctrl-C in the management command
        run.finish(Status.CANCELLED, "interrupted", duration=time.monotonic() - started)
        raise
    except Exception as exc:  # noqa: BLE001  (every failure must leave a readable record)
        detail = traceback.format_exc()
        run.finish(Status.FAILED, f"failed: {exc}", duration=time.monotonic() - started,
                   error=f"{type(exc).__name__}: {exc}\n\n{detail}")
    else:
        # "ready" and the gate's activation commit together: nobody sees a winner half-done
        with transaction.atomic():
            run.finish(Status.READY, "ready", duration=time.monotonic() - started)
            _apply_gate(ModelVersion.objects.get(pk=version_id), gate)
    finally:
        registry.release_lock(version)
    version = ModelVersion.objects.get(pk=version_id)
    training_finished.send(sender=ModelVersion, version=version)
    return version


def _apply_gate(version: ModelVersion, gate: str | None) -> None:
    decision = registry.gate_decision(version, gate)
    if decision.activate:
        try:
            registry.activate(version, automatic=True, note=decision.reason)
        except registry.ActivationError as exc:
            registry.append_log(version.pk, f"not activated: {exc}")
            return
        registry.append_log(version.pk, f"activated: {decision.reason}")
    else:
        registry.append_log(version.pk, f"left ready, not activated: {decision.reason}")
