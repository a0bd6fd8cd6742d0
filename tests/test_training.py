"""Training runs in-process on tiny real data: outcome, records, gate, failures, cancel, command."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from cart_recommender import registry, training
from cart_recommender.models import Event, ModelVersion, TrainingLock
from cart_recommender.registry import artifacts
from cart_recommender.training import lock, stages
from cart_recommender.training.snapshot import take_snapshot
from tests.testapp.models import Article
from tests.training_data import START, make_articles, make_orders, ready_version

pytestmark = pytest.mark.django_db
BASELINES = {"use_model": False}
TINY_MODEL = {"max_epochs": 2, "time_budget_s": 60, "dim": 16, "batch_size": 64, "patience": 5}


def _train(params=None, **kwargs):
    version = training.create_version(params=params)
    return training.run_training(version.pk, **kwargs)


def test_snapshot_maps_shoppers_orders_and_skips_bundle_events(django_user_model):
    a, b = make_articles(2)
    user = django_user_model.objects.create_user("shopper")
    Event.objects.create(event_type="purchase", product=a, user=user, order_ref="A1", timestamp=START)
    Event.objects.create(event_type="purchase", product=b, session_key="sess", timestamp=START)
    Event.objects.create(event_type="purchase", product=a, session_key="sess", timestamp=START)
    Event.objects.create(event_type="purchase", product=b, timestamp=START)  # nobody, no order
    Event.objects.create(event_type="view", product=b, shopper_ref="crm-7", timestamp=START)
    Event.objects.create(event_type="bundle_click", product=b, shopper_ref="crm-7", timestamp=START)
    Event.objects.create(event_type="view", product=a, timestamp=START + timedelta(days=400))
    snap = take_snapshot(until=START + timedelta(days=1))
    log = snap.log
    assert snap.events_used == 5 and snap.event_counts == {"view": 1, "purchase": 4}
    assert snap.data_start == snap.data_end == START
    assert set(log.items) == {a.pk, b.pk}
    assert abs(log.time[0] - START.timestamp()) < 1e-3  # epoch seconds computed by the database
    late = START.replace(microsecond=250_000) + timedelta(hours=5)
    Event.objects.create(event_type="click", product=a, timestamp=late)
    assert abs(take_snapshot().log.time[-2] - late.timestamp()) < 1e-3
    assert set(log.shoppers) == {f"u:{user.pk}", "s:sess", "r:crm-7"}
    # the session's two orderless purchases of one second form one basket
    assert len(log.orders) == 3 and "A1" in log.orders


def test_snapshot_carries_product_content_and_sellable_products_nobody_touched():
    a, b, fresh, retired = make_articles(4)
    Article.objects.filter(pk=retired.pk).update(available=False)
    Event.objects.create(event_type="purchase", product=a, session_key="s", order_ref="A1", timestamp=START)
    Event.objects.create(event_type="view", product=b, session_key="s", timestamp=START)
    log = take_snapshot(until=START + timedelta(days=1)).log
    # the events' products first, then the sellable ones no event names; never the retired one
    assert log.items == [a.pk, b.pk, fresh.pk]
    assert log.content.name == ["Article 0", "Article 1", "Article 2"]
    assert log.content.category == ["shelf 0", "shelf 1", "shelf 2"]
    assert log.content.price.tolist() == [1.0, 1.01, 1.02]  # what the adapter's get_price says (cents)
    assert take_snapshot(until=START + timedelta(days=1), content=False).log.items == [a.pk, b.pk]


def test_snapshot_joins_a_linked_users_live_earlier_and_imported_events(django_user_model):
    a, b, c = make_articles(3)
    linked = django_user_model.objects.create_user("ann")
    other = django_user_model.objects.create_user("bob")
    hour = timedelta(hours=1)
    # imported under the shop's id; live before the link; live after the link (both ids)
    Event.objects.create(event_type="purchase", product=a, shopper_ref="cust-ann", order_ref="I1",
                         timestamp=START)
    Event.objects.create(event_type="view", product=b, user=linked, timestamp=START + hour)
    Event.objects.create(event_type="purchase", product=c, user=linked, shopper_ref="cust-ann",
                         order_ref="L1", timestamp=START + 2 * hour)
    Event.objects.create(event_type="view", product=a, user=other, timestamp=START + 3 * hour)
    log = take_snapshot(until=START + timedelta(days=1)).log
    assert sorted(log.shoppers) == ["r:cust-ann", f"u:{other.pk}"]
    ann = log.shoppers.index("r:cust-ann")
    assert (log.shopper == ann).sum() == 3


def test_baselines_only_run_records_everything_and_goes_live():
    events = make_orders(60)
    version = _train(BASELINES)
    assert version.status == "active", version.error
    assert version.events_used == events
    assert version.event_counts == {"view": events // 3, "add_to_cart": events // 3,
                                    "purchase": events // 3}
    assert version.data_start < version.data_end
    assert set(version.metrics) == {"popularity", "copurchase", "personal", "repeat_decay", "tifuknn",
                                    "category_popularity"}
    for values in version.metrics.values():
        assert {"hr@10", "ndcg@10", "mrr@10", "hr@3", "by_kind", "by_item_age"} <= set(values)
        assert len(values["hr_curve"]) == 20
    # the best scorer that can serve (TIFU-KNN and category popularity are measured, never served)
    best = max(v["ndcg@10"] for m, v in version.metrics.items()
               if m not in ("tifuknn", "category_popularity"))
    assert version.serving_method not in ("tifuknn", "category_popularity")
    assert version.metrics[version.serving_method]["ndcg@10"] == best
    assert version.artifact and version.artifact_size > 0
    assert artifacts.get_storage().size(version.artifact) == version.artifact_size
    served = artifacts.load_serving_model(version)  # one format, with or without the model
    assert served.manifest["training"]["model_trained"] is False
    assert served.manifest["training"]["serving_method"] == version.serving_method
    assert "copurchase/neighbour_items" in served.extras
    assert version.params["dataset"]["test_orders"] > 0
    assert version.progress["stage"] == "ready" and version.duration_s > 0
    assert "serving with" in version.log and "activated" in version.log
    assert TrainingLock.objects.get().holder is None
    assert version.activations.get().automatic


def test_too_little_data_fails_and_the_active_version_keeps_serving():
    active = ready_version(0.1)
    registry.activate(active)
    make_orders(2)
    version = _train(BASELINES)
    assert version.status == "failed"
    assert "too little data" in version.error and "Traceback" in version.error
    assert "too little data" in version.log
    assert ModelVersion.objects.get_active() == active
    assert TrainingLock.objects.get().holder is None
    assert not version.artifact


def test_auto_gate_keeps_a_better_active_version():
    make_orders(60)
    champion = ready_version(1.0, method="copurchase")
    registry.activate(champion)
    version = _train(BASELINES)
    assert version.status == "ready"
    assert "left ready, not activated" in version.log
    assert ModelVersion.objects.get_active() == champion


def test_auto_gate_replaces_a_worse_active_version():
    make_orders(60)
    registry.activate(ready_version(0.0))
    version = _train(BASELINES)
    assert version.status == "active"


def test_manual_gate_never_activates():
    make_orders(60)
    with override_settings(CART_RECOMMENDER={"ACTIVATION_GATE": "manual"}):
        version = _train(BASELINES)
    assert version.status == "ready"
    assert ModelVersion.objects.get_active() is None


def test_a_running_training_stops_at_its_next_check_when_cancelled():
    make_orders(60)
    active = ready_version(0.1)
    registry.activate(active)
    version = training.create_version(params=BASELINES)

    def cancel_during_baselines(state):
        if state["stage"] == "baselines":
            training.request_cancel(ModelVersion.objects.get(pk=version.pk))

    version = training.run_training(version.pk, progress=cancel_during_baselines)
    assert version.status == "cancelled"
    assert version.cancel_requested and not version.metrics
    assert ModelVersion.objects.get_active() == active
    assert TrainingLock.objects.get().holder is None


def test_cancel_is_honoured_between_evaluation_batches(monkeypatch):
    monkeypatch.setattr(stages, "CANCEL_EVERY_S", 0)  # read cancel_requested every check
    make_orders(60)
    version = training.create_version(params=BASELINES)
    calls = []

    def cancel_once_evaluating(state):
        if state["stage"] == "evaluate":
            calls.append(state)
            if len(calls) == 2:  # the stage has started: the next check is inside evaluate()
                training.request_cancel(ModelVersion.objects.get(pk=version.pk))

    version = training.run_training(version.pk, progress=cancel_once_evaluating)
    assert version.status == "cancelled"
    assert "evaluating every method" in version.log and "holdout ndcg@10" not in version.log
    assert not version.artifact and TrainingLock.objects.get().holder is None


def test_a_run_refuses_to_start_while_another_holds_the_lock():
    make_orders(60)
    other = ModelVersion.objects.create(status="training")
    lock.acquire_lock(other)
    version = ModelVersion.objects.create(status="queued", params=BASELINES)
    version = training.run_training(version.pk)
    assert version.status == "failed" and f"v{other.pk}" in version.error
    assert TrainingLock.objects.get().holder == other


def test_a_run_takes_over_the_lock_of_a_dead_worker():
    make_orders(60)
    dead = ModelVersion.objects.create(status="training", heartbeat_at=START)
    lock.acquire_lock(dead)
    TrainingLock.objects.update(heartbeat_at=START)  # its worker was killed long ago
    version = _train(BASELINES)  # asking for the run already ends the dead one and frees the lock
    assert version.status == "active", version.error
    dead.refresh_from_db()
    assert dead.status == "failed" and "worker stopped" in dead.error


def test_a_run_takes_over_a_stale_lock_whose_holder_was_not_expired_yet():
    make_orders(60)
    dead = ModelVersion.objects.create(status="training", heartbeat_at=START)
    version = training.create_version(params=BASELINES)
    # the dead run holds a stale lock that nobody expired yet (its worker died just now)
    lock.acquire_lock(dead)
    TrainingLock.objects.update(heartbeat_at=START)
    version = training.run_training(version.pk)
    assert version.status == "active", version.error
    assert f"took over the lock of v{dead.pk}" in version.log
    dead.refresh_from_db()
    assert dead.status == "failed" and "worker stopped" in dead.error


def test_command_trains_without_activating(capsys):
    make_orders(60)
    call_command("cart_recommender_train", "--baselines-only", "--no-activate")
    out = capsys.readouterr().out
    version = ModelVersion.objects.get()
    assert version.status == "ready"
    assert f"v{version.pk} ready" in out and "serving with" in out


def test_command_reports_failure():
    Article.objects.create(ean="1", title="lonely")
    with pytest.raises(CommandError, match="too little data"):
        call_command("cart_recommender_train", "--baselines-only")
    assert ModelVersion.objects.get().status == "failed"


@pytest.mark.slow
def test_model_run_trains_once_and_ships_a_loadable_artifact():
    make_orders(80)
    seen = []
    version = _train(TINY_MODEL, progress=seen.append)
    assert version.status == "active", version.log
    methods = {"model", "popularity", "copurchase", "personal", "repeat_decay", "tifuknn",
               "category_popularity"}
    assert methods == set(version.metrics)
    assert len(version.metrics["model"]["hr_curve"]) == 20
    assert 1 <= len(version.history["loss"]) <= 2
    epochs = [s for s in seen if s["stage"] == "model" and s["epoch"]]
    assert epochs and epochs[-1]["epochs"] == 2 and epochs[-1]["loss"] is not None
    assert [s["stage"] for s in seen][-1] == "ready"
    served = artifacts.load_serving_model(version)
    assert set(served.items) <= set(Article.objects.values_list("ean", flat=True))
    cart = served.codes([served.items[0]])
    scores = served.score(cart)
    assert scores.shape == (len(served.items),) and scores[cart[0]] == float("-inf")
