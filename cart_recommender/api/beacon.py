"""The browser beacon: views and clicks a page reports for the shopper who is looking at it.

The shopper is always the request's own session (or logged-in user): a payload cannot name
another shopper, so a page can only ever add events to its own visitor's history. The view is
CSRF-protected like any form post (``static/cart_recommender/beacon.js`` sends the token in the
``X-CSRFToken`` header) and accepts only the event types in ``BEACON_EVENT_TYPES``.

Payload (JSON)::

    {"events": [{"event": "view", "item_id": "4006381333931", "id": "optional client id"}]}

A single event object without the ``events`` list is accepted too. A page that renders bundles
from the REST API reports what it showed and what was clicked as ``bundle_impression`` and
``bundle_click`` events with the answer's ``bundle_id``: those are accepted whatever
``BEACON_EVENT_TYPES`` says, but only with an id this app signed, so later purchases are credited
to the bundle (see :mod:`cart_recommender.performance.attribution`).
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from django.core.cache import caches
from django.db import models
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_POST

from cart_recommender import shoppers
from cart_recommender.adapter import get_adapter
from cart_recommender.api.inputs import BadInput, id_problem, loads
from cart_recommender.conf import app_settings
from cart_recommender.events.writer import write_events
from cart_recommender.models import Event, EventSource
from cart_recommender.performance import attribution, tags
from cart_recommender.shoppers import Shopper

#: Most events one beacon request may carry (the script sends at most 10 at a time).
MAX_EVENTS = 20
#: Largest request body accepted, in bytes; bigger ones get a 413 before being read.
MAX_BODY_BYTES = 8 * 1024
_EVENT_FIELDS = {"event", "item_id", "id", "bundle_id"}


def _error(status: int, message: str, **extra: Any) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=status)


def _body_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _check_event(raw: Any, allowed: list[str]) -> str | None:
    """Why one event of the payload is unacceptable, or None when it is fine."""
    if not isinstance(raw, dict):
        return "an event must be a JSON object"
    unknown = sorted(set(raw) - _EVENT_FIELDS)
    if unknown:
        return (f"unknown field(s) {', '.join(unknown)}; a beacon event has only event, item_id, id "
                "and bundle_id")
    if "bundle_id" in raw:
        if raw.get("event") not in attribution.TOUCHES:
            return "bundle_id is only for bundle_impression and bundle_click events"
        if tags.parse(raw["bundle_id"]) is None:
            return "bundle_id is not a bundle id this shop gave out"
    elif raw.get("event") not in allowed:
        shown = repr(raw.get("event"))[:40]  # repr escapes NUL and surrogates; no long echo
        return f"event {shown} is not accepted here (accepted: {', '.join(allowed)})"
    problem = id_problem(raw.get("item_id"))
    if problem:
        return f"item_id {problem}"
    client_id = raw.get("id")
    if client_id is not None:
        problem = "must be a string" if not isinstance(client_id, str) else id_problem(client_id)
        if problem:
            return f"id {problem}"
    return None


def _idempotency_key(shopper: Shopper, client_id: str | None) -> str | None:
    """A key namespaced by the shopper, so one visitor's ids can never block another's events."""
    if not client_id:
        return None
    digest = hashlib.sha256(f"{shopper.key}\x1f{client_id}".encode()).hexdigest()[:40]
    return f"beacon:{digest}"


def _over_rate(shopper: Shopper, count: int) -> int:
    """Seconds to wait when ``count`` more events would pass the shopper's minute; else 0.

    A fixed window per shopper and minute, counted in the cache: cheap, shared by every web
    process with a shared cache, and exact enough for a limit that only stops runaway pages.
    A refused request does not count.
    """
    limit = app_settings.BEACON_EVENTS_PER_MINUTE
    if limit is None:
        return 0
    now = time.time()
    minute = int(now // 60)
    owner = shopper.key
    cache = caches[app_settings.CACHE_ALIAS or "default"]
    key = "cart_recommender:beacon-rate:" + hashlib.blake2b(f"{owner}|{minute}".encode(),
                                                             digest_size=16).hexdigest()
    cache.add(key, 0, timeout=120)
    try:
        sent = cache.incr(key, count)
    except ValueError:  # expired between add and incr: start this window again
        cache.set(key, count, timeout=120)
        sent = count
    if sent <= limit:
        return 0
    cache.decr(key, count)
    return max(1, 60 * (minute + 1) - int(now))


def _parse_events(request: HttpRequest) -> list[Any] | JsonResponse:
    if _body_length(request) > MAX_BODY_BYTES:
        return _error(413, f"the request body is larger than {MAX_BODY_BYTES} bytes")
    body = request.body
    if len(body) > MAX_BODY_BYTES:
        return _error(413, f"the request body is larger than {MAX_BODY_BYTES} bytes")
    try:
        payload = loads(body)
    except BadInput as exc:
        return _error(400, str(exc))
    if isinstance(payload, dict) and "events" not in payload and "event" in payload:
        payload = {"events": [payload]}
    if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
        return _error(400, 'expected a JSON object {"events": [...]}')
    events = payload["events"]
    if not events:
        return _error(400, "the events list is empty")
    if len(events) > MAX_EVENTS:
        return _error(400, f"at most {MAX_EVENTS} events per request, got {len(events)}")
    return events


@never_cache
@csrf_protect
@require_POST
def beacon(request: HttpRequest) -> JsonResponse:
    """Store the page's events for the request's shopper; report each rejected one by index.

    Responds 200 with ``{"stored": n, "duplicates": [...], "errors": [...]}`` when at least one
    event was acceptable, 400 when none was (nothing is stored then), 413 for a body over
    :data:`MAX_BODY_BYTES`, 403 without a valid CSRF token, 429 over the shopper's
    ``BEACON_EVENTS_PER_MINUTE``. Without the visitor's tracking consent it stores nothing and
    answers 200 with ``"consent": false``.
    """
    events = _parse_events(request)
    if isinstance(events, JsonResponse):
        return events
    if not shoppers.has_consent(request):  # store nothing, and set no session cookie
        return JsonResponse({"stored": 0, "duplicates": [], "errors": [], "consent": False})
    shopper = shoppers.of_request(request, create_session=True)
    wait = _over_rate(shopper, len(events))
    if wait:
        response = _error(429, f"more than {app_settings.BEACON_EVENTS_PER_MINUTE} events a minute; "
                               f"retry in {wait} s")
        response["Retry-After"] = str(wait)
        return response
    allowed = list(app_settings.BEACON_EVENT_TYPES)
    errors: list[dict[str, Any]] = []
    valid: list[tuple[int, dict[str, Any]]] = []
    for index, raw in enumerate(events):
        reason = _check_event(raw, allowed)
        if reason:
            errors.append({"index": index, "reason": reason})
        else:
            valid.append((index, raw))
    products: dict[str, models.Model] = get_adapter().get_products_by_external_ids(
        str(raw["item_id"]).strip() for _, raw in valid
    )
    rows: list[tuple[int, Event]] = []
    for index, raw in valid:
        product = products.get(str(raw["item_id"]).strip())
        if product is None:
            errors.append({"index": index, "reason": f"unknown item_id {raw['item_id']!r}"})
            continue
        event = Event(
            event_type=raw["event"], product=product, source=EventSource.BEACON,
            idempotency_key=_idempotency_key(shopper, raw.get("id")), **shopper.event_fields(),
        )
        if "bundle_id" in raw:
            attribution.tag_touch(event, raw["bundle_id"])
        rows.append((index, event))
    errors.sort(key=lambda e: e["index"])
    if not rows:
        return _error(400, "no acceptable event in the request", errors=errors)
    result = write_events([event for _, event in rows])
    duplicates = [rows[i][0] for i in result.duplicates]
    return JsonResponse({"stored": result.stored, "duplicates": duplicates, "errors": errors})
