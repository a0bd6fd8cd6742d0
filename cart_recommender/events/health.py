"""Is there enough behaviour data, and what does it look like? Queries for the data screen.

Every query runs in the database (aggregates, one self-join for co-purchased pairs), never by
loading events into Python, so the admin's data overview stays quick on millions of events.
A window (``since``/``until``) bounds each query. (The serving path's SQL fallbacks live in
:mod:`cart_recommender.serving.fallbacks`.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Count, Max, Min, Q, QuerySet
from django.db.models.functions import TruncDate

from cart_recommender.models import Event, EventType

# Below these numbers a retrained model is unlikely to beat simple co-purchase counts, or its
# holdout numbers are too noisy to compare versions. Shown on the data screen and in docs/admin.md.
DATA_MINIMUMS: dict[str, tuple[int, str]] = {
    "multi_item_orders": (
        500,
        "orders with at least two different products: each one teaches what completes a cart, "
        "and with a fifth held out for evaluation about 100 test baskets remain, so HR@10 is "
        "known to within about +/-8 points",
    ),
    "repeat_products": (
        30,
        "products bought in at least 5 different orders: the model only learns companions for "
        "products it has seen several times, and with fewer a bundle is mostly the best sellers",
    ),
    "days": (
        14,
        "days between the first and the last event: the holdout is the most recent part of the "
        "data, and two weeks cover weekly buying cycles",
    ),
    "returning_shoppers": (
        50,
        "identified shoppers with at least two orders: below this the shopper's own history "
        "(the 'personal' signal) barely helps; bundles still work from the cart alone",
    ),
}


@dataclass(frozen=True)
class Thinness:
    """One minimum the data falls short of."""

    key: str
    have: int
    need: int
    why: str


def events_in(since: datetime | None = None, until: datetime | None = None) -> QuerySet:
    qs = Event.objects.all()
    if since is not None:
        qs = qs.filter(timestamp__gte=since)
    if until is not None:
        qs = qs.filter(timestamp__lte=until)
    return qs


def time_span() -> tuple[datetime | None, datetime | None]:
    """The first and last event's timestamps (None, None when there are no events).

    One query per event type, so each is answered from the (event_type, timestamp) index
    instead of a scan of the whole table.
    """
    firsts, lasts = [], []
    for event_type in EventType.values:
        agg = Event.objects.filter(event_type=event_type).aggregate(
            first=Min("timestamp"), last=Max("timestamp"))
        if agg["first"] is not None:
            firsts.append(agg["first"])
            lasts.append(agg["last"])
    return (min(firsts), max(lasts)) if firsts else (None, None)


def events_per_type_per_day(
    since: datetime | None = None, until: datetime | None = None
) -> tuple[list[date], dict[str, list[int]]]:
    """Every day of the window (gaps filled with zeros) and the event count per type and day."""
    rows = (
        events_in(since, until)
        .annotate(day=TruncDate("timestamp"))
        .values("day", "event_type")
        .annotate(n=Count("id"))
        .order_by("day")
    )
    found: dict[tuple[date, str], int] = {}
    for row in rows:
        found[(row["day"], row["event_type"])] = row["n"]
    if not found:
        return [], {}
    first = min(d for d, _ in found)
    last = max(d for d, _ in found)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    present = {t for _, t in found}
    per_type = {t: [found.get((d, t), 0) for d in days] for t in EventType.values if t in present}
    return days, per_type


def totals(since: datetime | None = None, until: datetime | None = None) -> dict[str, int]:
    """Events, shoppers (users, shop references and anonymous sessions), orders and products."""
    qs = events_in(since, until)
    agg = qs.aggregate(
        events=Count("id"),
        # a user linked to a shop id (the adapter's get_shopper_ref) counts as that id
        users=Count("user", distinct=True, filter=Q(shopper_ref="")),
        refs=Count("shopper_ref", distinct=True, filter=~Q(shopper_ref="")),
        sessions=Count("session_key", distinct=True,
                       filter=Q(user__isnull=True, shopper_ref="") & ~Q(session_key="")),
        products=Count("product", distinct=True),
    )
    orders = (qs.filter(event_type=EventType.PURCHASE).exclude(order_ref="")
              .aggregate(n=Count("order_ref", distinct=True))["n"])
    return {
        "events": agg["events"],
        "shoppers": agg["users"] + agg["refs"] + agg["sessions"],
        "orders": orders,
        "products": agg["products"],
    }


def basket_facts(since: datetime | None = None, until: datetime | None = None) -> dict[str, int]:
    """Multi-item orders, products bought in 5+ orders and returning shoppers in the window."""
    purchases = events_in(since, until).filter(event_type=EventType.PURCHASE).exclude(order_ref="")
    multi = (purchases.values("order_ref").annotate(k=Count("product", distinct=True))
             .filter(k__gte=2).count())
    repeat_products = (purchases.values("product").annotate(k=Count("order_ref", distinct=True))
                       .filter(k__gte=5).count())
    by_user = (purchases.filter(user__isnull=False, shopper_ref="").values("user")
               .annotate(k=Count("order_ref", distinct=True)).filter(k__gte=2).count())
    by_ref = (purchases.exclude(shopper_ref="").values("shopper_ref")  # linked users' too
              .annotate(k=Count("order_ref", distinct=True)).filter(k__gte=2).count())
    return {"multi_item_orders": multi, "repeat_products": repeat_products,
            "returning_shoppers": by_user + by_ref}


@dataclass(frozen=True)
class CoPurchasedPairs:
    """The most co-purchased pairs ``(pk_a, pk_b, orders)``; ``exact`` says whether looking only
    at the ``among`` most-bought products can have missed a pair that belongs in the list."""

    pairs: list[tuple[Any, Any, int]]
    among: int
    exact: bool


def top_copurchased_pairs(
    limit: int = 15, since: datetime | None = None, until: datetime | None = None, among: int = 100
) -> CoPurchasedPairs:
    """The product pairs bought together in the most orders, in SQL.

    Counting every pair of a large shop is expensive (the Online Retail data has 28 million
    pairs in 20,000 orders), so only pairs among the ``among`` products bought in the most
    orders are counted. A pair is never bought in more orders than either of its products, so
    the list is exact when its last count is at least the order count of the first product left
    out; ``exact`` reports that check.
    """
    purchases = events_in(since, until).filter(event_type=EventType.PURCHASE).exclude(order_ref="")
    ranked = list(
        purchases.values("product").annotate(c=Count("order_ref", distinct=True))
        .order_by("-c", "product").values_list("product", "c")[: among + 1]
    )
    top = [pk for pk, _c in ranked[:among]]
    next_count = ranked[among][1] if len(ranked) > among else None
    if len(top) < 2:
        return CoPurchasedPairs([], among, True)
    q = connection.ops.quote_name
    table = q(Event._meta.db_table)
    product, ts = q(Event._meta.get_field("product").column), q("timestamp")
    where = ["event_type = %s", "order_ref <> ''", f"{product} IN ({', '.join(['%s'] * len(top))})"]
    params: list[Any] = [EventType.PURCHASE, *top]
    for bound, op in ((since, ">="), (until, "<=")):
        if bound is not None:
            where.append(f"{ts} {op} %s")
            params.append(bound)
    sql = (
        f"WITH p AS (SELECT DISTINCT order_ref, {product} AS item FROM {table} "
        f"WHERE {' AND '.join(where)}) "
        "SELECT a.item, b.item, COUNT(*) AS n FROM p a JOIN p b "
        "ON a.order_ref = b.order_ref AND a.item < b.item "
        "GROUP BY a.item, b.item ORDER BY n DESC, a.item, b.item LIMIT %s"
    )
    params.append(int(limit))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        pairs = [(a, b, int(n)) for a, b, n in cursor.fetchall()]
    exact = next_count is None or (len(pairs) == limit and pairs[-1][2] >= next_count)
    return CoPurchasedPairs(pairs, among, exact)


def thin_data(facts: dict[str, int], days: int) -> list[Thinness]:
    """The minimums of :data:`DATA_MINIMUMS` that the data falls short of."""
    have = {**facts, "days": days}
    return [Thinness(key, have.get(key, 0), need, why)
            for key, (need, why) in DATA_MINIMUMS.items() if have.get(key, 0) < need]
