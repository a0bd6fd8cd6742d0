"""``record_event()``: the public API a shop's own views call to record behaviour."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, models, transaction
from django.http import HttpRequest

from cart_recommender.models import Event, EventSource, EventType


def shopper_identity(request: HttpRequest | None) -> dict[str, Any]:
    """The user and session key of a request, creating the session key if needed.

    An anonymous shopper's events are tied to the session so their cart history still counts.
    """
    if request is None:
        return {"user": None, "session_key": ""}
    user = getattr(request, "user", None)
    session = getattr(request, "session", None)
    session_key = ""
    if session is not None:
        if not session.session_key:
            session.save()
        session_key = session.session_key or ""
    return {
        "user": user if user is not None and user.is_authenticated else None,
        "session_key": session_key,
    }


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
) -> Event | None:
    """Record one behaviour event of the request's shopper.

    Returns the stored event, or None when an event with the same ``idempotency_key`` was
    already stored (a retried send never counts twice).

    Example::

        record_event(request, "add_to_cart", product, quantity=2)
    """
    if event_type not in EventType.values:
        raise ValueError(f"unknown event type {event_type!r}; expected one of {EventType.values}")
    if quantity < 1:
        raise ValueError("quantity must be at least 1")
    event = Event(
        event_type=event_type,
        product=product,
        quantity=quantity,
        unit_price=unit_price,
        order_ref=order_ref,
        source=source,
        idempotency_key=idempotency_key or None,
        shopper_ref=shopper_ref,
        **shopper_identity(request),
    )
    if timestamp is not None:
        event.timestamp = timestamp
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
