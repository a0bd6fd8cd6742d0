"""Shopper segments through a real retrain: rows, profiles against direct counts, carrying over,
segment rules at serving, the template tag, erasure, and the admin screens."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection
from django.template import Context, Template
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from cart_recommender import training
from cart_recommender.models import BundleRule, Event, ModelVersion, Segment, SegmentProfile, ShopperSegment
from cart_recommender.privacy import forget_shopper
from cart_recommender.serving import state as serving_state
from cart_recommender.serving.bundles import get_bundle
from cart_recommender.shoppers import pseudonym
from tests.bundle_data import fresh_serving, recommender_settings  # noqa: F401
from tests.testapp.models import Article
from tests.training_data import START, make_articles

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_serving")]
BASELINES = {"use_model": False}


def make_segment_shop(django_user_model, per_kind: int = 20, seed: int = 0):
    """Three kinds of shoppers, ``per_kind`` each, with prices: regulars who buy shelf 0 every
    few weeks, one-time buyers of shelf 1 long ago, and big-basket buyers of shelf 3."""
    rng = random.Random(seed)
    articles = list(Article.objects.order_by("ean")) or make_articles(24)
    shelf = defaultdict(list)
    for a in articles:
        shelf[a.shelf].append(a)
    users = {"regular": [], "once": [], "big": []}
    events = []
    order = 0
    end = START + timedelta(days=360)
    for kind in users:
        for i in range(per_kind):
            user = django_user_model.objects.create_user(f"{kind}{i}")
            users[kind].append(user)
            if kind == "regular":
                days = [300 + 5 * k + rng.randrange(3) for k in range(10)]
                picks, qty, items = shelf["shelf 0"], 1, 3
            elif kind == "once":
                days = [20 + rng.randrange(60)]
                picks, qty, items = shelf["shelf 1"] + shelf["shelf 2"], 1, 2
            else:
                days = [200 + rng.randrange(40), 250 + rng.randrange(40)]
                picks, qty, items = shelf["shelf 3"], 5, 4
            for day in days:
                order += 1
                when = START + timedelta(days=day, minutes=i)
                for article in rng.sample(picks, k=min(items, len(picks))):
                    events.append(Event(event_type="purchase", product=article, user=user,
                                        order_ref=f"o{order}", quantity=qty, unit_price=article.price,
                                        timestamp=when))
    # the newest orders: a holdout for the retrain
    for k in range(12):
        user = users["regular"][k % per_kind]
        order += 1
        for article in rng.sample(shelf["shelf 0"], k=3):
            events.append(Event(event_type="purchase", product=article, user=user, order_ref=f"o{order}",
                                quantity=1, unit_price=article.price, timestamp=end + timedelta(minutes=k)))
    Event.objects.bulk_create(events)
    return users


def retrain(params=None):
    version = training.create_version(params=params or BASELINES)
    return training.run_training(version.pk)


def members(version):
    return dict(ShopperSegment.objects.filter(version=version).values_list("subject", "segment_id"))


def test_a_retrain_groups_the_shoppers_and_the_profiles_match_direct_counts(django_user_model):
    users = make_segment_shop(django_user_model)
    version = retrain()
    assert version.status == "active", version.log
    summary = version.segmentation
    assert "skipped" not in summary, summary
    assert summary["shoppers"] == 60 and 3 <= summary["k"] <= 12
    assert set(summary["silhouette"]) == {str(k) for k in range(3, 13)}
    assert "model vectors" not in summary["features"]  # a baselines-only run has no model
    assert summary["previous_version"] is None
    profiles = list(SegmentProfile.objects.filter(version=version).order_by("position"))
    assert len(profiles) == summary["k"]
    assert sum(p.shoppers for p in profiles) == 60
    membership = members(version)
    assert len(membership) == 60
    # the three kinds are far apart: no segment mixes them (a kind may split, by category mix)
    kinds = defaultdict(set)
    for kind, group in users.items():
        for u in group:
            kinds[membership[pseudonym(f"u:{u.pk}")]].add(kind)
    assert all(len(k) == 1 for k in kinds.values()), kinds
    total = sum(e.quantity * e.unit_price for e in Event.objects.filter(event_type="purchase"))
    for p in profiles:
        mine = [e for e in Event.objects.filter(event_type="purchase")
                if membership[pseudonym(f"u:{e.user_id}")] == p.segment_id]
        revenue = sum((e.quantity * e.unit_price for e in mine), Decimal(0))
        orders = len({e.order_ref for e in mine})
        shoppers = len({e.user_id for e in mine})
        assert p.shoppers == shoppers == p.profile["shoppers"]
        assert p.profile["orders"] == orders
        assert p.profile["revenue"] == pytest.approx(float(revenue), abs=0.01)
        assert p.profile["revenue_share"] == pytest.approx(float(revenue / total), abs=1e-4)
        assert p.profile["aov"] == pytest.approx(float(revenue) / orders, abs=0.01)
        lines = sorted(mine, key=lambda e: (e.timestamp, e.order_ref))
        seen, repeats = set(), 0
        first_order = {}
        for e in lines:
            pair = (e.user_id, e.product_id)
            if pair in seen and first_order[pair] != e.order_ref:
                repeats += 1
            first_order.setdefault(pair, e.order_ref)
            seen.add(pair)
        assert p.profile["repeat_share"] == pytest.approx(repeats / len(mine), abs=1e-4)
    first_regular = membership[pseudonym(f"u:{users['regular'][0].pk}")]
    regulars = next(p for p in profiles if p.segment_id == first_regular)
    assert regulars.profile["top_categories"][0][0] == "shelf 0"
    assert regulars.segment.name.startswith("Recent regulars"), regulars.segment.name
    assert "segments of 60 shoppers" in version.log


def test_a_retrain_on_the_same_shoppers_keeps_segments_names_and_rules(django_user_model):
    make_segment_shop(django_user_model)
    first = retrain()
    segment = SegmentProfile.objects.filter(version=first).order_by("position").first().segment
    segment.name = "Our best customers"
    segment.name_edited = True
    segment.save()
    article = Article.objects.order_by("ean").first()
    BundleRule.objects.create(product=article, companion=Article.objects.order_by("ean")[1],
                              kind="pin", segment=segment)
    before = set(Segment.objects.values_list("pk", flat=True))
    second = retrain()
    summary = second.segmentation
    assert summary["previous_version"] == first.pk
    assert summary["carried_over"] == summary["k"] == first.segmentation["k"]
    assert summary["common"] == 60 and summary["moved"] == 0
    assert set(SegmentProfile.objects.filter(version=second).values_list("segment_id", flat=True)) == before
    segment.refresh_from_db()
    assert segment.name == "Our best customers"
    assert BundleRule.objects.get().segment_id == segment.pk
    # memberships are kept for the new version, the serving one and the newest other, no more
    third = retrain()
    fourth = retrain()
    active = ModelVersion.objects.get(status="active")
    kept = set(ShopperSegment.objects.values_list("version_id", flat=True).distinct())
    assert kept == {fourth.pk, active.pk, third.pk} and len(kept) <= 3


def _in_segment(users, version):
    membership = members(version)
    return {kind: membership[pseudonym(f"u:{group[0].pk}")] for kind, group in users.items()}


def test_segment_rules_and_cap_apply_to_that_segment_only_without_a_query(django_user_model):
    users = make_segment_shop(django_user_model)
    version = retrain()
    seg = _in_segment(users, version)
    articles = list(Article.objects.order_by("ean"))
    cart, companion = articles[0], articles[23]
    regular, once = users["regular"][0], users["once"][0]

    def items(user):
        return [i.product_id for i in get_bundle([cart.pk], user=user, size=3, use_cache=False).items]

    assert companion.pk not in items(regular)
    BundleRule.objects.create(product=cart, companion=companion, kind="pin", segment_id=seg["regular"])
    serving_state.check_now()
    assert items(regular)[0] == companion.pk  # pinned for the regulars' segment
    assert companion.pk not in items(once)  # not for another segment
    blocked = items(once)[0]
    BundleRule.objects.create(product=cart, companion_id=blocked, kind="block", segment_id=seg["once"])
    serving_state.check_now()
    assert blocked not in items(once)
    # the segment lookup is in memory: a shopper in a segment costs the queries of one in none
    stranger = django_user_model.objects.create_user("stranger")
    get_bundle([cart.pk], user=stranger, size=3, use_cache=False)
    with CaptureQueriesContext(connection) as plain:
        get_bundle([cart.pk], user=stranger, size=3, use_cache=False)
    with CaptureQueriesContext(connection) as segmented:
        get_bundle([cart.pk], user=once, size=3, use_cache=False)
    assert len(segmented) == len(plain)


def test_a_segments_own_category_cap(django_user_model):
    users = make_segment_shop(django_user_model)
    version = retrain()
    seg = _in_segment(users, version)
    cart = Article.objects.order_by("ean").first()
    big = users["big"][0]

    def shelves():
        bundle = get_bundle([cart.pk], user=big, size=4, use_cache=False)
        return [Article.objects.get(pk=i.product_id).shelf for i in bundle.items]

    with recommender_settings(CATEGORY_CAP=1):
        capped = shelves()
        assert len(capped) == len(set(capped))
        Segment.objects.filter(pk=seg["big"]).update(category_cap=3)
        serving_state.check_now()
        loose = shelves()
        assert max(loose.count(s) for s in set(loose)) > 1


def test_the_template_tag_names_the_shoppers_segment(django_user_model):
    users = make_segment_shop(django_user_model)
    version = retrain()
    seg = _in_segment(users, version)
    template = Template("{% load cart_recommender_tags %}{% cart_recommender_segment as s %}"
                        "[{{ s.id }}|{{ s.name }}]")
    request = RequestFactory().get("/")
    request.session = SessionStore()
    request.user = users["big"][0]
    name = Segment.objects.get(pk=seg["big"]).name
    assert template.render(Context({"request": request})) == f"[{seg['big']}|{name}]"
    request.user = django_user_model.objects.create_user("newcomer")
    assert template.render(Context({"request": request})) == "[|]"


def test_erasure_removes_the_shoppers_memberships(django_user_model):
    users = make_segment_shop(django_user_model)
    version = retrain()
    user = users["regular"][3]
    key = f"u:{user.pk}"
    assert serving_state.get_state().segments.of(key) is not None
    forget_shopper(user=user)
    assert not ShopperSegment.objects.filter(subject=pseudonym(key)).exists()
    assert ShopperSegment.objects.filter(version=version).count() == 59
    serving_state.check_now()
    assert serving_state.get_state().segments.of(key) is None


@pytest.mark.slow
def test_with_a_trained_model_its_shopper_vectors_are_features_too(django_user_model):
    make_segment_shop(django_user_model)
    version = retrain({"max_epochs": 1, "time_budget_s": 60, "dim": 16, "batch_size": 64})
    assert version.status in ("active", "ready"), version.log
    assert version.segmentation["features"][-1] == "model vectors", version.segmentation
    assert ShopperSegment.objects.filter(version=version).count() == 60


def test_too_few_shoppers_get_no_segments_and_say_why():
    make_articles(24)
    from tests.training_data import make_orders

    make_orders(60)
    version = retrain()
    assert version.status == "active"
    assert "segments need at least 50" in version.segmentation["skipped"]
    assert not SegmentProfile.objects.exists()


def test_admin_overview_and_segment_page(django_user_model, admin_client):
    make_segment_shop(django_user_model)
    version = retrain()
    response = admin_client.get("/admin/cart_recommender/segment/")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('class="cr-bar"') >= 3 * version.segmentation["k"]
    for p in SegmentProfile.objects.filter(version=version):
        assert p.segment.name in html
        assert f'<td class="field-shoppers">{p.shoppers:,}</td>' in html  # the list's own columns
        assert f'<td class="field-aov">{p.profile["aov"]:,.2f}</td>' in html
    segment = SegmentProfile.objects.filter(version=version).first().segment
    page = admin_client.get(f"/admin/cart_recommender/segment/{segment.pk}/change/")
    body = page.content.decode()
    assert page.status_code == 200 and 'id="cr-segment-profile"' in body and 'id="cr-top-products"' in body
    saved = admin_client.post(f"/admin/cart_recommender/segment/{segment.pk}/change/",
                              {"name": "Weekend bakers", "category_cap": "2", "note": ""})
    assert saved.status_code == 302
    segment.refresh_from_db()
    assert segment.name == "Weekend bakers" and segment.name_edited and segment.category_cap == 2
    assert admin_client.get("/admin/cart_recommender/segment/add/").status_code == 403
    gone = Segment.objects.create(name="Found once")  # in no current grouping: a page, not a row
    assert "Found once" not in admin_client.get("/admin/cart_recommender/segment/").content.decode()
    assert "not in the current grouping" in admin_client.get(
        f"/admin/cart_recommender/segment/{gone.pk}/change/").content.decode()
    # the version page lists its segments; a second run says how many shoppers moved
    again = retrain()
    page = admin_client.get(f"/admin/cart_recommender/modelversion/{again.pk}/change/").content.decode()
    assert 'id="cr-version-segment-table"' in page and "Weekend bakers" in page
    assert f"carried over from v{version.pk}; 0 of the 60 shoppers" in page


def test_an_ab_tests_results_for_one_segment(django_user_model, admin_client):
    from django.utils import timezone

    from cart_recommender.experiments.results import result
    from cart_recommender.models import Experiment, ExperimentArm, ExperimentShopper

    users = make_segment_shop(django_user_model)
    version = retrain()
    seg = _in_segment(users, version)
    experiment = Experiment.objects.create(name="t", status="running", started_at=timezone.now(), min_days=0)
    a = ExperimentArm.objects.create(experiment=experiment, name="A", kind="holdout", share=50, position=0)
    b = ExperimentArm.objects.create(experiment=experiment, name="B", kind="baseline", scorer="popularity",
                                     share=50, position=1)
    rows = []
    for kind, group in users.items():
        for i, user in enumerate(group):
            rows.append(ExperimentShopper(experiment=experiment, arm=a if i % 2 else b,
                                          subject=pseudonym(f"u:{user.pk}"), orders=1 if kind == "big" else 0,
                                          revenue=Decimal("10.00") if kind == "big" else 0,
                                          bundles_shown=2, bundles_clicked=1 if kind == "big" else 0))
    ExperimentShopper.objects.bulk_create(rows)
    everyone = result(experiment)
    assert [n.shoppers for n in everyone.arms] == [30, 30]
    subjects = ShopperSegment.objects.filter(version=version, segment_id=seg["big"]).values("subject")
    big_members = ShopperSegment.objects.filter(version=version, segment_id=seg["big"]).count()
    only_big = result(experiment, subjects)
    assert sum(n.shoppers for n in only_big.arms) == big_members
    assert all(n.ordering == n.shoppers for n in only_big.arms)  # every big buyer ordered
    assert sum(n.bundles_clicked for n in only_big.arms) == big_members
    # the REST endpoint and the admin page take ?segment=
    url = f"/recommender/api/experiments/{experiment.pk}/results/"
    body = admin_client.get(url, {"segment": seg["big"]}).json()
    assert body["segment"]["id"] == seg["big"]
    assert sum(arm["shoppers"] for arm in body["arms"]) == big_members
    assert admin_client.get(url, {"segment": "abc"}).status_code == 400
    assert admin_client.get(url, {"segment": "999999"}).status_code == 400
    page = admin_client.get(f"/admin/cart_recommender/experiment/{experiment.pk}/change/",
                            {"segment": seg["big"]}).content.decode()
    assert 'id="cr-segment-filter"' in page and 'id="cr-segment-note"' in page


def test_the_dashboard_and_its_api_filter_by_the_segment_a_bundle_was_served_to(django_user_model,
                                                                                   admin_client):
    from django.utils import timezone

    from cart_recommender.events.recording import record_event
    from cart_recommender.performance import report, rollups, tags

    users = make_segment_shop(django_user_model)
    version = retrain()
    seg = _in_segment(users, version)
    big = users["big"][0]
    cart = Article.objects.order_by("ean").first()
    bundle = get_bundle([cart.pk], user=big, size=3, use_cache=False)
    assert tags.parse(bundle.bundle_id).segment == seg["big"]
    shown = Article.objects.get(pk=bundle.items[0].product_id)
    request = RequestFactory().get("/")
    request.session = SessionStore()
    request.user = big
    record_event(request, "bundle_impression", shown, bundle_id=bundle.bundle_id)
    bought = record_event(request, "purchase", shown, order_ref="through-bundle", unit_price=shown.price,
                          timestamp=timezone.now() + timedelta(minutes=1))
    assert (bought.bundle_id, bought.segment) == (bundle.bundle_id, seg["big"])
    rollups.update()
    today = timezone.localdate()
    mine = report.totals(report.Period(today, today, segment=seg["big"]))
    theirs = report.totals(report.Period(today, today, segment=seg["once"]))
    assert (mine.bundles_shown, mine.orders, mine.revenue) == (1, 1, shown.price)
    assert (theirs.bundles_shown, theirs.orders) == (0, 0)
    body = admin_client.get("/recommender/api/performance/", {"days": "7", "segment": seg["big"]}).json()
    assert body["totals"]["orders"] == 1
    assert admin_client.get("/recommender/api/performance/", {"segment": "x"}).status_code == 400
    page = admin_client.get("/admin/cart_recommender/bundleday/", {"segment": seg["once"]}).content.decode()
    assert 'id="cr-segment-select"' in page
    # an id made before segments existed still parses, with no segment
    old = "k3Jx9aQ2.12.m.4"
    legacy = tags.parse(f"{old}.{tags._sign(old)}")
    assert (legacy.served_by, legacy.arm_id, legacy.segment) == ("12", 4, None)


def test_the_segments_endpoint_is_for_staff_with_the_permission(django_user_model, admin_client, client):
    from django.contrib.auth.models import Permission

    make_segment_shop(django_user_model)
    version = retrain()
    body = admin_client.get("/recommender/api/segments/").json()
    assert body["version"] == version.pk and body["k"] == version.segmentation["k"]
    rows = SegmentProfile.objects.filter(version=version).order_by("position")
    assert [s["id"] for s in body["segments"]] == [r.segment_id for r in rows]
    assert [s["shoppers"] for s in body["segments"]] == [r.shoppers for r in rows]
    assert body["segments"][0]["profile"]["revenue"] == rows[0].profile["revenue"]
    assert admin_client.get("/recommender/api/segments/", {"x": "1"}).status_code == 400
    assert client.get("/recommender/api/segments/").status_code in (401, 403)
    staff = django_user_model.objects.create_user("staff", password="pw", is_staff=True)
    client.force_login(staff)
    assert client.get("/recommender/api/segments/").status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_segment"))
    assert client.get("/recommender/api/segments/").status_code == 200
