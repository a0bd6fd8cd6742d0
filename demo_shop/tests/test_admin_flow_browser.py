"""The whole loop in the demo shop, in a real browser, against a real Celery worker.

Staff log in to the admin, click "Retrain now", watch the progress bar reach the end, open the
new version and its plots, activate it; then a shopper's cart page shows a bundle served by
that version (``data-model-version`` on the bundle). Also: the retraining schedule of
django-celery-beat is linked from the admin when it is installed.
"""

from __future__ import annotations

import random
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from cart_recommender.models import Event, ModelVersion
from tests.admin_pages import log_in, retrain_and_watch, use_small_training
from tests.fixtures import start_worker, stop_worker

Status = ModelVersion.Status
KITS = [("22423", "22720", "21212"), ("85099B", "20725"), ("84879", "85123A", "47566")]


def database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def demo_worker(transactional_db, tmp_path, settings):
    """A ``celery -A demo_shop worker`` on the test database, with its own broker folder and
    artifact storage (shared with this process), so it never meets the demo's own ``var/``."""
    from demo_shop.celery import app

    var = tmp_path / "worker-var"
    env = {"DEMO_VAR_DIR": str(var), "DATABASE_URL": database_url()}
    settings.MEDIA_ROOT = var / "media"  # where the worker stores artifacts and the web reads them
    saved = app.conf.broker_transport_options
    if str(app.conf.broker_url).startswith("filesystem://"):
        queue = var / "broker" / "queue"
        (var / "broker" / "processed").mkdir(parents=True, exist_ok=True)
        queue.mkdir(parents=True, exist_ok=True)
        app.conf.broker_transport_options = {
            "data_folder_in": str(queue), "data_folder_out": str(queue),
            "processed_folder": str(var / "broker" / "processed"), "store_processed": False,
        }
        app._pool = None  # producers for the new folder (kombu pools key on the options)
        app.amqp._producer_pool = None
    worker = start_worker("demo_shop", "celery,cart_recommender_training", tmp_path / "worker.log",
                          extra_env=env, timeout=90)
    try:
        yield worker
    finally:
        stop_worker(worker)
        app.conf.broker_transport_options = saved
        app._pool = None
        app.amqp._producer_pool = None


def make_history(products, n_orders: int = 120, seed: int = 3) -> None:
    """Baskets drawn from kits of products that go together, over the last six weeks."""
    rng = random.Random(seed)
    by_sku = {p.sku: p for p in products}
    start = timezone.now() - timedelta(days=42)
    events = []
    for o in range(n_orders):
        kit = KITS[o % len(KITS)] if rng.random() < 0.8 else rng.choice(KITS)
        basket = rng.sample(kit, k=min(len(kit), rng.randint(2, 3)))
        when = start + timedelta(hours=8 * o)
        for sku in basket:
            events.append(Event(event_type="add_to_cart", product=by_sku[sku], shopper_ref=f"c{o % 15}",
                                timestamp=when - timedelta(minutes=3)))
            events.append(Event(event_type="purchase", product=by_sku[sku], shopper_ref=f"c{o % 15}",
                                order_ref=f"W{o:05d}", timestamp=when, unit_price=by_sku[sku].price))
    Event.objects.bulk_create(events)


@pytest.mark.browser
@pytest.mark.worker
@pytest.mark.slow
def test_retrain_activate_and_the_cart_bundle_comes_from_the_new_version(
    live_server, page, products, demo_worker, settings
):
    use_small_training(settings)
    make_history(products)
    old = ModelVersion.objects.create(  # measured better than the new run will: stays active
        status=Status.ACTIVE, serving_method="copurchase", artifact="cart_recommender/models/old.npz",
        metrics={"copurchase": {"hr@10": 0.99, "ndcg@10": 0.99}},
    )
    User.objects.create_superuser("admin", "admin@example.com", "admin-pw")
    log_in(page, live_server.url, "admin", "admin-pw")

    version_id = retrain_and_watch(page)
    page.click(".cr-results-link")
    page.wait_for_selector("#cr-plots")
    assert page.locator("#cr-plots svg.cr-chart").count() == 2  # loss per epoch, hit rate at K
    assert page.locator("#cr-item-item svg.cr-chart").count() == 1  # the item-to-item weight's fit
    page.click("#cr-activate")
    assert f"v{old.pk} (active now)" in page.locator("#cr-compare").text_content()
    page.click("#cr-confirm")
    page.wait_for_selector(".cr-live")
    assert ModelVersion.objects.get(pk=version_id).status == Status.ACTIVE

    page.goto(f"{live_server.url}{reverse('shop:product', args=['22423'])}")
    page.click("form.add-form button[type=submit]")
    page.goto(f"{live_server.url}{reverse('shop:cart')}")
    bundle = page.locator("section.cart-recommender-bundle")
    bundle.wait_for()
    assert bundle.get_attribute("data-model-version") == str(version_id)
    names = bundle.locator(".cart-recommender-name").all_inner_texts()
    assert names and "REGENCY CAKESTAND 3 TIER" not in [n.upper() for n in names]


@pytest.mark.django_db
def test_the_admin_links_the_beat_schedule_when_django_celery_beat_is_installed(admin_client):
    if not apps.is_installed("django_celery_beat"):
        pytest.fail("the demo settings add django_celery_beat when it is importable: "
                    "install the dev extra (pip install -e '.[dev]')")
    schedule = reverse("admin:django_celery_beat_periodictask_changelist")
    for screen in ("admin:cart_recommender_modelversion_changelist", "admin:cart_recommender_event_overview"):
        page = admin_client.get(reverse(screen)).content.decode()
        assert re.search(rf'<a href="{re.escape(schedule)}">[^<]*schedule', page, re.I), screen
