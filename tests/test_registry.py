"""Activation, rollback, the activation gate and the training lock, on the real database."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from cart_recommender import registry, training
from cart_recommender.models import Activation, ModelVersion, TrainingLock
from cart_recommender.signals import model_activated
from cart_recommender.training import lock
from tests.training_data import ready_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def activations():
    seen = []

    def receiver(sender, version, previous, user, **kwargs):
        seen.append((version.pk, previous.pk if previous else None, user))

    model_activated.connect(receiver)
    yield seen
    model_activated.disconnect(receiver)


def test_activate_retires_previous_and_records_audit(django_capture_on_commit_callbacks,
                                                      activations, django_user_model):
    staff = django_user_model.objects.create_user("staff", is_staff=True)
    old, new = ready_version(0.1), ready_version(0.2)
    registry.activate(old)
    with django_capture_on_commit_callbacks(execute=True):
        activation = registry.activate(new, user=staff, note="better")
        assert activations == []  # not yet: sent after the commit
    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.status, new.status) == ("retired", "active")
    assert (activation.version, activation.previous, activation.user) == (new, old, staff)
    assert activation.note == "better" and not activation.automatic
    assert activations == [(new.pk, old.pk, staff)]
    assert ModelVersion.objects.get_active() == new


def test_rollback_activates_the_replaced_version():
    old, new = ready_version(0.1), ready_version(0.2)
    registry.activate(old)
    registry.activate(new)
    assert registry.rollback_target() == old
    registry.activate(registry.rollback_target(), note="rollback")
    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.status, new.status) == ("active", "retired")
    assert Activation.objects.count() == 3
    assert ModelVersion.objects.filter(status="active").count() == 1


@pytest.mark.parametrize("status", ["queued", "training", "failed", "cancelled", "active"])
def test_only_ready_or_retired_versions_can_be_activated(status):
    version = ready_version(0.3, status=status)
    with pytest.raises(registry.ActivationError):
        registry.activate(version)
    assert Activation.objects.count() == 0


def test_a_version_without_artifact_cannot_be_activated():
    with pytest.raises(registry.ActivationError, match="no stored artifact"):
        registry.activate(ready_version(0.3, artifact=""))


def test_gate_auto_activates_first_and_better_versions_only():
    first = ready_version(0.20)
    assert registry.gate_decision(first).activate  # nothing active yet
    registry.activate(first)
    worse, equal, better = ready_version(0.15), ready_version(0.20), ready_version(0.25)
    assert not registry.gate_decision(worse).activate
    assert not registry.gate_decision(equal).activate
    decision = registry.gate_decision(better)
    assert decision.activate and "beats" in decision.reason


def test_gate_compares_each_versions_own_serving_scorer():
    registry.activate(ready_version(0.20, method="copurchase"))
    model_won = ModelVersion.objects.create(
        status="ready", serving_method="model", artifact="x.npz",
        metrics={"model": {"ndcg@10": 0.3}, "copurchase": {"ndcg@10": 0.1}},
    )
    assert registry.gate_decision(model_won).activate


def test_gate_manual_and_always():
    registry.activate(ready_version(0.5))
    better, worse = ready_version(0.9), ready_version(0.1)
    with override_settings(CART_RECOMMENDER={"ACTIVATION_GATE": "manual"}):
        assert not registry.gate_decision(better).activate
    with override_settings(CART_RECOMMENDER={"ACTIVATION_GATE": "always"}):
        assert registry.gate_decision(worse).activate
    assert not registry.gate_decision(better, gate="manual").activate


def _training(**kwargs):
    return ModelVersion.objects.create(status="training", heartbeat_at=timezone.now(), **kwargs)


def test_lock_is_exclusive_while_the_holder_is_alive():
    first, second = _training(), _training()
    assert lock.acquire_lock(first) == (True, None)
    acquired, holder = lock.acquire_lock(second)
    assert not acquired and holder == first
    assert lock.lock_holder() == first
    assert lock.heartbeat(first)
    lock.release_lock(first)
    assert lock.lock_holder() is None
    assert lock.acquire_lock(second) == (True, None)


def test_a_stale_lock_is_taken_over_and_its_run_marked_failed():
    dead, fresh = _training(), _training()
    assert lock.acquire_lock(dead)[0]
    long_ago = timezone.now() - timedelta(seconds=601)
    TrainingLock.objects.update(heartbeat_at=long_ago)
    acquired, previous = lock.acquire_lock(fresh)
    assert acquired and previous == dead
    dead.refresh_from_db()
    assert dead.status == "failed" and "worker stopped" in dead.error
    assert "worker stopped" in dead.log
    assert not lock.heartbeat(dead)  # the dead run, if it wakes up, sees it lost the lock
    assert lock.lock_holder() == fresh


def test_lock_timeout_follows_the_setting():
    holder, other = _training(), _training()
    lock.acquire_lock(holder)
    TrainingLock.objects.update(heartbeat_at=timezone.now() - timedelta(seconds=30))
    assert not lock.acquire_lock(other)[0]
    with override_settings(CART_RECOMMENDER={"LOCK_TIMEOUT_SECONDS": 10}):
        assert lock.acquire_lock(other)[0]


def test_retrain_request_is_refused_while_a_run_is_alive(django_capture_on_commit_callbacks):
    running = _training()
    with pytest.raises(training.TrainingInProgress, match=f"v{running.pk}"):
        training.request_retrain()
    ModelVersion.objects.filter(pk=running.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=601))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        queued = training.request_retrain(params={"max_epochs": 1})
    assert len(callbacks) == 1  # the task is sent only once the row is committed
    running.refresh_from_db()
    assert running.status == "failed" and "worker stopped" in running.error
    assert queued.status == "queued" and queued.task_id and queued.params["max_epochs"] == 1
    with pytest.raises(training.TrainingInProgress):
        training.request_retrain()  # the queued one counts as busy too


def test_cancel_a_queued_run_at_once():
    version = training.create_version()
    training.request_cancel(version)
    assert version.status == "cancelled" and version.cancel_requested
    assert "cancelled before it started" in version.log
    assert training.run_training(version.pk).status == "cancelled"  # a late task does nothing


def test_the_beat_task_queues_a_run_unless_one_is_alive(django_capture_on_commit_callbacks):
    from cart_recommender import tasks

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        queued = tasks.scheduled_retrain()
    assert ModelVersion.objects.get(pk=queued).status == "queued" and len(callbacks) == 1
    assert tasks.scheduled_retrain() is None  # busy: nothing more is queued
    assert ModelVersion.objects.count() == 1
