"""``record_event()``: the public API a shop's own views call to record behaviour."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, models, transaction
from django.http import HttpRequest

from cart_recommender.adapter import get_adapter
from cart_recommender.models import Event, EventSource, EventType


def shopper_identity(request: HttpRequest | None) -> dict[str, Any]:
    """The user, shopper ref and session key of a request, creating the session key if needed.

    An anonymous shopper's events are tied to the session so their cart history still counts.
    A logged-in user's events carry the adapter's ``get_shopper_ref`` (empty unless the shop
    links its users to the customer ids of its imported history).
    """
    if request is None:
        return {"user": None, "shopper_ref": "", "session_key": ""}
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        user = None
    session = getattr(request, "session", None)
    session_key = ""
    if session is not None:
        if not session.session_key:
            session.save()
        session_key = session.session_key or ""
    return {"user": user, "shopper_ref": linked_ref(user), "session_key": session_key}


def linked_ref(user: Any) -> str:
    """The adapter's ``get_shopper_ref`` for a logged-in user; "" for nobody or no link.

    The result must fit ``Event.shopper_ref``: an id too long to store is the shop's bug and
    fails here, loudly, rather than as a database error on some later event.
    """
    if user is None or not getattr(user, "is_authenticated", False):
        return ""
    ref = get_adapter().get_shopper_ref(user)
    if not isinstance(ref, str):
        raise TypeError(f"get_shopper_ref() must return a str, not {type(ref).__name__}")
    limit = Event._meta.get_field("shopper_ref").max_length
    if len(ref) > limit:
        raise ValueError(f"get_shopper_ref() returned {len(ref)} characters; at most {limit} fit")
    return ref


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
    already stored (a retried send never counts twice). ``shopper_ref`` names the shopper by
    the shop's own customer id, overriding the adapter's ``get_shopper_ref`` for this event.

    Example::

        record_event(request, "add_to_cart", product, quantity=2)
    """
    if event_type not in EventType.values:
        raise ValueError(f"unknown event type {event_type!r}; expected one of {EventType.values}")
    if quantity < 1:
        raise ValueError("quantity must be at least 1")
    identity = shopper_identity(request)
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
