"""Counts straight from the Event table: the SQL fallbacks of the serving path.

They serve bundles while no trained model is active, and for products the active model has
never seen (a product added after the last training run). Product keys are ``str(pk)`` like
everywhere on the serving path; they are converted to the pk's own type for the SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Count

from cart_recommender.conf import get_product_model
from cart_recommender.models import Event

#: Events that say a shopper wanted a product, for popularity when purchases are scarce.
POPULARITY_EVENTS = ("purchase", "add_to_cart")


def _pk_values(keys: Sequence[str]) -> list[Any]:
    to_python = get_product_model()._meta.pk.to_python
    values = []
    for key in keys:
        try:
            values.append(to_python(key))
        except Exception:  # a key of the wrong type names no product
            continue
    return values


def popular_product_keys(limit: int = 500) -> list[str]:
    """Products by how often they were bought or added to a cart, most popular first."""
    rows = (
        Event.objects.filter(event_type__in=POPULARITY_EVENTS)
        .values("product_id")
        .annotate(n=Count("id"))
        .order_by("-n", "product_id")[:limit]
    )
    return [str(row["product_id"]) for row in rows]


@dataclass(frozen=True)
class CoPurchase:
    """``candidate`` was bought in ``orders`` orders that also held ``anchor`` (a cart item)."""

    candidate: str
    anchor: str
    orders: int


#: Purchase lines of the cart's products that the SQL co-purchase fallback reads, newest first.
#: A popular product can be in thousands of orders; without a bound the query's cost grows with
#: the shop's history (13 ms for a product in 925 orders of the demo's 100k events).
RECENT_PURCHASES = 500


def copurchases(
    cart_keys: Sequence[str], limit: int = 50, recent: int = RECENT_PURCHASES
) -> list[CoPurchase]:
    """Products bought together with the cart's products, strongest pair first.

    Counted over the orders of the ``recent`` latest purchases of the cart's products. One row
    per candidate, with the cart item it was most often bought with (for the "Often bought
    with ..." reason). Candidates already in the cart are left out.
    """
    pks = _pk_values(cart_keys)
    if not pks:
        return []
    table = connection.ops.quote_name(Event._meta.db_table)
    pk = connection.ops.quote_name(Event._meta.pk.column)
    marks = ", ".join(["%s"] * len(pks))
    # SQLite gathers no table statistics unless ANALYZE runs; without them its planner starts
    # the join from *every* purchase once the cart holds two items (100 ms on 100k events
    # instead of 0.3 ms). INDEXED BY names the indexes it must use there.
    hint = connection.vendor == "sqlite"
    by_product = " INDEXED BY cr_event_product" if hint else ""
    by_order = " INDEXED BY cr_event_order" if hint else ""
    sql = (
        f"SELECT b.product_id, a.product_id, COUNT(DISTINCT a.order_ref) AS n "
        f"FROM (SELECT order_ref, product_id FROM {table}{by_product} "
        f"WHERE event_type = 'purchase' AND order_ref <> '' AND product_id IN ({marks}) "
        f"ORDER BY timestamp DESC, {pk} DESC LIMIT %s) a "
        f"JOIN {table} b{by_order} ON b.order_ref = a.order_ref "
        f"WHERE b.event_type = 'purchase' AND b.product_id NOT IN ({marks}) "
        f"GROUP BY b.product_id, a.product_id ORDER BY n DESC, b.product_id LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*pks, recent, *pks, limit * 4])
        rows = cursor.fetchall()
    best: dict[str, CoPurchase] = {}
    for candidate, anchor, n in rows:
        key = str(candidate)
        if key not in best:
            best[key] = CoPurchase(key, str(anchor), int(n))
    return sorted(best.values(), key=lambda c: -c.orders)[:limit]
