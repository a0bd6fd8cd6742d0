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


def test_a_killed_worker_is_noticed_within_a_minute_and_its_run_can_be_cancelled(celery_worker_process):
    """SIGKILL the worker mid-training: the heartbeat stops, the run ends, a new one may start."""
    import os
    import signal

    from cart_recommender.training import lock
    from tests.bundle_data import recommender_settings

    make_orders(80)
    run = training.request_retrain(params=LONG_MODEL)
    wait_for(run, lambda v: v.progress.get("stage") == "model", celery_worker_process)
    beats = set()
    deadline = time.monotonic() + 12
    while time.monotonic() < deadline:  # a live run beats every few seconds, busy or not
        run.refresh_from_db()
        beats.add(run.heartbeat_at)
        time.sleep(0.5)
    assert len(beats) >= 2
    os.kill(celery_worker_process.proc.pid, signal.SIGKILL)
    celery_worker_process.proc.wait(10)
    killed = time.monotonic()
    run.refresh_from_db()
    assert run.status == "training"  # nobody has looked yet

    # The next look (admin, retrain request or the beat task) ends it once the heartbeat is stale.
    with recommender_settings(LOCK_TIMEOUT_SECONDS=10):
        while time.monotonic() - killed < 30 and not lock.expire_dead_runs():
            time.sleep(0.5)
        run.refresh_from_db()
        assert run.status == "failed" and "worker stopped" in run.error
        assert time.monotonic() - killed < 20
        assert lock.lock_holder() is None
        again = training.request_retrain(params=TINY_MODEL)  # not refused: the slot is free
        assert again.status == "queued"
        training.request_cancel(again)


def test_cancel_ends_a_run_whose_worker_is_gone_at_once(celery_worker_process, monkeypatch):
    import os
    import signal

    from cart_recommender.training import lock

    make_orders(80)
    run = training.request_retrain(params=LONG_MODEL)
    wait_for(run, lambda v: v.progress.get("stage") == "model", celery_worker_process)
    os.kill(celery_worker_process.proc.pid, signal.SIGKILL)
    celery_worker_process.proc.wait(10)
    monkeypatch.setattr(lock, "HEARTBEAT_EVERY_S", 2.0)  # "gone" after 3 missed beats: 6 s here
    time.sleep(7)
    run.refresh_from_db()
    training.request_cancel(run)
    assert run.status == "cancelled" and "worker had stopped" in run.log
    assert lock.lock_holder() is None
