"""Segments in a real browser: staff read the overview's plots, open a segment, rename it, give it
its own cap, add a rule for it, and see how many shoppers moved on the next version's page."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User

from cart_recommender.models import Segment, SegmentProfile
from tests.admin_pages import log_in
from tests.test_segments import make_segment_shop, retrain

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_staff_read_and_edit_segments(live_server, page, django_user_model):
    make_segment_shop(django_user_model)
    version = retrain()
    k = version.segmentation["k"]
    User.objects.create_superuser("boss", "boss@example.com", "s3cret-pw")
    log_in(page, live_server.url, "boss", "s3cret-pw")

    page.goto(f"{live_server.url}/admin/cart_recommender/segment/")
    overview = page.locator("#cr-segments-overview")
    assert f"into {k} segments" in overview.inner_text()
    for chart in ("#cr-seg-sizes", "#cr-seg-revenue", "#cr-seg-aov"):
        assert page.locator(f"{chart} rect.cr-bar").count() == k
    assert page.locator("#cr-seg-mix rect.cr-bar").count() >= k  # one part per category bought
    assert page.locator("#result_list tbody tr").count() == k
    assert page.locator("#cr-silhouette").inner_text().count("k=") == 10
    largest = SegmentProfile.objects.filter(version=version).order_by("position").first()
    page.get_by_role("link", name=largest.segment.name, exact=True).first.click()
    page.wait_for_selector("#cr-segment-profile")
    assert page.locator("[data-metric=shoppers]").inner_text() == str(largest.shoppers)
    assert page.locator("#cr-top-products tbody tr").count() >= 1

    page.fill("#id_name", "Weekday regulars")
    page.fill("#id_category_cap", "2")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist")
    segment = Segment.objects.get(pk=largest.segment_id)
    assert (segment.name, segment.name_edited, segment.category_cap) == ("Weekday regulars", True, 2)

    page.click("#cr-add-segment-rule")
    page.wait_for_url(re.compile(r"/bundlerule/add/"))
    assert page.locator("#id_segment").input_value() == str(segment.pk)

    again = retrain()
    page.goto(f"{live_server.url}/admin/cart_recommender/modelversion/{again.pk}/change/")
    assert "0 of the 60 shoppers" in page.locator("#cr-moved").inner_text()
    assert "Weekday regulars" in page.locator("#cr-version-segment-table").inner_text()
