"""The admin screens: model versions, retrain/cancel/activate, the data overview, permissions."""

from __future__ import annotations

import re
import types
from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.test import Client, override_settings
from django.urls import path, reverse
from django.utils import timezone

from cart_recommender.models import Activation, BundleRule, Event, ModelVersion
from tests.testapp.models import Article

pytestmark = pytest.mark.django_db
Status = ModelVersion.Status
CHANGELIST = "admin:cart_recommender_modelversion_changelist"


def url(name: str, *args) -> str:
    return reverse(f"admin:cart_recommender_modelversion_{name}", args=args)


def staff(username: str, *codenames: str) -> Client:
    user = User.objects.create_user(username, password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(
        content_type__app_label="cart_recommender", codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def viewer() -> Client:
    return staff("viewer", "view_modelversion", "view_event", "view_activation")


@pytest.fixture
def operator() -> Client:
    return staff("operator", "view_modelversion", "retrain_modelversion", "activate_modelversion",
                 "view_event", "view_activation")


def metrics(model_hr: float, ndcg: float = 0.2) -> dict:
    curve = [min(1.0, model_hr * k / 10) for k in range(1, 21)]
    return {
        "model": {"hr@10": model_hr, "ndcg@10": ndcg, "mrr@10": 0.1, "hr@3": 0.2, "hr_curve": curve},
        "popularity": {"hr@10": 0.111, "ndcg@10": 0.052, "mrr@10": 0.04, "hr@3": 0.05,
                       "hr_curve": [c / 2 for c in curve]},
        "copurchase": {"hr@10": 0.222, "ndcg@10": 0.123, "mrr@10": 0.09, "hr@3": 0.1,
                       "hr_curve": [c * 0.8 for c in curve]},
    }


def trained(hr: float, status: str = Status.READY, **extra) -> ModelVersion:
    now = timezone.now()
    return ModelVersion.objects.create(
        status=status, metrics=metrics(hr), history={"loss": [1.2, 0.8, 0.61], "val_loss": [1.3, 0.9, 0.7]},
        params={"seed": 42, "max_epochs": 3}, log="[10:00:00] ready\n", serving_method="model",
        artifact="cart_recommender/models/v.keras", data_start=now - timedelta(days=30), data_end=now,
        events_used=1234, finished_at=now, **extra,
    )


# -- who may see what ----------------------------------------------------------------------------
def test_anonymous_and_non_staff_get_the_login_page():
    response = Client().get(reverse(CHANGELIST))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    shopper = User.objects.create_user("shopper", password="pw")
    client = Client()
    client.force_login(shopper)
    for target in (reverse(CHANGELIST), url("retrain"), reverse("admin:cart_recommender_event_overview")):
        response = client.get(target)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], target


def test_staff_without_permissions_get_403():
    client = staff("nobody")
    version = trained(0.3)
    assert client.get(reverse(CHANGELIST)).status_code == 403
    assert client.get(url("progress", version.pk)).status_code == 403
    assert client.post(url("retrain")).status_code == 403
    assert client.get(reverse("admin:cart_recommender_event_overview")).status_code == 403
    assert ModelVersion.objects.count() == 1


def test_viewer_sees_versions_but_cannot_change_anything(viewer):
    old = trained(0.25, status=Status.ACTIVE)
    new = trained(0.4)
    page = viewer.get(reverse(CHANGELIST)).content.decode()
    assert f"v{new.pk}" in page and "active: serving bundles" in page
    assert "0.400" in page and "0.250" in page and "pop 0.111" in page and "co 0.222" in page
    assert "Retrain now" not in page
    detail = viewer.get(url("change", new.pk)).content.decode()
    assert "Activate v" not in detail and "Retrain now" not in detail
    assert viewer.post(url("retrain")).status_code == 403
    assert viewer.post(url("activate", new.pk)).status_code == 403
    assert viewer.get(url("activate", new.pk)).status_code == 403
    assert viewer.post(url("cancel", new.pk)).status_code == 403
    assert viewer.post(url("change", new.pk), {}).status_code == 403
    assert viewer.get(reverse("admin:cart_recommender_modelversion_add")).status_code == 403
    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.status, new.status) == (Status.ACTIVE, Status.READY)


def test_state_changes_need_post_and_csrf(operator):
    version = trained(0.4)
    assert operator.get(url("retrain")).status_code == 405
    assert operator.get(url("cancel", version.pk)).status_code == 405
    user = User.objects.get(username="operator")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    assert strict.post(url("retrain")).status_code == 403
    assert strict.post(url("activate", version.pk)).status_code == 403
    assert ModelVersion.objects.count() == 1
    assert not Activation.objects.exists()


# -- list and detail -------------------------------------------------------------------------------
def test_detail_page_shows_metrics_plots_params_and_log(operator):
    version = trained(0.4)
    page = operator.get(url("change", version.pk)).content.decode()
    table = re.search(r'<table class="cr-metrics".*?</table>', page, re.S).group(0)
    for text in ("sequence model", "popularity", "co-purchase", "hr@10", "ndcg@10", "0.400", "0.222"):
        assert text in table
    assert '<td class="cr-best">0.400</td>' in table  # the model wins HR@10
    svgs = re.findall(r'<svg class="cr-chart".*?</svg>', page, re.S)
    assert len(svgs) == 2
    assert "Loss per epoch" in svgs[0] and 'data-series="validation loss"' in svgs[0]
    assert "Hit rate at K" in svgs[1]
    assert all(f'data-series="{s}"' in svgs[1] for s in ("sequence model", "popularity", "co-purchase"))
    assert "max_epochs" in page and "[10:00:00] ready" in page
    assert f"Activate v{version.pk}" in page and "Retrain now" in page
    assert "Item-to-item term" not in page  # this version has no such term


def test_detail_page_breaks_the_holdout_into_repeat_explore_cold_and_new(operator):
    version = trained(0.4)
    assert 'id="cr-ages"' not in operator.get(url("change", version.pk)).content.decode()  # older metrics
    split = {"by_kind": {"repeat": {"hr@10": 0.61, "ndcg@10": 0.3, "queries": 120},
                         "explore": {"hr@10": 0.05, "ndcg@10": 0.02, "queries": 80}},
             "by_item_age": {"cold": {"hr@10": 0.0123, "ndcg@10": 0.004, "queries": 17},
                             "new": {"hr@10": 0.0, "ndcg@10": 0.0, "queries": 9}}}
    version.metrics = {name: {**values, **split} for name, values in version.metrics.items()}
    version.save()
    page = operator.get(url("change", version.pk)).content.decode()
    ages = re.search(r'<table class="cr-metrics" id="cr-ages">.*?</table>', page, re.S).group(0)
    assert "cold (17 queries)" in ages and "new (9 queries)" in ages and "0.012" in ages
    assert ages.count('<th scope="row">') == 3  # one row per scorer
    kinds = re.search(r'<table class="cr-metrics" id="cr-kinds">.*?</table>', page, re.S).group(0)
    assert "repeat (120 queries)" in kinds and "0.610" in kinds


def test_detail_page_shows_the_item_to_item_weight_and_why_it_won(operator):
    curve = {"0.0": 0.101, "0.5": 0.112, "2.0": 0.131, "8.0": 0.125}
    version = trained(0.4)
    version.history = {**version.history, "item_item": {"alpha": 2.0, "ridge": 20.5, "covered": 5000,
                                                        "val_ndcg": curve}}
    version.save(update_fields=["history"])
    page = operator.get(url("change", version.pk)).content.decode()
    section = re.search(r'<fieldset[^>]*id="cr-item-item".*?</fieldset>', page, re.S).group(0)
    assert "Weight 2, chosen on the validation split." in section
    assert "covers the 5000 most purchased products (ridge 20.5)" in section
    chart = re.search(r'<svg class="cr-chart".*?</svg>', section, re.S).group(0)
    assert "Validation NDCG@10 by item-to-item weight" in chart
    weights = ("0", "0.5", "2", "8")
    assert [label for label in weights if f">{label}</text>" in chart] == list(weights)
    version.history = {**version.history, "item_item": {"alpha": 0.0, "val_ndcg": curve}}
    version.save(update_fields=["history"])
    page = operator.get(url("change", version.pk)).content.decode()
    assert "Left out: no weight beat the model alone" in page


def test_detail_page_shows_the_repeat_weight_and_why_it_won(operator):
    version = trained(0.4)
    page = operator.get(url("change", version.pk)).content.decode()
    assert 'id="cr-repeat-mix"' not in page  # versions trained without a repeat window
    curve = {"0.0": 0.073, "8.0": 0.078, "32.0": 0.085, "64.0": 0.081}
    version.history = {**version.history, "repeat_mix": {"gamma": 32.0, "val_ndcg": curve}}
    version.save(update_fields=["history"])
    page = operator.get(url("change", version.pk)).content.decode()
    section = re.search(r'<fieldset[^>]*id="cr-repeat-mix".*?</fieldset>', page, re.S).group(0)
    assert "weighs 32 more, chosen on the validation split" in section
    chart = re.search(r'<svg class="cr-chart".*?</svg>', section, re.S).group(0)
    assert "Validation NDCG@10 by repeat weight" in chart
    assert [w for w in ("0", "8", "32", "64") if f">{w}</text>" in chart] == ["0", "8", "32", "64"]
    version.history = {**version.history, "repeat_mix": {"gamma": 0.0, "val_ndcg": curve}}
    version.save(update_fields=["history"])
    assert "the network's own balance" in operator.get(url("change", version.pk)).content.decode()


def test_detail_page_says_whether_the_reranker_is_on_and_what_decided_it(operator):
    version = trained(0.4)
    page = operator.get(url("change", version.pk)).content.decode()
    assert 'id="cr-rerank"' not in page  # versions trained before the reranker
    fit = {"candidates": 50, "lists": 33000, "with_target": 9400, "held_out": 1880, "kept": True,
           "val_ndcg": {"model": 0.301, "reranked": 0.334}}
    version.history = {**version.history, "rerank": fit}
    version.save(update_fields=["history"])
    page = operator.get(url("change", version.pk)).content.decode()
    section = re.search(r'<fieldset[^>]*id="cr-rerank".*?</fieldset>', page, re.S).group(0)
    assert "On: the model's 50 best products" in section
    assert "from 0.301 to 0.334" in section and "9400 validation queries" in section
    assert 'id="cr-rerank-content"' not in section  # candidates from the model's scores alone
    version.history = {**version.history, "rerank": {**fit, "by_content_candidates": 20, "by_content": 513,
                                                     "window_candidates": 64, "by_window": 651}}
    version.save(update_fields=["history"])
    page = operator.get(url("change", version.pk)).content.decode()
    assert "The shopper's 64 likeliest repeat purchases join them" in page and "651 of the" in page
    assert ("the 20 products most like the cart and the shopper's purchases by name and category" in page
            and "513 of the validation queries' hidden products were candidates only that way" in page)
    worse = {**fit, "kept": False, "val_ndcg": {"model": 0.3, "reranked": 0.29}}
    version.history = {**version.history, "rerank": worse}
    version.save(update_fields=["history"])
    page = operator.get(url("change", version.pk)).content.decode()
    assert "did not order better than the model (NDCG@10 0.29 against 0.3)" in page
    version.history = {**version.history, "rerank": {"kept": False, "why": "time budget"}}
    version.save(update_fields=["history"])
    assert "Off: time budget." in operator.get(url("change", version.pk)).content.decode()


def test_a_version_without_metrics_renders_without_plots(operator):
    version = ModelVersion.objects.create(status=Status.FAILED, error="TrainingError: too few events")
    page = operator.get(url("change", version.pk)).content.decode()
    assert "too few events" in page and "cr-chart" not in page and "Activate v" not in page


# -- retrain, progress, cancel --------------------------------------------------------------------
def test_retrain_queues_a_version_and_shows_its_progress(operator, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = operator.post(url("retrain"))
    version = ModelVersion.objects.get()
    assert version.status == Status.QUEUED and version.requested_by.username == "operator"
    assert len(callbacks) == 1  # the task is sent after commit, never during the request
    assert response.status_code == 302 and response["Location"] == url("change", version.pk)
    page = operator.get(response["Location"]).content.decode()
    assert "data-cr-progress" in page and url("progress", version.pk) in page
    assert "Cancel this run" in page
    assert "cart_recommender/admin/progress.js" in page
    assert "data-cr-progress" in operator.get(reverse(CHANGELIST)).content.decode()


def test_second_retrain_while_one_runs_is_refused(operator):
    operator.post(url("retrain"))
    first = ModelVersion.objects.get()
    response = operator.post(url("retrain"), follow=True)
    assert ModelVersion.objects.count() == 1
    assert response.redirect_chain[-1][0] == url("change", first.pk)
    assert "already" in response.content.decode()


def test_progress_json_follows_the_run(viewer):
    version = ModelVersion.objects.create(
        status=Status.TRAINING, heartbeat_at=timezone.now(),
        progress={"stage": "training", "epoch": 3, "epochs": 10, "loss": 0.51234, "elapsed_s": 12.2,
                  "eta_s": 95},
    )
    data = viewer.get(url("progress", version.pk)).json()
    assert data["running"] and not data["done"] and data["percent"] == 30
    assert "epoch 3 of 10" in data["text"] and "loss 0.5123" in data["text"]
    assert "12 s elapsed" in data["text"] and "about 1 min 35 s left" in data["text"]
    ModelVersion.objects.filter(pk=version.pk).update(status=Status.READY)
    data = viewer.get(url("progress", version.pk)).json()
    assert data["done"] and data["percent"] == 100 and data["status"] == "ready"
    assert data["url"] == url("change", version.pk)
    assert viewer.get(url("progress", 987654)).status_code == 404


def test_cancel_stops_a_queued_run_and_flags_a_training_one(operator):
    queued = ModelVersion.objects.create(status=Status.QUEUED, heartbeat_at=timezone.now())
    operator.post(url("cancel", queued.pk))
    queued.refresh_from_db()
    assert queued.status == Status.CANCELLED
    running = ModelVersion.objects.create(status=Status.TRAINING, heartbeat_at=timezone.now())
    response = operator.post(url("cancel", running.pk), follow=True)
    running.refresh_from_db()
    assert running.cancel_requested and "Asked v" in response.content.decode()
    done = trained(0.3)
    operator.post(url("cancel", done.pk))
    done.refresh_from_db()
    assert done.status == Status.READY and not done.cancel_requested


def test_cancel_action_from_the_list(operator):
    queued = ModelVersion.objects.create(status=Status.QUEUED, heartbeat_at=timezone.now())
    operator.post(reverse(CHANGELIST), {"action": "cancel_runs", "_selected_action": [queued.pk]})
    queued.refresh_from_db()
    assert queued.status == Status.CANCELLED


# -- activation and rollback ------------------------------------------------------------------
def test_activation_confirms_with_metrics_side_by_side_then_rollback(operator):
    old = trained(0.25)
    operator.post(url("activate", old.pk))
    old.refresh_from_db()
    assert old.status == Status.ACTIVE
    new = trained(0.4)
    page = operator.get(url("activate", new.pk)).content.decode()
    compare = re.search(r'<table class="cr-compare".*?</table>', page, re.S).group(0)
    assert f"v{old.pk} (active now)" in compare and "0.250" in compare and "0.400" in compare
    assert "+0.150" in compare
    assert "Activation gate: <strong>auto</strong>" in page and "ndcg@10" in page
    response = operator.post(url("activate", new.pk), {"note": "better HR"})
    assert response.status_code == 302
    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.status, new.status) == (Status.RETIRED, Status.ACTIVE)
    last = Activation.objects.first()
    assert (last.version, last.previous, last.user.username, last.note) == (new, old, "operator", "better HR")

    detail = operator.get(url("change", old.pk)).content.decode()
    assert f"Roll back to v{old.pk}" in detail
    assert "Roll back" in operator.get(url("activate", old.pk)).content.decode()
    operator.post(url("activate", old.pk), {"note": "rollback"})
    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.status, new.status) == (Status.ACTIVE, Status.RETIRED)
    trail = operator.get(reverse("admin:cart_recommender_activation_changelist")).content.decode()
    assert trail.count("operator") >= 2 and "rollback" in trail


def test_a_failed_version_cannot_be_activated(operator):
    failed = ModelVersion.objects.create(status=Status.FAILED)
    page = operator.get(url("activate", failed.pk)).content.decode()
    assert "only a ready or retired version" in page and "cr-activate-form" not in page
    response = operator.post(url("activate", failed.pk), follow=True)
    failed.refresh_from_db()
    assert failed.status == Status.FAILED and "only a ready or retired" in response.content.decode()


def test_activated_versions_cannot_be_deleted(operator):
    user = User.objects.get(username="operator")
    user.user_permissions.add(Permission.objects.get(codename="delete_modelversion"))
    active = trained(0.3, status=Status.ACTIVE)
    failed = ModelVersion.objects.create(status=Status.FAILED)
    assert operator.get(url("delete", active.pk)).status_code == 403
    operator.post(url("delete", failed.pk), {"post": "yes"})
    assert not ModelVersion.objects.filter(pk=failed.pk).exists()


# -- data overview ---------------------------------------------------------------------------
def _articles(n: int) -> list[Article]:
    return [Article.objects.create(ean=f"40000000000{i:02d}", title=f"Article {i}") for i in range(n)]


def test_data_overview_counts_pairs_and_warns_when_thin(viewer):
    a, b, c, d = _articles(4)
    now = timezone.now()
    baskets = {"o1": [a, b, c], "o2": [a, b], "o3": [b, d]}
    for k, (order, items) in enumerate(baskets.items()):
        for item in items:
            Event.objects.create(event_type="purchase", product=item, order_ref=order,
                                 shopper_ref=f"s{k % 2}", timestamp=now - timedelta(days=k))
    Event.objects.create(event_type="view", product=d, session_key="anon1", timestamp=now)
    page = viewer.get(reverse("admin:cart_recommender_event_overview")).content.decode()
    totals = re.search(r'id="cr-totals".*?</div>\s*</div>', page, re.S).group(0)
    assert re.search(r">8</span> events", totals) and re.search(r">3</span> shoppers", totals)
    assert re.search(r">3</span> orders", totals) and re.search(r">4</span> products", totals)
    pairs = re.search(r'<table class="cr-pairs".*?</table>', page, re.S).group(0)
    rows = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(\d+)</td></tr>", pairs)
    assert rows[0] == ("Article 0", "Article 1", "2")
    assert len(rows) == 4 and all(n == "1" for *_, n in rows[1:])
    assert 'data-minimum="multi_item_orders"' in page and "3 of the 500 orders" in page
    assert "Events per type per day" in page and 'data-series="purchase"' in page
    assert "Minimums for a useful model" in page


def test_data_overview_window_and_empty_state(viewer):
    page = viewer.get(reverse("admin:cart_recommender_event_overview")).content.decode()
    assert 'id="cr-no-data"' in page
    (a, b) = _articles(2)
    now = timezone.now()
    for days_ago, order in ((0, "new"), (200, "old")):
        for item in (a, b):
            Event.objects.create(event_type="purchase", product=item, order_ref=order,
                                 timestamp=now - timedelta(days=days_ago))
    recent = viewer.get(reverse("admin:cart_recommender_event_overview") + "?window=90").content.decode()
    everything = viewer.get(reverse("admin:cart_recommender_event_overview")).content.decode()
    # by default all data: what the next retrain reads, so an imported history is not "thin"
    assert re.search(r">1</span> orders", recent) and re.search(r">2</span> orders", everything)


def test_event_list_is_read_only(viewer):
    (a,) = _articles(1)
    Event.objects.create(event_type="view", product=a, session_key="abcdefgh1234")
    page = viewer.get(reverse("admin:cart_recommender_event_changelist")).content.decode()
    assert "Article 0" in page and "session abcdefgh" in page and "Data overview" in page
    assert viewer.get(reverse("admin:cart_recommender_event_add")).status_code == 403


def test_schedule_link_only_with_django_celery_beat(operator):
    page = operator.get(reverse(CHANGELIST)).content.decode()
    assert "Celery beat" in page and "Retraining schedule" not in page


# -- bundle rules ------------------------------------------------------------------------------
def test_bundle_rules_use_raw_ids_or_the_shops_autocomplete(admin_client):
    a, b = _articles(2)
    add = reverse("admin:cart_recommender_bundlerule_add")
    form = admin_client.get(add).content.decode()
    assert re.search(r'<input type="text" name="product"', form) and '<select name="product"' not in form
    admin_client.post(add, {"product": a.pk, "companion": b.pk, "kind": "pin"})
    rule = BundleRule.objects.get()
    assert (rule.product, rule.companion, rule.kind) == (a, b, "pin")
    listing = admin_client.get(reverse("admin:cart_recommender_bundlerule_changelist")).content.decode()
    assert "Article 0" in listing and "Article 1" in listing

    class ArticleAdmin(admin.ModelAdmin):
        search_fields = ["title"]

    admin.site.register(Article, ArticleAdmin)
    urls = types.ModuleType("urls_with_article_admin")  # the admin's URLs now include testapp
    urls.urlpatterns = [path("admin/", admin.site.urls)]
    try:
        with override_settings(ROOT_URLCONF=urls):
            assert "admin-autocomplete" in admin_client.get(add).content.decode()
    finally:
        admin.site.unregister(Article)


def test_pair_counts_are_exact_or_say_they_were_pruned():
    from cart_recommender.events.health import top_copurchased_pairs

    a, b, c, d = _articles(4)
    baskets = {"o1": [a, b], "o2": [a, b], "o3": [a, b, c], "o4": [c, d], "o5": [a, c]}
    for order, items in baskets.items():
        for item in items:
            Event.objects.create(event_type="purchase", product=item, order_ref=order)
    full = top_copurchased_pairs(2)
    assert full.exact and full.pairs == [(a.pk, b.pk, 3), (a.pk, c.pk, 2)]
    pruned = top_copurchased_pairs(3, among=2)  # only a and b (bought in the most orders)
    assert pruned.pairs == [(a.pk, b.pk, 3)] and not pruned.exact


def test_a_linked_user_counts_once_as_a_shopper_with_their_imported_orders():
    from cart_recommender.events.health import basket_facts, totals

    a, b = _articles(2)
    ann = User.objects.create_user("ann")
    bob = User.objects.create_user("bob")
    Event.objects.create(event_type="purchase", product=a, shopper_ref="cust-ann", order_ref="imported")
    Event.objects.create(event_type="purchase", product=b, user=ann, shopper_ref="cust-ann", order_ref="live")
    Event.objects.create(event_type="purchase", product=a, user=bob, order_ref="bob1")
    Event.objects.create(event_type="view", product=a, session_key="anon")
    assert totals()["shoppers"] == 3  # cust-ann (imported and live), bob, one session
    assert basket_facts()["returning_shoppers"] == 1  # cust-ann: two orders across both ways in


def test_data_overview_counts_new_events_at_once(viewer):
    (a, b) = _articles(2)
    overview = reverse("admin:cart_recommender_event_overview")
    Event.objects.create(event_type="purchase", product=a, order_ref="o1")
    assert re.search(r">1</span> orders", viewer.get(overview).content.decode())
    Event.objects.create(event_type="purchase", product=b, order_ref="o2")
    assert re.search(r">2</span> orders", viewer.get(overview).content.decode())


def test_a_slow_count_is_reused_for_a_while_even_after_new_events(viewer, monkeypatch):
    from cart_recommender.admin import data

    monkeypatch.setattr(data, "SLOW_COUNT_SECONDS", -1.0)  # every count takes "too long" here
    (a, b) = _articles(2)
    overview = reverse("admin:cart_recommender_event_overview")
    Event.objects.create(event_type="purchase", product=a, order_ref="o1")
    first = viewer.get(overview).content.decode()
    assert re.search(r">1</span> orders", first) and "Counting took" in first
    Event.objects.create(event_type="purchase", product=b, order_ref="o2")
    assert re.search(r">1</span> orders", viewer.get(overview).content.decode())  # reused
    assert re.search(r">2</span> orders", viewer.get(overview + "?refresh=1").content.decode())
    monkeypatch.setattr(data, "SLOW_COUNT_SECONDS", 60.0)
    Event.objects.create(event_type="purchase", product=a, order_ref="o3")
    assert re.search(r">2</span> orders", viewer.get(overview).content.decode())  # the slow entry
    fresh = viewer.get(overview + "?refresh=1").content.decode()
    assert re.search(r">3</span> orders", fresh) and "Counting took" not in fresh


@pytest.mark.django_db(transaction=True)
def test_retrain_without_a_reachable_broker_says_so_and_leaves_nothing_queued(monkeypatch):
    from celery import Celery

    from tests.celery_app import app as suite_app

    # Celery reads CELERY_BROKER_URL from the environment before any configuration (CI sets it
    # for the real broker), so the unreachable app would otherwise talk to the real Redis.
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    client = staff("operator", "view_modelversion", "retrain_modelversion")
    unreachable = Celery("unreachable", broker="redis://127.0.0.1:1/0", set_as_current=False)
    unreachable.conf.broker_connection_timeout = 1
    unreachable.set_current()
    try:
        response = client.post(url("retrain"), follow=True)
    finally:
        suite_app.set_current()
    version = ModelVersion.objects.get()
    assert version.status == Status.FAILED and "could not send the training task" in version.error
    page = response.content.decode()
    assert "Retraining could not start" in page and "cart_recommender_train" in page
    assert response.redirect_chain[-1][0] == reverse(CHANGELIST)
    from cart_recommender import training

    assert training.busy_version() is None  # nothing stuck: the next request may queue again
