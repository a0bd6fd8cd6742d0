"""``record_event()``: the public API a shop's own views call to record behaviour."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, models, transaction
from django.http import HttpRequest

from cart_recommender import shoppers
from cart_recommender.models import Event, EventSource, EventType
from cart_recommender.performance import attribution


def record_event(
    request: HttpRequest | None,
    event_type: str,
    product: models.Model,
    *,
    quantity: int = 1,
    unit_price: Decimal | None = None,
    order_ref: str = "",
    source: str = EventSource.SERVER,
    idempotency_key: str | None = None,
    timestamp: datetime | None = None,
    shopper_ref: str = "",
    bundle_id: str = "",
) -> Event | None:
    """Record one behaviour event of the request's shopper.

    Returns the stored event, or None when an event with the same ``idempotency_key`` was
    already stored (a retried send never counts twice). ``shopper_ref`` names the shopper by
    the shop's own customer id, overriding the adapter's ``get_shopper_ref`` for this event.
    ``bundle_id`` (a bundle impression or click) names the bundle shown; an add-to-cart,
    removal, purchase or refund is credited to a bundle by the attribution rule
    (:mod:`cart_recommender.performance.attribution`).
    Without the visitor's tracking consent (the adapter's ``has_tracking_consent``) the event
    is stored without anything that names them (see :mod:`cart_recommender.privacy`).

    Example::

        record_event(request, "add_to_cart", product, quantity=2)
    """
    if event_type not in EventType.values:
        raise ValueError(f"unknown event type {event_type!r}; expected one of {EventType.values}")
    if quantity < 1:
        raise ValueError("quantity must be at least 1")
    identity = shoppers.of_request(request, create_session=True).event_fields()
    if not shoppers.has_consent(request):
        # nothing personal: no identity, and an order reference the shop cannot join back
        shopper_ref = ""
        order_ref = f"anon-{shoppers.keyed_hash('order', order_ref)[:32]}" if order_ref else ""
    if shopper_ref:
        identity["shopper_ref"] = shopper_ref
    event = Event(
        event_type=event_type,
        product=product,
        quantity=quantity,
        unit_price=unit_price,
        order_ref=order_ref,
        source=source,
        idempotency_key=idempotency_key or None,
        **identity,
    )
    if timestamp is not None:
        event.timestamp = timestamp
    if bundle_id and event_type in attribution.TOUCHES:
        attribution.tag_touch(event, bundle_id)
    elif event_type in attribution.ATTRIBUTED:
        attribution.attribute([event])
    if idempotency_key:
        try:
            with transaction.atomic():
                event.save()
        except IntegrityError:
            if Event.objects.filter(idempotency_key=idempotency_key).exists():
                return None
            raise
    else:
        event.save()
    return event
