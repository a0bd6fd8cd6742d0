"""The "Add all to cart" round trip, without JavaScript.

The bundle's form posts to :func:`bundle_click` with the shop's own form fields plus a signed
note of what was shown (the items, the serving version and the bundle's id, which the clicks
carry for attribution). The view records a
``bundle_click`` event per item and answers ``307 Temporary Redirect`` to the shop's
add-to-cart endpoint: a 307 makes the browser repeat the POST with the same body, so the shop
receives exactly the form it expects (CSRF token included). That endpoint is asked of the
adapter when the click arrives and must be on this site: nothing in the request, not even a
note signed with a leaked ``SECRET_KEY``, can make the view re-post the form (and its CSRF
token) anywhere else.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.core import signing
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from cart_recommender.adapter import get_adapter
from cart_recommender.conf import app_settings
from cart_recommender.events.recording import record_event
from cart_recommender.models import EventSource
from cart_recommender.serving.bundle import Bundle

logger = logging.getLogger(__name__)
SALT = "cart_recommender.bundle_click"
#: Signed notes older than this are refused (a page left open for a day still works).
MAX_AGE_S = 2 * 24 * 3600


@dataclass(frozen=True)
class BundleForm:
    """What the template renders: where to post, the shop's fields, and the signed note."""

    click_url: str
    signed: str
    fields: list[tuple[str, str]] = field(default_factory=list)


def _products(keys: list[str]) -> list[Any]:
    by_pk = {str(p.pk): p for p in get_adapter().product_queryset().filter(pk__in=keys)}
    return [by_pk[k] for k in keys if k in by_pk]


def bundle_form(request: HttpRequest | None, bundle: Bundle) -> BundleForm | None:
    """The "Add all to cart" form of a bundle, or None when the shop offers no endpoint."""
    form = get_adapter().get_add_to_cart_form(request, _products(bundle.product_ids))
    if form is None:
        return None
    note = {"items": bundle.product_ids, "version": bundle.model_version, "bundle": bundle.bundle_id}
    return BundleForm(
        click_url=reverse("cart_recommender:bundle-click"),
        signed=signing.dumps(note, salt=SALT, compress=True),
        fields=[(str(n), str(v)) for n, v in form.fields],
    )


def record_bundle_events(
    request: HttpRequest, bundle_or_keys: Bundle | list[str], event_type: str, bundle_id: str = ""
) -> int:
    """One event per bundle item, carrying the bundle's id; products deleted since are skipped.

    Returns how many were recorded.
    """
    if isinstance(bundle_or_keys, Bundle):
        keys, bundle_id = bundle_or_keys.product_ids, bundle_or_keys.bundle_id
    else:
        keys = list(bundle_or_keys)
    adapter = get_adapter()
    products = {str(p.pk): p for p in adapter.product_queryset().filter(pk__in=keys)}
    n = 0
    for key in keys:
        if key in products:
            record_event(request, event_type, products[key], source=EventSource.BUNDLE, bundle_id=bundle_id)
            n += 1
    return n


@require_POST
def bundle_click(request: HttpRequest) -> HttpResponse:
    """Record the click on "Add all to cart", then hand the same POST to the shop (307)."""
    try:
        note = signing.loads(request.POST.get("cart_recommender_bundle", ""), salt=SALT, max_age=MAX_AGE_S)
    except signing.BadSignature:
        return HttpResponseBadRequest("This bundle form is invalid or has expired; reload the page.")
    items = note.get("items") if isinstance(note, dict) else None
    if not isinstance(items, list) or not all(isinstance(k, (str, int)) for k in items):
        return HttpResponseBadRequest("This bundle form is invalid; reload the page.")
    keys = [str(k) for k in items][: app_settings.MAX_BUNDLE_SIZE]
    form = get_adapter().get_add_to_cart_form(request, _products(keys))
    if form is None or not url_has_allowed_host_and_scheme(
        form.action, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        action = form.action if form is not None else None
        logger.error("cart_recommender: the adapter's add-to-cart URL %r is not on this site", action)
        return HttpResponseBadRequest("The shop's add-to-cart endpoint is not available.")
    bundle_id = note.get("bundle") if isinstance(note.get("bundle"), str) else ""
    record_bundle_events(request, keys, "bundle_click", bundle_id)
    response = HttpResponse(status=307)
    response["Location"] = form.action
    return response
