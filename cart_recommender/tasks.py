"""Celery tasks. Thin: they take ids and call the services in :mod:`cart_recommender.training`.

The library never creates a Celery app; the host project's app discovers these tasks
(``app.autodiscover_tasks()``). Send training to its own queue (``TRAINING_QUEUE``) and run that
queue on a worker with ``--concurrency 1`` and one task per child process
(``--max-tasks-per-child 1``) or the solo pool: a process that has run a Keras model cannot be
forked safely, and a fresh process per run gives its memory back. See docs/retraining.md.
"""

from __future__ import annotations

from celery import shared_task

from cart_recommender import privacy
from cart_recommender.performance import rollups
from cart_recommender.training import TrainingInProgress, lock, request_retrain, run_training
from cart_recommender.training.requests import RETRAIN_TASK


@shared_task(name=RETRAIN_TASK, ignore_result=True)
def retrain(version_id: int) -> str:
    """Train the queued :class:`~cart_recommender.models.ModelVersion` ``version_id``."""
    return run_training(version_id).status


@shared_task(name="cart_recommender.scheduled_retrain", ignore_result=True)
def scheduled_retrain() -> int | None:
    """Queue a retrain unless one is already running: the entry for a Celery beat schedule."""
    try:
        return request_retrain().pk
    except TrainingInProgress:
        return None


@shared_task(name="cart_recommender.expire_dead_runs", ignore_result=True)
def expire_dead_runs() -> list[int]:
    """End runs whose worker is gone (a beat entry every minute; light, any worker may run it)."""
    return lock.expire_dead_runs()


@shared_task(name="cart_recommender.retrain_after_erasure", ignore_result=True)
def retrain_after_erasure() -> int | None:
    """Queue a retrain when the active model holds erased data long enough (a beat entry hourly)."""
    version = privacy.retrain_if_due()
    return version.pk if version is not None else None


@shared_task(name="cart_recommender.enforce_retention", ignore_result=True)
def enforce_retention() -> int:
    """Delete events older than ``EVENT_RETENTION_DAYS`` in batches (a beat entry daily)."""
    return privacy.delete_expired_events().deleted


@shared_task(name="cart_recommender.update_performance", ignore_result=True)
def update_performance() -> int:
    """Bring the bundle-performance rollups up to date (a beat entry every 15 minutes)."""
    return rollups.update().days
