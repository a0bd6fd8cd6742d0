"""The dashboard, its CSV and REST twin, and the A/B test screens: numbers shown, permissions kept."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.utils import timezone

from cart_recommender.models import Activation, BundleDay, Event, Experiment, ExperimentArm, ModelVersion
from cart_recommender.performance import rollups, tags
from cart_recommender.performance.attribution import attribute, tag_touch
from tests.bundle_data import activate_model, fresh_serving, make_shop  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_serving")]


def staff_client(*codenames: str, staff: bool = True) -> Client:
    user = User.objects.create_user(f"op{User.objects.count()}", password="pw", is_staff=staff)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="cart_recommender", codename__in=codenames)
    )
    client = Client()
    client.force_login(user)
    return client


def sell_through_bundles(shop, n=5):
    """n bundles shown today, each with the mug bought through it for 8.00."""
    now = timezone.now() - timedelta(minutes=30)
    for i in range(n):
        tag = tags.new_tag("3", "model", None)
        shown = Event(
            event_type="bundle_impression", product=shop["MUG1"], shopper_ref=f"c{i}", timestamp=now
        )
        tag_touch(shown, tag.bundle_id)
        shown.save()
        bought = Event(
            event_type="purchase",
            product=shop["MUG1"],
            shopper_ref=f"c{i}",
            order_ref=f"o{i}",
            unit_price=Decimal("8.00"),
            timestamp=now + timedelta(minutes=5),
        )
        attribute([bought])
        bought.save()


def test_the_dashboard_shows_the_funnel_and_downloads_it_as_csv():
    shop = make_shop(with_events=False)
    sell_through_bundles(shop)
    client = staff_client("view_bundleday")
    page = client.get("/admin/cart_recommender/bundleday/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-metric="bundles_shown">5<' in html
    assert 'data-metric="orders">5<' in html
    assert "40.00" in html and "Blue mug" in html  # revenue and the top product
    assert "<svg" in html
    assert rollups.last_update() is not None  # the stale page asked for an update (eager here)
    rows = list(
        csv.DictReader(
            io.StringIO(client.get("/admin/cart_recommender/bundleday/?format=csv").content.decode())
        )
    )
    assert [(r["served_by"], r["scorer"], r["bundles_shown"], r["revenue"]) for r in rows] == [
        ("3", "model", "5", "40.00")
    ]


def test_the_dashboard_and_its_endpoint_are_for_staff_with_the_permission():
    make_shop(with_events=False)
    assert staff_client().get("/admin/cart_recommender/bundleday/").status_code == 403
    assert Client().get("/admin/cart_recommender/bundleday/").status_code == 302  # to the login
    assert staff_client("view_bundleday", staff=False).get("/recommender/api/performance/").status_code == 403
    assert Client().get("/recommender/api/performance/").status_code in (401, 403)
    ok = staff_client("view_bundleday")
    for bad in ("?days=8", "?days=x", "?experiment=abc", "?served_by=" + "x" * 30, "?other=1"):
        assert ok.get("/recommender/api/performance/" + bad).status_code == 400, bad
    assert ok.get("/recommender/api/performance/?experiment=999").status_code == 404
    assert staff_client().post("/admin/cart_recommender/bundleday/update/").status_code == 403


def test_the_endpoint_gives_the_dashboards_numbers():
    shop = make_shop(with_events=False)
    sell_through_bundles(shop, n=3)
    rollups.update()
    body = staff_client("view_bundleday").get("/recommender/api/performance/?days=7").json()
    assert body["totals"]["bundles_shown"] == 3 and body["totals"]["revenue"] == "24.00"
    assert body["totals"]["revenue_per_1000_bundles"] == "8000.00"
    assert len(body["days"]) == 7
    assert body["by_version"][0]["served_by"] == "3"
    assert body["top_products"][0]["product"] == "MUG1"


def make_test(version, other):
    experiment = Experiment.objects.create(name="v-new against v-live", min_days=0)
    ExperimentArm.objects.create(experiment=experiment, name="A", kind="version", version=version, share=50)
    ExperimentArm.objects.create(
        experiment=experiment, name="B", kind="version", version=other, share=50, position=1
    )
    return experiment


def test_only_staff_with_the_permission_start_stop_and_promote():
    make_shop()
    live = activate_model()
    candidate = ModelVersion.objects.create(
        status="ready",
        artifact=live.artifact,
        artifact_sha256=live.artifact_sha256,
        artifact_size=live.artifact_size,
    )
    experiment = make_test(live, candidate)
    url = f"/admin/cart_recommender/experiment/{experiment.pk}/"
    viewer = staff_client("view_experiment", "change_experiment")
    assert viewer.post(url + "start/").status_code == 403
    experiment.refresh_from_db()
    assert experiment.status == "draft"
    manager = staff_client("view_experiment", "change_experiment", "manage_experiment")
    assert manager.get(url + "start/").status_code == 403  # a GET never changes anything
    manager.post(url + "start/")
    experiment.refresh_from_db()
    assert experiment.status == "running" and experiment.started_by is not None
    page = manager.get(url + "change/").content.decode()
    assert "Too early to call" in page and 'id="cr-arm-results"' in page
    assert "cr-promote" not in page  # managing is not activating
    arm_b = experiment.arms.get(name="B")
    assert manager.post(url + f"promote/{arm_b.pk}/").status_code == 403
    promoter = staff_client(
        "view_experiment", "change_experiment", "manage_experiment", "activate_modelversion"
    )
    promoter.post(url + f"promote/{arm_b.pk}/")
    experiment.refresh_from_db()
    candidate.refresh_from_db()
    assert experiment.status == "stopped" and experiment.promoted_arm == arm_b
    assert candidate.status == "active"
    assert "A/B test" in Activation.objects.latest("pk").note
    body = (
        staff_client("view_experiment").get(f"/recommender/api/experiments/{experiment.pk}/results/").json()
    )
    assert [a["name"] for a in body["arms"]] == ["A", "B"] and body["winner"] is None
    assert staff_client().get(f"/recommender/api/experiments/{experiment.pk}/results/").status_code == 403
    assert BundleDay.objects.count() >= 0
