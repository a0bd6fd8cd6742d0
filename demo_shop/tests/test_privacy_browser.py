"""Erasure in the demo shop's admin, in a real browser: the user admin's action, and "Forget a
shopper" found by a customer's session, then erased, with the audit trail after it."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from cart_recommender.models import Erasure, Event


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_staff_erase_a_user_and_a_session_from_the_admin(live_server, page, products):
    ann = User.objects.create_user("ann", password="pw")
    bob = User.objects.create_user("bob", password="pw")
    now = timezone.now()
    by_sku = {p.sku: p for p in products}

    def view(sku, session, user=None):
        return Event(event_type="view", product=by_sku[sku], user=user, session_key=session, timestamp=now)

    Event.objects.bulk_create([
        view("22423", "ann-session", ann), view("47566", "ann-session"),  # before she logged in
        view("47566", "bob-session", bob), view("84879", "guest-session"),
    ])
    User.objects.create_superuser("admin", "admin@example.com", "admin-pw")
    page.goto(f"{live_server.url}/admin/login/?next=/admin/auth/user/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "admin-pw")
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/auth/user/")

    # the user admin: select ann, run the action; her account stays, her behaviour goes
    page.check(f"input[name=_selected_action][value='{ann.pk}']")
    page.select_option("select[name=action]", "forget_users")
    page.click("button[name=index]")
    assert "Erased 1 shopper: 2 events deleted." in page.locator(".messagelist").inner_text()
    assert User.objects.filter(pk=ann.pk).exists()
    assert not Event.objects.filter(session_key="ann-session").exists()

    # "Forget a shopper": find the anonymous guest by session key, see the count, erase
    page.goto(f"{live_server.url}/admin/cart_recommender/erasure/")
    page.click("#cr-forget")
    page.select_option("#id_kind", "session_key")
    page.fill("#id_value", "guest-session")
    page.click("#cr-find")
    assert "Found 1 events" in page.locator("#cr-found").inner_text()
    page.click("#cr-erase")
    page.wait_for_url("**/admin/cart_recommender/erasure/")
    assert "Erased 1 shopper" in page.locator(".messagelist").inner_text()
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 2  # both erasures, read-only, naming nobody
    assert "guest-session" not in page.content() and "ann" not in page.locator("#result_list").inner_text()
    assert Erasure.objects.count() == 2
    assert list(Event.objects.values_list("user__username", flat=True)) == ["bob"]
