"""The browser beacon: CSRF-checked, bound to the request's session, only the allowed types."""

import json
import re
import time

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.template.loader import render_to_string
from django.test import Client, override_settings

from cart_recommender.api.beacon import MAX_BODY_BYTES, MAX_EVENTS
from cart_recommender.models import Event
from tests.testapp.models import Article

URL = "/recommender/beacon/"
EAN = "4006381333931"


@pytest.fixture
def pencil(db):
    return Article.objects.create(ean=EAN, title="Pencil", price_cents=129, shelf="Office")


@pytest.fixture
def browser():
    """A client that checks CSRF like a real browser session does, holding a real CSRF cookie."""
    client = Client(enforce_csrf_checks=True)
    client.get("/admin/login/")  # a page with a form: Django sets the csrftoken cookie
    client.token = client.cookies["csrftoken"].value
    return client


def send(client, payload, token=None, raw=None):
    body = raw if raw is not None else json.dumps(payload)
    headers = {"X-CSRFToken": token} if token else {}
    return client.post(URL, body, content_type="application/json", headers=headers)


def test_without_csrf_token_nothing_is_stored(browser, pencil):
    response = send(browser, {"events": [{"event": "view", "item_id": EAN}]})
    assert response.status_code == 403
    response = send(browser, {"events": [{"event": "view", "item_id": EAN}]}, token="x" * 32)
    assert response.status_code == 403
    assert not Event.objects.exists()


def test_event_belongs_to_the_requests_session(browser, pencil):
    response = send(browser, {"events": [{"event": "view", "item_id": EAN},
                                         {"event": "click", "item_id": EAN}]}, browser.token)
    assert response.status_code == 200, response.content
    assert response.json() == {"stored": 2, "duplicates": [], "errors": []}
    session_key = browser.cookies["sessionid"].value  # the beacon started the session
    assert set(Event.objects.values_list("session_key", "user", "source", "event_type")) == {
        (session_key, None, "beacon", "view"), (session_key, None, "beacon", "click"),
    }


def test_logged_in_shopper_is_the_user(browser, pencil):
    user = get_user_model().objects.create_user("ann", password="x")
    browser.force_login(user)
    browser.get("/admin/login/")  # logging in rotates the CSRF secret: fetch the new cookie
    token = browser.cookies["csrftoken"].value
    assert send(browser, {"event": "view", "item_id": EAN}, token).status_code == 200
    assert Event.objects.get().user == user


def test_payload_cannot_name_another_shopper(browser, pencil):
    for field in ("session_id", "user_id", "user", "session_key"):
        response = send(browser, {"events": [{"event": "view", "item_id": EAN, field: "victim"}]},
                        browser.token)
        assert response.status_code == 400
        assert "unknown field" in response.json()["errors"][0]["reason"]
    assert not Event.objects.exists()


def test_only_beacon_event_types_are_accepted(browser, pencil):
    for kind in ("add_to_cart", "purchase", "bundle_click", "liked"):
        response = send(browser, {"events": [{"event": kind, "item_id": EAN}]}, browser.token)
        assert response.status_code == 400 and "not accepted" in response.json()["errors"][0]["reason"]
    assert not Event.objects.exists()
    with override_settings(CART_RECOMMENDER={"BEACON_EVENT_TYPES": ["view", "bundle_click"]}):
        assert send(browser, {"event": "bundle_click", "item_id": EAN}, browser.token).status_code == 200
    assert Event.objects.get().event_type == "bundle_click"


def test_good_events_are_stored_and_bad_ones_reported_by_index(browser, pencil):
    payload = {"events": [
        {"event": "view", "item_id": "0000000000000"},
        {"event": "view", "item_id": EAN},
        {"event": "view", "item_id": True},
        "view",
    ]}
    response = send(browser, payload, browser.token)
    assert response.status_code == 200
    body = response.json()
    assert body["stored"] == 1
    assert [e["index"] for e in body["errors"]] == [0, 2, 3]
    assert "unknown item_id" in body["errors"][0]["reason"]


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", '{"events": "view"}', '{"events": []}', "\xff"])
def test_malformed_bodies_are_400(browser, pencil, raw):
    assert send(browser, None, browser.token, raw=raw).status_code == 400
    assert not Event.objects.exists()


def test_huge_and_overlong_payloads_are_refused(browser, pencil):
    huge = json.dumps({"events": [{"event": "view", "item_id": EAN, "id": "x" * 60}] * 200})
    assert len(huge) > MAX_BODY_BYTES
    assert send(browser, None, browser.token, raw=huge).status_code == 413
    many = {"events": [{"event": "view", "item_id": EAN}] * (MAX_EVENTS + 1)}
    assert send(browser, many, browser.token).status_code == 400
    assert not Event.objects.exists()


def test_a_shopper_over_the_rate_gets_429_and_nothing_of_that_request_is_stored(browser, pencil):
    if time.time() % 60 > 55:  # the window is the clock minute: do not straddle two
        time.sleep(61 - time.time() % 60)
    views = [{"event": "view", "item_id": EAN}]
    with override_settings(CART_RECOMMENDER={**settings.CART_RECOMMENDER, "BEACON_EVENTS_PER_MINUTE": 5}):
        assert send(browser, {"events": views * 3}, browser.token).status_code == 200
        refused = send(browser, {"events": views * 3}, browser.token)
        assert refused.status_code == 429 and "5 events a minute" in refused.json()["error"]
        assert 1 <= int(refused["Retry-After"]) <= 60
        assert Event.objects.count() == 3
        assert send(browser, {"events": views * 2}, browser.token).status_code == 200  # refused: not counted
        assert send(browser, {"events": views}, browser.token).status_code == 429
        other = Client(enforce_csrf_checks=True)  # another shopper has a minute of their own
        other.get("/admin/login/")
        assert send(other, {"events": views}, other.cookies["csrftoken"].value).status_code == 200
    assert Event.objects.count() == 6
    with override_settings(CART_RECOMMENDER={**settings.CART_RECOMMENDER, "BEACON_EVENTS_PER_MINUTE": None}):
        assert send(browser, {"events": views * 10}, browser.token).status_code == 200


def test_get_is_not_allowed(browser, pencil):
    assert browser.get(URL).status_code == 405


def test_client_ids_make_resends_idempotent_per_shopper(browser, pencil):
    payload = {"events": [{"event": "view", "item_id": EAN, "id": "e-1"}]}
    assert send(browser, payload, browser.token).json()["stored"] == 1
    again = send(browser, payload, browser.token).json()
    assert again == {"stored": 0, "duplicates": [0], "errors": []}
    other = Client(enforce_csrf_checks=True)
    other.get("/admin/login/")
    # another visitor using the same client id is another event, not a duplicate
    assert send(other, payload, other.cookies["csrftoken"].value).json()["stored"] == 1
    assert Event.objects.count() == 2


PAGE = """<!doctype html><html><body>
<div data-cr-view="{ean}">Pencil</div>
<a id="go" href="#next" data-cr-click="{ean}">Buy the pencil</a>
<script src="/static/cart_recommender/beacon.js" data-endpoint="/recommender/beacon/" defer></script>
</body></html>"""


def _wait_for_events(count, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and Event.objects.count() < count:
        time.sleep(0.1)


@pytest.mark.browser
def test_beacon_script_in_a_real_browser(live_server, page, transactional_db):
    Article.objects.create(ean=EAN, title="Pencil", price_cents=129)
    page.goto(f"{live_server.url}/admin/login/")  # a real page sets the CSRF cookie
    shop_page = f"{live_server.url}/shop/pencil/"
    page.route(shop_page, lambda route: route.fulfill(content_type="text/html",
                                                      body=PAGE.format(ean=EAN)))
    page.goto(shop_page)
    _wait_for_events(1)  # the view, sent on its own shortly after the page loaded
    page.click("#go")
    _wait_for_events(2)
    session = next(c["value"] for c in page.context.cookies() if c["name"] == "sessionid")
    assert sorted(Event.objects.values_list("event_type", "session_key", "source")) == [
        ("click", session, "beacon"), ("view", session, "beacon"),
    ]


def test_include_snippet_points_the_script_at_the_endpoint(rf):
    request = rf.get("/")
    html = render_to_string("cart_recommender/beacon.html", request=request)
    assert 'src="/static/cart_recommender/beacon.js"' in html
    assert f'data-endpoint="{URL}"' in html
    assert re.search(r'data-csrf="[A-Za-z0-9]{64}"', html)  # a masked token of this request
