"""The requesting shopper's own latest events: the personal signal of the serving path.

Only the requester's own identity ever reaches this module (see
:mod:`cart_recommender.shoppers`), read live on every freshly computed bundle: nothing of
another shopper is read, and nothing is kept between requests.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cart_recommender.conf import app_settings
from cart_recommender.models import Event
from cart_recommender.shoppers import Shopper

#: What a shopper did that tells about them (bundle impressions and clicks do not).
HISTORY_EVENTS = ("view", "click", "add_to_cart", "remove_from_cart", "purchase")


@dataclass(frozen=True)
class HistoryEvent:
    """One event of the shopper's history, keyed like the serving path (``str(pk)``)."""

    product: str
    timestamp: datetime
    event_type: str
    order_ref: str


def shopper_history(shopper: Shopper, limit: int | None = None) -> list[HistoryEvent]:
    """The shopper's own latest ``limit`` events (default: the ``HISTORY_EVENTS`` setting),
    oldest first; empty without an identity.

    A logged-in user's events and those under the shop's id the adapter links them to
    (``shopper_ref``), else an anonymous session's own events.
    """
    if shopper.user_id is None and not shopper.session_key:
        return []
    limit = app_settings.HISTORY_EVENTS if limit is None else limit
    rows = (
        Event.objects.for_shopper(user_id=shopper.user_id, session_key=shopper.session_key,
                                  shopper_ref=shopper.shopper_ref)
        .filter(event_type__in=HISTORY_EVENTS)
        .order_by("-timestamp", "-pk")
        .values_list("product_id", "timestamp", "event_type", "order_ref")[:limit]
    )
    return [HistoryEvent(str(p), t, e, o) for p, t, e, o in reversed(list(rows))]
