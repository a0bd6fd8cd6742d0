"""One training run from start to finish: the lock, the stages, the outcome, the gate.

A run: take the training lock; snapshot the events; split them on time with the evaluation
protocol (the same one the benchmarks use); fit the baselines and the model on the training
part; evaluate every method on the holdout; serve with whichever scored best on
``GATE_METRIC``; export one artifact (model weights when it has them, and the baselines'
arrays) into the artifact storage; then let the activation gate decide whether it goes live.
The model is trained once: the holdout-trained model is the one that ships, so a retrain on a
million events stays within its time budget. The stages themselves are
:class:`~cart_recommender.training.stages.TrainingRun`'s; this module handles the outcome.

It runs in a Celery worker (:func:`cart_recommender.tasks.retrain`) or in the
``cart_recommender_train`` command; Keras is imported only once the model stage starts.
"""

from __future__ import annotations

import tempfile
import time
import traceback
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from cart_recommender import registry
from cart_recommender.models import ModelVersion
from cart_recommender.signals import training_finished
from cart_recommender.training import lock
from cart_recommender.training.errors import Cancelled, ProgressCallback
from cart_recommender.training.stages import TrainingRun

Status = ModelVersion.Status


def _log(version_id: int, line: str) -> None:
    ModelVersion.objects.filter(pk=version_id).append_log(line)


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
    version = ModelVersion.objects.get(pk=version_id)
    if version.status != Status.QUEUED:
        _log(version.pk, f"task received while {version.status}: nothing to do")
        return version
    if version.cancel_requested:
        ModelVersion.objects.filter(pk=version.pk).update(
            status=Status.CANCELLED, finished_at=timezone.now()
        )
        return ModelVersion.objects.get(pk=version_id)
    acquired, other = lock.acquire_lock(version)
    if not acquired:
        message = f"another training run (v{other.pk if other else '?'}) holds the training lock"
        ModelVersion.objects.filter(pk=version.pk).update(
            status=Status.FAILED, error=message, finished_at=timezone.now()
        )
        _log(version.pk, message)
        return ModelVersion.objects.get(pk=version_id)
    if other is not None:
        _log(version.pk, f"took over the lock of v{other.pk}, whose worker stopped")
    started = time.monotonic()
    with lock.Heartbeat(version) as beat:
        run = TrainingRun(version, progress=progress, heartbeat=beat)
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
            lock.release_lock(version)
    version = ModelVersion.objects.get(pk=version_id)
    training_finished.send(sender=ModelVersion, version=version)
    return version


def _apply_gate(version: ModelVersion, gate: str | None) -> None:
    decision = registry.gate_decision(version, gate)
    if decision.activate:
        try:
            registry.activate(version, automatic=True, note=decision.reason)
        except registry.ActivationError as exc:
            _log(version.pk, f"not activated: {exc}")
            return
        _log(version.pk, f"activated: {decision.reason}")
    else:
        _log(version.pk, f"left ready, not activated: {decision.reason}")
