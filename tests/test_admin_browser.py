"""Staff retrain, watch and activate a model in a real browser, against a real Celery worker.

Headless Chromium drives the admin served by ``live_server``; "Retrain now" sends the task
through the broker to a ``celery worker`` process that trains a real (small) model on the same
test database. Nothing is mocked.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User

from cart_recommender.models import Activation, ModelVersion
from tests.admin_pages import log_in, retrain_and_watch, use_small_training
from tests.training_data import make_orders

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.slow]
Status = ModelVersion.Status


def make_staff(username: str = "merchant", password: str = "s3cret-pw") -> tuple[str, str]:
    user = User.objects.create_user(username, password=password, is_staff=True)
    user.user_permissions.set(Permission.objects.filter(
        content_type__app_label="cart_recommender",
        codename__in=["view_modelversion", "retrain_modelversion", "activate_modelversion",
                      "view_event", "view_activation"]))
    return username, password


def test_staff_retrain_watch_progress_open_plots_and_activate(
    live_server, page, celery_worker_process, settings
):
    use_small_training(settings)
    make_orders(80)
    # an active version that measured better than the new run will: the gate leaves the new
    # one "ready", so staff activate it by hand
    old = ModelVersion.objects.create(
        status=Status.ACTIVE, serving_method="copurchase", artifact="cart_recommender/models/old.npz",
        metrics={"copurchase": {"hr@10": 0.99, "ndcg@10": 0.99}},
    )
    username, password = make_staff()
    log_in(page, live_server.url, username, password)

    version_id = retrain_and_watch(page)
    version = ModelVersion.objects.get(pk=version_id)
    assert version.status == Status.READY, (version.error, celery_worker_process.log[-3000:])

    page.click(".cr-results-link")
    page.wait_for_selector("#cr-metrics")
    assert page.locator("#cr-plots svg.cr-chart").count() == 2  # loss per epoch, hit rate at K
    assert page.locator("#cr-plots").is_visible()
    fit = version.history["item_item"]  # the item-to-item term's weight, chosen on validation
    section = page.locator("#cr-item-item")
    assert section.locator("svg.cr-chart").count() == 1
    assert ("Left out" in section.inner_text()) == (fit["alpha"] == 0)
    hr_chart = page.locator("#cr-plots svg.cr-chart").nth(1)
    assert hr_chart.locator("path.cr-chart-line").count() >= 3  # the model and the baselines
    assert "sequence model" in page.locator("#cr-metrics").inner_text()

    page.click("#cr-activate")
    compare = page.locator("#cr-compare").text_content()
    assert f"v{old.pk} (active now)" in compare and f"v{version_id}" in compare
    assert "auto" in page.locator("#cr-gate").inner_text()
    page.fill("#cr-note", "checked in the browser")
    page.click("#cr-confirm")
    page.wait_for_selector(".cr-live")
    assert f"v{version_id} is active" in page.locator(".cr-live").inner_text()

    version.refresh_from_db()
    old.refresh_from_db()
    assert (version.status, old.status) == (Status.ACTIVE, Status.RETIRED)
    activation = Activation.objects.get(version=version)
    assert (activation.previous, activation.user.username, activation.automatic, activation.note) == (
        old, username, False, "checked in the browser")
