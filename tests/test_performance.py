"""What bundles earn: bundle ids, attribution edge cases, rollups against direct counts, A/B arms."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore
from django.db.models import Count, F, Q, Sum
from django.test import RequestFactory

from cart_recommender import shoppers
from cart_recommender.events.recording import record_event
from cart_recommender.events.writer import write_events
from cart_recommender.experiments import assignment, lifecycle
from cart_recommender.experiments.results import result
from cart_recommender.models import (
    BundleDay,
    Event,
    Experiment,
    ExperimentArm,
    ExperimentShopper,
    ProductDay,
)
from cart_recommender.performance import report, rollups, tags
from cart_recommender.performance.attribution import attribute
from cart_recommender.serving.bundles import get_bundle
from cart_recommender.shoppers import Shopper
from tests.bundle_data import activate_model, fresh_serving, make_shop, recommender_settings  # noqa: F401
from tests.testapp.models import Article

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_serving")]
NOW = datetime(2026, 6, 10, 12, tzinfo=UTC)


def touch(product, bundle_id, when, kind="bundle_impression", **who):
    e = Event(event_type=kind, product=product, timestamp=when, **who)
    assert record_event is not None
    from cart_recommender.performance.attribution import tag_touch

    assert tag_touch(e, bundle_id)
    e.save()
    return e


def later(product, when, kind="purchase", **fields):
    e = Event(event_type=kind, product=product, timestamp=when, **fields)
    attribute([e])
    e.save()
    return e


# -- bundle ids ------------------------------------------------------------------------------


def test_a_bundle_id_names_version_scorer_and_arm_and_cannot_be_forged():
    tag = tags.new_tag("12", "model", 4, segment=3)
    assert tags.parse(tag.bundle_id) == tag and tag.segment == 3
    assert tags.parse(tags.new_tag("baseline", "copurchase", None).bundle_id).served_by == "baseline"
    assert tags.new_tag("12", "model", 4).bundle_id != tag.bundle_id  # every rendering is new
    nonce, label, code, arm, segment, sig = tag.bundle_id.split(".")
    for forged in (
        f"{nonce}.13.{code}.{arm}.{segment}.{sig}",
        f"{nonce}.{label}.{code}.5.{segment}.{sig}",
        f"{nonce}.{label}.{code}.{arm}.4.{sig}",
        f"{nonce}.{label}.{code}.{arm}.{sig}",
        "x" * 80,
        12,
        None,
        "a.b.c.d",
        f"{nonce}.{label}.{code}.{arm}.AAAAAAAA",
    ):
        assert tags.parse(forged) is None


# -- attribution -----------------------------------------------------------------------------


def test_last_touch_within_the_window_edges_included():
    shop = make_shop(with_events=False)
    mug, spoon = shop["MUG1"], shop["SPOON"]
    first, second = tags.new_tag("3", "model", None), tags.new_tag("4", "copurchase", None)
    touch(mug, first.bundle_id, NOW - timedelta(days=3), shopper_ref="c1")
    touch(mug, second.bundle_id, NOW - timedelta(days=1), kind="bundle_click", shopper_ref="c1")
    touch(spoon, first.bundle_id, NOW - timedelta(days=7), shopper_ref="c1")
    # two bundles showed the mug: the later touch (a click of the second) wins
    bought = later(mug, NOW, shopper_ref="c1", order_ref="o1", unit_price=Decimal("8.00"))
    assert (bought.bundle_id, bought.served_by, bought.scorer) == (second.bundle_id, "4", "copurchase")
    # exactly at the window's edge still counts; a second later it does not
    assert later(spoon, NOW, shopper_ref="c1", order_ref="o1").bundle_id == first.bundle_id
    assert later(spoon, NOW + timedelta(seconds=1), shopper_ref="c1", order_ref="o2").bundle_id == ""
    with recommender_settings(ATTRIBUTION_WINDOW_DAYS=1):
        assert later(spoon, NOW, shopper_ref="c1", kind="add_to_cart").bundle_id == ""


def test_no_impression_another_shopper_or_another_product_is_no_credit():
    shop = make_shop(with_events=False)
    tag = tags.new_tag("3", "model", None)
    touch(shop["MUG1"], tag.bundle_id, NOW - timedelta(hours=1), shopper_ref="c1")
    assert later(shop["MUG2"], NOW, shopper_ref="c1").bundle_id == ""  # not shown
    assert later(shop["MUG1"], NOW, shopper_ref="c2").bundle_id == ""  # someone else
    assert later(shop["MUG1"], NOW - timedelta(hours=2), shopper_ref="c1").bundle_id == ""  # before it
    assert later(shop["MUG1"], NOW, session_key="").bundle_id == ""  # nobody


def test_a_refund_goes_where_its_purchase_went_and_a_removal_is_counted():
    shop = make_shop(with_events=False)
    tag = tags.new_tag("3", "model", None)
    mug = shop["MUG1"]
    touch(mug, tag.bundle_id, NOW - timedelta(hours=2), shopper_ref="c1")
    later(mug, NOW - timedelta(hours=1), kind="add_to_cart", shopper_ref="c1")
    later(mug, NOW - timedelta(minutes=50), kind="remove_from_cart", shopper_ref="c1")
    later(mug, NOW, shopper_ref="c1", order_ref="o9", quantity=2, unit_price=Decimal("8.00"))
    # the refund is recorded by the shop's back office: no shopper, only the order
    refund = later(
        mug,
        NOW + timedelta(days=20),
        kind="refund",
        order_ref="o9",
        quantity=1,
        unit_price=Decimal("8.00"),
        shopper_ref="c1",
    )
    assert refund.bundle_id == tag.bundle_id  # 20 days later: past the window, but its sale was credited
    rollups.update(full=True)
    day = BundleDay.objects.get(day=NOW.date())
    assert (day.items_shown, day.add_to_carts, day.removals, day.orders, day.units, day.revenue) == (
        1,
        1,
        1,
        1,
        2,
        Decimal("16.00"),
    )
    period = report.Period(NOW.date(), (NOW + timedelta(days=20)).date())
    assert report.totals(period).net_revenue == Decimal("8.00")


def test_a_shopper_who_logs_in_mid_session_keeps_their_bundle_credit():
    shop = make_shop(with_events=False)
    request = RequestFactory().get("/")
    request.user, request.session = AnonymousUser(), SessionStore()
    anonymous = shoppers.of_request(request, create_session=True)
    tag = tags.new_tag("3", "model", None)
    record_event(request, "bundle_impression", shop["MUG1"], bundle_id=tag.bundle_id)
    user = get_user_model().objects.create_user("ann")
    from django.contrib.auth import login

    request.user = user
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")  # a new session key
    assert request.session.session_key != anonymous.session_key
    bought = record_event(request, "purchase", shop["MUG1"], order_ref="o1", unit_price=Decimal(8))
    assert bought.bundle_id == tag.bundle_id
    assert Event.objects.get(event_type="bundle_impression").user == user


def test_the_batch_paths_credit_purchases_too(tmp_path):
    from cart_recommender.events.importer import EventImporter

    shop = make_shop(with_events=False)
    tag = tags.new_tag("7", "model", None)
    touch(shop["MUG1"], tag.bundle_id, NOW - timedelta(hours=1), shopper_ref="c1")
    touch(shop["MUG2"], tag.bundle_id, NOW - timedelta(hours=1), shopper_ref="c1")
    result = write_events(
        [
            Event(
                event_type="purchase", product=shop["MUG1"], shopper_ref="c1", order_ref="api1", timestamp=NOW
            )
        ]
    )
    assert result.stored == 1
    assert Event.objects.get(order_ref="api1").bundle_id == tag.bundle_id
    csv = tmp_path / "orders.csv"
    csv.write_text(
        "timestamp,user_id,session_id,event,item_id,item_name,category,quantity,price,order_id\n"
        f"{NOW.isoformat()},c1,,purchase,MUG2,Red mug,mugs,1,7.50,csv1\n"
    )
    EventImporter().run(csv)
    assert Event.objects.get(order_ref="csv1").bundle_id == tag.bundle_id


# -- rollups ---------------------------------------------------------------------------------


def random_traffic(shop, n_shoppers=40, seed=3):
    rng = random.Random(seed)
    products = list(shop.values())
    day0 = NOW - timedelta(days=5)
    for s in range(n_shoppers):
        ref = f"c{s}"
        for visit in range(rng.randint(1, 4)):
            when = day0 + timedelta(days=rng.randint(0, 5), hours=rng.randint(0, 20), minutes=visit)
            tag = tags.new_tag(rng.choice(["3", "4", "baseline"]), rng.choice(["model", "copurchase"]), None)
            shown = rng.sample(products, 3)
            for p in shown:
                touch(p, tag.bundle_id, when, shopper_ref=ref)
            if rng.random() < 0.5:
                p = rng.choice(shown)
                touch(p, tag.bundle_id, when + timedelta(minutes=1), kind="bundle_click", shopper_ref=ref)
                later(p, when + timedelta(minutes=2), kind="add_to_cart", shopper_ref=ref)
                if rng.random() < 0.6:
                    later(
                        p,
                        when + timedelta(hours=rng.randint(1, 50)),
                        shopper_ref=ref,
                        order_ref=f"o{seed}-{s}-{visit}",
                        quantity=rng.randint(1, 3),
                        unit_price=p.price,
                    )


def test_rollups_equal_a_direct_count_and_incremental_runs_equal_a_full_rebuild():
    shop = make_shop(with_events=False)
    random_traffic(shop)
    rollups.update()
    random_traffic(shop, seed=4)  # more events, some on days already rolled up
    rollups.update()
    incremental = sorted(
        BundleDay.objects.values_list(
            "day",
            "served_by",
            "scorer",
            "bundles_shown",
            "items_shown",
            "clicks",
            "add_to_carts",
            "orders",
            "units",
            "revenue",
        )
    )
    rollups.update(full=True)
    full = sorted(
        BundleDay.objects.values_list(
            "day",
            "served_by",
            "scorer",
            "bundles_shown",
            "items_shown",
            "clicks",
            "add_to_carts",
            "orders",
            "units",
            "revenue",
        )
    )
    assert incremental == full
    credited = Event.objects.exclude(bundle_id="")
    direct = {
        "items_shown": credited.filter(event_type="bundle_impression").count(),
        "bundles_shown": sum(
            credited.filter(event_type="bundle_impression")
            .values("timestamp__date")
            .annotate(n=Count("bundle_id", distinct=True))
            .values_list("n", flat=True)
        ),
        "add_to_carts": credited.filter(event_type="add_to_cart").count(),
        "units": credited.filter(event_type="purchase").aggregate(n=Sum("quantity"))["n"],
        "revenue": credited.filter(event_type="purchase").aggregate(n=Sum(F("quantity") * F("unit_price")))[
            "n"
        ],
        # an order counts once in each (day, version, scorer, arm) row its credited items fall in
        "orders": credited.filter(event_type="purchase")
        .values("timestamp__date", "served_by", "scorer", "arm_id", "order_ref")
        .distinct()
        .count(),
    }
    totals = report.totals(report.Period(NOW.date() - timedelta(days=10), NOW.date() + timedelta(days=5)))
    assert direct["units"] and direct["orders"] > 5
    for name, value in direct.items():
        assert getattr(totals, name) == value, name
    top = report.top_products(report.Period(NOW.date() - timedelta(days=10), NOW.date() + timedelta(days=5)))
    assert sum(p.revenue for p in top) == direct["revenue"]
    assert ProductDay.objects.exists()


# -- A/B tests -------------------------------------------------------------------------------


def test_assignment_is_stable_independent_per_test_and_splits_as_asked():
    keys = [f"u:{i}" for i in range(20_000)]
    first = [assignment.arm_index(1, k, [70, 30]) for k in keys]
    assert first == [assignment.arm_index(1, k, [70, 30]) for k in keys]  # sticky
    share = first.count(0) / len(keys)
    assert abs(share - 0.70) < 0.015
    other = [assignment.arm_index(2, k, [70, 30]) for k in keys]
    both = sum(a == 0 and b == 0 for a, b in zip(first, other, strict=True)) / len(keys)
    assert abs(both - 0.49) < 0.02  # a second test splits independently of the first
    assert assignment.arm_index(1, "", [50, 50]) is None
    three = [assignment.arm_index(5, k, [34, 33, 33]) for k in keys]
    assert all(abs(three.count(i) / len(keys) - s / 100) < 0.015 for i, s in enumerate([34, 33, 33]))


def make_experiment(*arms, name="test", **fields):
    experiment = Experiment.objects.create(name=name, **fields)
    for position, (arm_name, kind, extra, share) in enumerate(arms):
        ExperimentArm.objects.create(
            experiment=experiment, name=arm_name, kind=kind, share=share, position=position, **extra
        )
    return experiment


def test_a_running_test_serves_each_arm_its_own_way_with_no_extra_query(
    django_assert_num_queries, django_capture_on_commit_callbacks
):
    make_shop()
    version = activate_model()
    experiment = make_experiment(
        ("A", "version", {"version": version}, 50),
        ("B", "baseline", {"scorer": "popularity"}, 30),
        ("hold-out", "holdout", {}, 20),
    )
    before = get_bundle(["TEA"], shopper=Shopper(shopper_ref="warm"))
    assert before.arm == "" and before.bundle_id
    with django_capture_on_commit_callbacks(execute=True):  # experiment_changed: this process re-checks
        lifecycle.start(experiment)
    seen = {}
    for i in range(60):
        bundle = get_bundle(["TEA"], shopper=Shopper(shopper_ref=f"c{i}"))
        arm = experiment.arms.get(pk=bundle.arm_id)
        index = assignment.arm_index(experiment.pk, f"r:c{i}", [50, 30, 20])
        assert arm.position == index
        seen[arm.name] = bundle
        tag = tags.parse(bundle.bundle_id) if bundle.items else None
        if arm.kind == "holdout":
            assert not bundle.items and bundle.method == "holdout"
        else:
            assert tag.arm_id == arm.pk and tag.served_by == str(version.pk)
    assert set(seen) == {"A", "B", "hold-out"}
    assert tags.parse(seen["B"].bundle_id).scorer == "popularity"
    assert tags.parse(seen["A"].bundle_id).scorer == "model"
    # nobody (no key) is in no arm and gets the active version
    assert get_bundle(["TEA"]).arm == ""
    # the hot path: a cached bundle of an arm costs no query, as without a test
    get_bundle(["TEA"], shopper=Shopper(shopper_ref="c1"))
    with django_assert_num_queries(0):
        again = get_bundle(["TEA"], shopper=Shopper(shopper_ref="c1"))
    assert again.arm_id is not None
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.stop(experiment)
    assert get_bundle(["TEA"], shopper=Shopper(shopper_ref="c1")).arm == ""


def test_starting_checks_the_arms_and_one_test_runs_at_a_time():
    make_shop()
    version = activate_model()
    bad = make_experiment(("A", "version", {"version": version}, 60), ("B", "baseline", {}, 30), name="bad")
    with pytest.raises(lifecycle.ExperimentError, match="90 %.*no scorer"):
        lifecycle.start(bad)
    good = make_experiment(("A", "version", {"version": version}, 50), ("B", "holdout", {}, 50), name="g")
    other = make_experiment(("A", "version", {"version": version}, 50), ("B", "holdout", {}, 50), name="o")
    lifecycle.start(good)
    with pytest.raises(lifecycle.ExperimentError, match="running"):
        lifecycle.start(other)
    with pytest.raises(lifecycle.ExperimentError, match="not a model version"):
        lifecycle.promote(good, good.arms.get(name="B"))


def test_results_wait_for_the_sample_and_then_call_a_real_difference():
    shop = make_shop(with_events=False)
    version = activate_model() if Event.objects.exists() else None
    experiment = make_experiment(
        ("A", "baseline", {"scorer": "popularity"}, 50),
        ("B", "baseline", {"scorer": "copurchase"}, 50),
        min_days=0,
    )
    lifecycle.start(experiment)
    Experiment.objects.filter(pk=experiment.pk).update(started_at=NOW - timedelta(days=1))
    experiment.refresh_from_db()
    arms = {a.position: a for a in experiment.arms.all()}
    rng = random.Random(1)
    mug = shop["MUG1"]
    for i in range(800):
        key = f"c{i}"
        index = assignment.arm_index(experiment.pk, f"r:{key}", [50, 50])
        later(mug, NOW - timedelta(hours=5), kind="add_to_cart", shopper_ref=key)
        if rng.random() < (0.10 if index == 0 else 0.30):
            later(mug, NOW - timedelta(hours=4), shopper_ref=key, order_ref=f"o{i}", unit_price=Decimal(8))
    with recommender_settings(EXPERIMENT_MIN_SHOPPERS=1000):
        waiting = result(experiment)
        assert waiting.winner is None and "1,000 shoppers" in waiting.verdict
    rollups.update()
    counted = {a.arm.position: a for a in result(experiment).arms}
    assert counted[0].shoppers + counted[1].shoppers == 800
    assert counted[0].shoppers == ExperimentShopper.objects.filter(arm=arms[0]).count()
    direct = Event.objects.filter(event_type="purchase").count()
    assert counted[0].ordering + counted[1].ordering == direct
    res = result(experiment)
    assert res.winner == arms[1] and "B beats" in res.verdict
    comparison = res.comparisons[arms[1].pk]["conversion"]
    assert comparison.low > 0 and comparison.p_value < 0.001 and comparison.test == "two-proportion z-test"
    assert res.comparisons[arms[1].pk]["revenue_per_shopper"].test == "Welch's t-test"
    assert version is None


def test_an_erased_shopper_leaves_the_test_rows():
    from cart_recommender.privacy import forget_shopper

    shop = make_shop(with_events=False)
    experiment = make_experiment(
        ("A", "baseline", {"scorer": "popularity"}, 50), ("B", "holdout", {}, 50), min_days=0
    )
    lifecycle.start(experiment)
    for key in ("c1", "c2"):
        record_event(None, "add_to_cart", shop["MUG1"], shopper_ref=key)
    rollups.update()
    assert ExperimentShopper.objects.count() == 2
    from cart_recommender.privacy import export_shopper

    exported = export_shopper(shopper_ref="c1")
    assert [row["test"] for row in exported["A/B tests"]] == ["test"]
    forget_shopper(shopper_ref="c1")
    assert ExperimentShopper.objects.count() == 1
    assert not ExperimentShopper.objects.filter(subject=rollups.subject_of("r:c1")).exists()


def test_statistics_match_reference_values():
    from cart_recommender.experiments import stats

    assert stats.t_sf(2.0, 10) == pytest.approx(0.036694, abs=1e-6)  # Student's t tables
    assert stats.t_quantile(0.975, 10) == pytest.approx(2.228139, abs=1e-5)
    assert stats.t_quantile(0.975, 1e9) == pytest.approx(1.959964, abs=1e-5)
    z = stats.rates(30, 1000, 45, 1000)
    assert z.p_value == pytest.approx(0.0775, abs=5e-4) and not z.significant(0.05)
    assert z.low < 0 < z.high
    # [1, 2, 3] against [2, 3, 3, 4]: t = 1.414, Welch df = 3.86
    w = stats.means(stats.Moments(3, 6, 14), stats.Moments(4, 12, 38))
    assert w.difference == pytest.approx(1.0) and w.p_value == pytest.approx(0.233, abs=2e-3)
    assert stats.means(stats.Moments(1, 1, 1), stats.Moments(5, 5, 5)) is None
    assert Q is not None and Article is not None


def test_bad_attribution_and_experiment_settings_fail_the_checks():
    from django.core import checks

    for values in (
        {"ATTRIBUTION_WINDOW_DAYS": 0},
        {"EXPERIMENT_CONFIDENCE": 1.5},
        {"ROLLUP_SECONDS": "x"},
        {"EXPERIMENT_MIN_SHOPPERS": -3},
    ):
        with recommender_settings(**values):
            assert "cart_recommender.E004" in {e.id for e in checks.run_checks()}, values
