"""What bundles earn, in a real browser: a shopper buys through a bundle, staff see it on the
dashboard, then set up and start an A/B test in the admin."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from cart_recommender.models import BundleDay, Event, Experiment
from demo_shop.tests.test_bundle_browser import shop_with_history  # noqa: F401  (the same orders)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_sale_through_a_bundle_shows_on_the_dashboard_and_staff_start_an_ab_test(
    page, live_server, shop_with_history  # noqa: F811
):
    # a shopper: the cake stand in the cart, "Add all to cart", check out
    page.goto(f"{live_server.url}/product/22423/")
    page.get_by_role("button", name="Add to cart").click()
    page.goto(f"{live_server.url}/cart/")
    bundle = page.locator(".cart-recommender-bundle")
    bundle.wait_for()
    bundle_id = bundle.get_attribute("data-bundle-id")
    offered = bundle.locator(".cart-recommender-item").evaluate_all(
        "items => items.map(i => i.dataset.productId)"
    )
    page.get_by_role("button", name="Add all to cart").click()
    page.wait_for_url(f"{live_server.url}/cart/")
    page.goto(f"{live_server.url}/checkout/")
    page.fill("input[name=email]", "ann@example.com")
    page.fill("input[name=name]", "Ann")
    page.get_by_role("button", name="Place order").click()
    page.wait_for_url("**/order/**")
    credited = Event.objects.filter(event_type="purchase", bundle_id=bundle_id).select_related("product")
    assert sorted(e.product.sku for e in credited) == sorted(offered)
    revenue = sum(e.quantity * e.unit_price for e in credited)

    # staff: the dashboard counts it (the stale rollups are brought up to date on the way)
    User.objects.create_superuser("admin", "admin@example.com", "admin-pw")
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/admin/login/?next=/admin/cart_recommender/bundleday/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "admin-pw")
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/cart_recommender/bundleday/")
    assert page.locator("[data-metric=orders]").inner_text() == "1"
    assert page.locator("[data-metric=bundles_shown]").inner_text() != "0"
    assert f"{revenue:.2f}" in page.locator("[data-metric=revenue]").inner_text()
    assert page.locator("#cr-funnel-chart svg.cr-chart").count() == 1
    assert page.locator("#cr-revenue-chart svg.cr-chart path.cr-chart-line").count() == 1
    assert page.locator("#cr-top-products tbody tr").count() == len(offered)
    with page.expect_download() as download:
        page.click("#cr-csv")
    text = open(download.value.path()).read()
    assert text.splitlines()[0].startswith("day,served_by,scorer,arm,bundles_shown")
    assert BundleDay.objects.exists()

    # an A/B test: the baseline against no bundle at all, set up in the admin and started
    page.goto(f"{live_server.url}/admin/cart_recommender/experiment/add/")
    page.fill("#id_name", "Bundles or none")
    page.select_option("#id_primary_metric", "revenue_per_shopper")
    page.fill("#id_arms-0-name", "bundles")
    page.select_option("#id_arms-0-kind", "baseline")
    page.select_option("#id_arms-0-scorer", "copurchase")
    page.fill("#id_arms-0-share", "80")
    page.fill("#id_arms-1-name", "none")
    page.fill("#id_arms-1-position", "1")
    page.select_option("#id_arms-1-kind", "holdout")
    page.fill("#id_arms-1-share", "20")
    page.click("input[name=_continue]")
    page.wait_for_selector("#cr-start-button")
    with page.expect_navigation():
        page.click("#cr-start-button")
    assert "is running" in page.locator(".messagelist").inner_text()
    assert "Too early to call" in page.locator("#cr-verdict").inner_text()
    assert page.locator("#cr-arm-results tbody tr").count() == 2
    assert Experiment.objects.get().status == "running"
    with page.expect_navigation():
        page.click("#cr-stop-button")
    assert "is stopped" in page.locator(".messagelist").inner_text()
    assert Experiment.objects.get().status == "stopped"
