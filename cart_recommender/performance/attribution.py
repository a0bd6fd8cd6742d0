"""Attribution, decided as each event is stored: which bundle earned an add-to-cart or a sale.

The rule (last touch, documented in docs/performance.md): an ``add_to_cart``,
``remove_from_cart`` or ``purchase`` of a product is credited to the bundle whose impression or
click of that same product, by the same shopper, came last within ``ATTRIBUTION_WINDOW_DAYS``
before it (a touch at exactly the window's edge still counts). A ``refund`` is credited where
the purchase it takes back was: the same product in the same order. The event then carries
the bundle's id, version, scorer and arm (:class:`~cart_recommender.models.Event` fields), so
the rollups (:mod:`cart_recommender.performance`) count it without joining anything.

"The same shopper" means the same user, shop customer id or session key; a visitor who logs in
keeps their anonymous touches (:func:`claim_session`). Every path that stores events calls
:func:`attribute`: ``record_event``, the beacon and batch ingest (``write_events``) and the CSV
import, so purchases the shop records from its own code or imports are credited too. One query
per batch, on the ``(product, event_type, timestamp)`` index.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, NamedTuple

from django.db.models import Q

from cart_recommender.conf import app_settings
from cart_recommender.models import Event, EventType
from cart_recommender.performance import tags

TOUCHES = (EventType.BUNDLE_IMPRESSION, EventType.BUNDLE_CLICK)
CREDITED = (EventType.ADD_TO_CART, EventType.REMOVE_FROM_CART, EventType.PURCHASE)
ATTRIBUTED = (*CREDITED, EventType.REFUND)
#: Batches larger than this first ask whether any bundle was shown in their time span.
BATCH_GUARD = 50
#: Keys per IN (...) list: below every backend's limit on query parameters.
_CHUNK = 300


class Credit(NamedTuple):
    """The bundle an event is credited to."""

    bundle_id: str
    served_by: str
    scorer: str
    arm_id: int | None
    segment: int | None


class Row(NamedTuple):
    """What attribution reads of one event (an Event or an import's record)."""

    event_type: str
    product: Any
    user: Any
    shopper_ref: str
    session_key: str
    order_ref: str
    timestamp: Any


def window() -> timedelta:
    return timedelta(days=app_settings.ATTRIBUTION_WINDOW_DAYS)


def tag_touch(event: Event, bundle_id: str) -> bool:
    """Fill a bundle impression or click with what its (signed) bundle id says; False if forged."""
    tag = tags.parse(bundle_id)
    if tag is None:
        return False
    event.bundle_id, event.served_by, event.scorer, event.arm_id, event.segment = (
        tag.bundle_id,
        tag.served_by,
        tag.scorer,
        tag.arm_id,
        tag.segment,
    )
    return True


def attribute(events: Sequence[Event]) -> int:
    """Credit each attributable event of ``events`` (not saved yet) in place; how many were."""
    rows = [
        Row(e.event_type, e.product_id, e.user_id, e.shopper_ref, e.session_key, e.order_ref, e.timestamp)
        if e.event_type in ATTRIBUTED and not e.bundle_id
        else None
        for e in events
    ]
    credits = credit_rows(rows)
    for event, credit in zip(events, credits, strict=True):
        if credit is not None:
            event.bundle_id, event.served_by, event.scorer, event.arm_id, event.segment = credit
    return sum(c is not None for c in credits)


def credit_rows(rows: Sequence[Row | None]) -> list[Credit | None]:
    """The credit of each row (None: not attributable, or no bundle showed it)."""
    out: list[Credit | None] = [None] * len(rows)
    wanted = [
        (i, r)
        for i, r in enumerate(rows)
        if r is not None and r.event_type in ATTRIBUTED and (r.user or r.shopper_ref or r.session_key)
    ]
    touches = [(i, r) for i, r in wanted if r.event_type != EventType.REFUND]
    refunds = [(i, r) for i, r in wanted if r.event_type == EventType.REFUND and r.order_ref]
    if touches:
        found = _touches([r for _, r in touches])
        for i, row in touches:
            out[i] = _last_touch(row, found)
    if refunds:
        sold = _sales([r for _, r in refunds])
        for i, row in refunds:
            out[i] = sold.get((row.order_ref, str(row.product)))
    return out


def _identity_q(rows: Sequence[Row]) -> Q:
    users = {r.user for r in rows if r.user}
    refs = {r.shopper_ref for r in rows if r.shopper_ref}
    sessions = {r.session_key for r in rows if r.session_key}
    q = Q(pk__in=[])
    if users:
        q |= Q(user_id__in=users)
    if refs:
        q |= Q(shopper_ref__in=refs)
    if sessions:
        q |= Q(session_key__in=sessions)
    return q


def _touches(rows: Sequence[Row]) -> dict[tuple[str, str, Any], list[tuple[Any, Credit]]]:
    """Bundle touches of the rows' products by the rows' shoppers within the window.

    Keyed by (product, "u"/"r"/"s", identity), each list sorted by time.
    """
    span = window()
    lo = min(r.timestamp for r in rows) - span
    hi = max(r.timestamp for r in rows)
    products = sorted({str(r.product) for r in rows})
    found: dict[tuple[str, str, Any], list[tuple[Any, Credit]]] = defaultdict(list)
    if len(rows) > BATCH_GUARD and not (
        Event.objects.filter(event_type__in=TOUCHES, timestamp__gte=lo, timestamp__lte=hi)
        .exclude(bundle_id="")
        .exists()
    ):
        return found  # an import of old orders: no bundle was shown then, ask no more
    for start in range(0, len(products), _CHUNK):
        chunk = products[start : start + _CHUNK]
        qs = (
            Event.objects.filter(
                event_type__in=TOUCHES, product_id__in=chunk, timestamp__gte=lo, timestamp__lte=hi
            )
            .exclude(bundle_id="")
            .filter(_identity_q(rows))
            .order_by()
            .values_list(
                "product_id",
                "user_id",
                "shopper_ref",
                "session_key",
                "timestamp",
                "pk",
                "bundle_id",
                "served_by",
                "scorer",
                "arm_id",
                "segment",
            )
        )
        for product, user, ref, session, when, pk, *credit in qs:
            entry = ((when, pk), Credit(*credit))
            product = str(product)
            if user is not None:
                found[(product, "u", user)].append(entry)
            if ref:
                found[(product, "r", ref)].append(entry)
            if session:
                found[(product, "s", session)].append(entry)
    for entries in found.values():
        entries.sort(key=lambda e: e[0])
    return found


def _last_touch(row: Row, found: dict[tuple[str, str, Any], list[tuple[Any, Credit]]]) -> Credit | None:
    product = str(row.product)
    earliest = row.timestamp - window()
    best: tuple[Any, Credit] | None = None
    for kind, ident in (("u", row.user), ("r", row.shopper_ref), ("s", row.session_key)):
        if not ident:
            continue
        for entry in found.get((product, kind, ident), ()):
            when = entry[0][0]
            if earliest <= when <= row.timestamp and (best is None or entry[0] > best[0]):
                best = entry
    return best[1] if best is not None else None


def _sales(rows: Sequence[Row]) -> dict[tuple[str, str], Credit]:
    """The credited purchases the refunds take back, by (order, product)."""
    orders = sorted({r.order_ref for r in rows})
    out: dict[tuple[str, str], Credit] = {}
    for start in range(0, len(orders), _CHUNK):
        qs = (
            Event.objects.filter(event_type=EventType.PURCHASE, order_ref__in=orders[start : start + _CHUNK])
            .exclude(bundle_id="")
            .order_by("timestamp", "pk")
            .values_list("order_ref", "product_id", "bundle_id", "served_by", "scorer", "arm_id", "segment")
        )
        for order, product, *credit in qs:
            out[(order, str(product))] = Credit(*credit)
    return out
