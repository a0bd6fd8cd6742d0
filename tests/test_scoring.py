"""The serving state of a process: which version serves, rules, fallbacks, the catalog snapshot."""

import logging
import time

import numpy as np
import pytest

from cart_recommender import registry, shoppers
from cart_recommender.adapter import DefaultShopAdapter
from cart_recommender.models import BundleRule, Event, ModelVersion
from cart_recommender.serving import catalog, scoring
from cart_recommender.serving import state as serving_state
from cart_recommender.serving.bundles import get_bundle
from cart_recommender.serving.history import shopper_history
from tests.bundle_data import activate_model, fresh_serving, make_shop, recommender_settings  # noqa: F401
from tests.testapp.models import Article

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_serving")]


def test_no_active_version_serves_the_baseline():
    state = serving_state.get_state()
    assert state.model is None and state.label == "baseline"


def test_an_unreadable_artifact_falls_back_and_is_not_retried_on_every_request(
    caplog, django_assert_num_queries
):
    make_shop()
    version = ModelVersion.objects.create(
        status="ready", serving_method="model", artifact="cart_recommender/models/missing.npz"
    )
    registry.activate(version)
    with recommender_settings(MODEL_CHECK_SECONDS=0), caplog.at_level(logging.ERROR):
        state = serving_state.get_state()
        assert state.label == "baseline"
        assert "cannot load model version" in caplog.text
        caplog.clear()
        serving_state.get_state()
        assert caplog.text == ""  # the same broken version is not loaded again
    bundle = get_bundle(["TEA"], size=3)
    assert bundle.model_version == "baseline" and len(bundle) == 3


def test_the_state_is_rechecked_only_every_model_check_seconds(django_assert_num_queries):
    serving_state.get_state()
    with django_assert_num_queries(0):
        for _ in range(5):
            serving_state.get_state()
    # active version, latest activation, latest erasure, rules, segments (names and caps),
    # the running A/B test's arms
    with recommender_settings(MODEL_CHECK_SECONDS=0), django_assert_num_queries(6):
        serving_state.get_state()


def test_token_changes_with_rules_and_activations():
    articles = make_shop()
    first = serving_state.get_state().token
    BundleRule.objects.create(product=articles["TEA"], companion=articles["CAKE"], kind="pin")
    second = serving_state.get_state().token  # the rule's post_save made this process re-check
    assert second != first
    assert serving_state.get_state().rules.pins == {"TEA": ("CAKE",)}
    rule = BundleRule.objects.get()
    rule.kind = "block"
    rule.save()
    third = serving_state.get_state()
    assert third.token not in (first, second)
    assert third.rules.blocks == {"TEA": frozenset({"CAKE"})} and third.rules.pins == {}


def test_the_activation_signal_makes_the_next_request_recheck(django_capture_on_commit_callbacks):
    make_shop()
    serving_state.get_state()
    version = ModelVersion.objects.create(status="ready", serving_method="model", artifact="x.npz")
    with django_capture_on_commit_callbacks(execute=True):
        registry.activate(version)
    assert serving_state._holder.checked_at == float("-inf")


def test_snapshot_from_columns_equals_the_adapters_answers():
    make_shop()
    default = DefaultShopAdapter()
    assert catalog._uses_column_readers(default)
    fields = catalog.row_fields(Article)
    rows = list(Article.objects.values_list(*fields))
    fast = {i.key: i for i in catalog._read_columns(default, rows, fields)}
    slow = {i.key: i for i in catalog._read_instances(default, Article.objects.all())}
    assert fast == slow and len(fast) == len(Article.objects.all())
    assert fast["POT"].sellable is False and fast["TEA"].category == "tea"


def test_test_shops_adapter_overrides_prices_so_products_are_read_one_by_one():
    make_shop()
    snap = catalog.get_snapshot()
    assert not catalog._uses_column_readers(type("A", (DefaultShopAdapter,), {"get_price": lambda s, p: 1})())
    assert str(snap.get("TEA").price) == "4.50"  # price_cents / 100, as the adapter says


def test_display_data_is_made_from_the_kept_rows_without_a_query(django_assert_num_queries):
    make_shop()
    snap = catalog.get_snapshot()
    with django_assert_num_queries(0):
        shown = snap.display(["MUG1", "TEA", "NOSUCH"])
    assert shown["MUG1"].name == "Blue mug" and shown["MUG1"].url == "/articles/MUG1/"
    assert "NOSUCH" not in shown


def test_snapshot_is_dropped_when_a_product_is_saved_in_this_process():
    make_shop()
    first = catalog.get_snapshot()
    assert catalog.get_snapshot() is first
    Article.objects.create(ean="NEW", title="New thing", price_cents=100, shelf="new")
    assert catalog.get_snapshot() is not first
    assert catalog.get_snapshot().get("NEW") is not None


def test_a_stale_snapshot_keeps_serving_while_it_is_rebuilt():
    make_shop()
    first = catalog.get_snapshot()
    with recommender_settings(CATALOG_REFRESH_SECONDS=0):
        catalog._holder.snapshot = first  # the settings change dropped it
        assert catalog.get_snapshot() is first  # answered at once, rebuild runs in a thread
        deadline = time.monotonic() + 20
        while catalog._holder.rebuilding and time.monotonic() < deadline:
            time.sleep(0.05)
    assert not catalog._holder.rebuilding


def test_a_rebuilt_snapshot_keeps_the_display_data_of_unchanged_products():
    make_shop()
    old = catalog.build_snapshot()
    old.make_all_displays()
    assert old.displays_complete
    Article.objects.filter(ean="MUG1").update(title="Big blue mug")  # no signal: a rebuild sees it
    new = catalog.build_snapshot()
    new.keep_displays(old)
    assert new.displays["TEA"] is old.displays["TEA"]  # made once, reused
    assert "MUG1" not in new.displays  # its row changed
    assert new.display(["MUG1"])["MUG1"].name == "Big blue mug"


def test_the_background_rebuild_carries_displays_over_only_for_the_default_get_display():
    make_shop()
    holder = catalog._holder
    holder.snapshot = first = catalog.build_snapshot()
    first.make_all_displays()
    holder._rebuild()  # what the background thread runs
    assert holder.snapshot is not first
    assert holder.snapshot.displays["TEA"] is first.displays["TEA"]
    assert holder.snapshot.displays_complete  # the rest made in the same thread
    with recommender_settings(ADAPTER="tests.testapp.adapter.LabelledArticleAdapter"):
        holder.snapshot = first
        holder._rebuild()
        # an adapter's own get_display may read other tables: made afresh, on first use
        assert holder.snapshot.displays == {}
        assert holder.snapshot.display(["TEA"])["TEA"].name == "Green tea (shelf tea)"


# --------------------------------------------------------------------------- with a model


def test_an_active_model_serves_and_the_rules_still_hold():
    make_shop()
    version = activate_model("model")
    with recommender_settings(MODEL_CHECK_SECONDS=0):
        bundle = get_bundle(["TEA"], size=3)
    assert bundle.model_version == str(version.pk)
    assert bundle.method == "model"
    keys = [i.product_id for i in bundle.items]
    assert "TEA" not in keys and "POT" not in keys
    assert len({i.category for i in bundle.items}) == len(keys) == 3
    assert all(i.source == "model" for i in bundle.items)


def test_the_candidate_table_is_exact_for_one_item_carts():
    make_shop()
    activate_model("model", seed=3)
    state = serving_state.get_state()
    model, table = state.model, state.table
    table.fill()
    assert table.complete
    for code in range(model.n_items):
        full = model.score([code], None, 0.0)
        expected = [int(c) for c in np.argsort(-full, kind="stable") if np.isfinite(full[c])][: table.k]
        got, scores = table.ranked([code], table.k)
        assert sorted(got.tolist()) == sorted(expected)
        assert np.allclose(np.sort(scores)[::-1], np.sort(full[expected])[::-1], atol=1e-5)


def test_the_candidate_table_merges_larger_carts_by_summed_score():
    make_shop()
    activate_model("model", seed=4)
    table = serving_state.get_state().table
    table.fill()
    codes, scores = table.ranked([0, 1], table.k)
    assert 0 not in codes and 1 not in codes
    assert list(scores) == sorted(scores, reverse=True)
    a = dict(zip(*table.ranked([0], table.k), strict=False))
    b = dict(zip(*table.ranked([1], table.k), strict=False))
    floor_a, floor_b = min(a.values()), min(b.values())
    for code, score in zip(codes.tolist(), scores.tolist(), strict=False):
        assert score == pytest.approx(a.get(code, floor_a) + b.get(code, floor_b), abs=1e-5)


def test_a_shopper_with_history_gets_the_full_forward_pass(django_user_model):
    articles = make_shop()
    me = django_user_model.objects.create_user("me")
    Event.objects.create(event_type="purchase", product=articles["CAKE"], user=me, order_ref="m1")
    activate_model("model")
    state = serving_state.get_state()
    history = shopper_history(shoppers.of_user(me))
    got = scoring.model_candidates(state, ["TEA"], history, time.time(), 5)
    model = state.model
    full = model.score(
        model.codes(["TEA"]), scoring._history([(model.item_index["CAKE"], history[0])]), time.time()
    )
    assert [c.key for c in got] == [model.items[i] for i in np.argsort(-full, kind="stable")[:5]]


def test_history_reads_the_latest_history_events_setting_many_in_one_query(
    django_user_model, django_assert_num_queries
):
    articles = make_shop()
    me = django_user_model.objects.create_user("me")
    keys = list(articles)[:5]
    for n, key in enumerate(keys):
        Event.objects.create(event_type="purchase", product=articles[key], user=me, order_ref=f"o{n}")
    with recommender_settings(HISTORY_EVENTS=3), django_assert_num_queries(1):
        got = shopper_history(shoppers.of_user(me))
    assert [h.order_ref for h in got] == ["o2", "o3", "o4"]  # the latest, oldest first
    assert len(shopper_history(shoppers.of_user(me))) == 5


def test_a_baseline_that_won_its_holdout_serves_from_the_artifacts_arrays():
    make_shop()
    version = activate_model("copurchase")
    bundle = get_bundle(["TEA"], size=3)
    assert bundle.model_version == str(version.pk) and bundle.method == "model"
    assert [i.product_id for i in bundle.items] == ["MUG1", "BISC", "SPOON"]
    assert [i.reason for i in bundle.items] == ["Often bought with Green tea"] * 3
    assert serving_state.get_state().table is None  # only the model itself needs candidate lists


def test_popularity_version_and_a_product_the_model_never_saw():
    make_shop()
    activate_model("popularity")
    bundle = get_bundle(["SPOON"], size=2)
    assert [i.product_id for i in bundle.items] == ["CAKE", "TEA"]  # bought in 25 and 20 orders
    assert bundle.method == "model"  # the version's own popularity array, no SQL
    Article.objects.create(ean="NEWBIE", title="Brand new", price_cents=100, shelf="new")
    bundle = get_bundle(["NEWBIE"], size=2)  # unknown to the model: SQL fallbacks
    assert bundle.method == "popularity" and len(bundle) == 2
