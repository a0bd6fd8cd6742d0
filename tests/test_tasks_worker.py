"""Retraining through a real Celery worker process, on the test database and broker.

The worker is ``celery worker --pool solo --concurrency 1`` consuming the training queue, as the
README tells shops to run it. Nothing is mocked: the admin-side calls (request, cancel) run
here, the training runs there, and they meet in the database.
"""

import time

import pytest

from cart_recommender import training
from cart_recommender.models import ModelVersion
from tests.training_data import make_orders

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
TINY_MODEL = {"max_epochs": 2, "time_budget_s": 60, "dim": 16, "batch_size": 64}
LONG_MODEL = {"max_epochs": 500, "time_budget_s": 300, "dim": 16, "batch_size": 64, "patience": 500}


def wait_for(version, predicate, worker, timeout=240.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        version.refresh_from_db()
        if predicate(version):
            return version
        if worker.proc.poll() is not None:
            pytest.fail(f"worker exited:\n{worker.log}")
        time.sleep(0.3)
    pytest.fail(f"v{version.pk} stuck in {version.status} {version.progress}:\n{version.log}\n{worker.log}")


def test_retrain_cancel_and_lock_through_a_real_worker(celery_worker_process):
    make_orders(80)

    # A long run: refuse a second request while it trains, then cancel it mid-training.
    long_run = training.request_retrain(params=LONG_MODEL)
    assert long_run.status == "queued" and long_run.task_id
    wait_for(long_run, lambda v: v.progress.get("stage") == "model", celery_worker_process)
    assert long_run.heartbeat_at is not None and long_run.progress["stage"] == "model"
    with pytest.raises(training.TrainingInProgress):
        training.request_retrain()
    training.request_cancel(long_run)
    asked = time.monotonic()
    wait_for(long_run, lambda v: v.status not in ("queued", "training"), celery_worker_process)
    assert long_run.status == "cancelled", long_run.error
    assert time.monotonic() - asked < 30  # stops at its next check, not at the end of training
    assert ModelVersion.objects.get_active() is None

    # A short run goes all the way: trained, evaluated, stored, activated by the gate.
    version = training.request_retrain(params=TINY_MODEL)
    wait_for(version, lambda v: v.status not in ("queued", "training"), celery_worker_process)
    assert version.status == "active", f"{version.error}\n{celery_worker_process.log}"
    assert {"model", "popularity", "copurchase", "personal"} <= set(version.metrics)
    assert len(version.history["loss"]) >= 1
    assert version.artifact and version.artifact_size > 0
    assert version.task_id in celery_worker_process.log
    assert "cart_recommender.retrain" in celery_worker_process.log
