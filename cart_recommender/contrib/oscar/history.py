"""The orders an Oscar shop already has, as purchase events: a first model from day one.

Every line of every placed order (with a product still in the catalogue) becomes a purchase of
the order's customer (``Event.user``; guest orders have none), timed when the order was placed.
Each line gets the key the checkout receiver gives it (:func:`.receivers.line_key`), so loading
the orders again, or an order placed meanwhile through the checkout, is stored once.

Example::

    report = load_orders()          # also: manage.py cart_recommender_oscar_orders
    report.stored, report.duplicates
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from oscar.core.loading import get_model

from cart_recommender.contrib.oscar.receivers import line_key
from cart_recommender.events.row_writer import EventRecord, EventRowWriter
from cart_recommender.events.writer import stored_keys
from cart_recommender.models import EventSource

BATCH = 5000


@dataclass
class OrdersReport:
    lines: int = 0
    stored: int = 0
    duplicates: int = 0
    without_product: int = 0


def load_orders(since: datetime | None = None, progress: Callable[[int], None] | None = None) -> OrdersReport:
    """Store the purchase events of the shop's order lines (placed at or after ``since``)."""
    Line = get_model("order", "Line")
    lines = Line._default_manager.select_related("order").order_by("pk")
    if since is not None:
        lines = lines.filter(order__date_placed__gte=since)
    report = OrdersReport()
    writer = EventRowWriter()
    batch: list[EventRecord] = []

    def flush() -> None:
        taken = stored_keys(r.idempotency_key for r in batch)
        fresh = [r for r in batch if r.idempotency_key not in taken]
        with transaction.atomic():
            writer.insert(fresh)
        report.stored += len(fresh)
        report.duplicates += len(batch) - len(fresh)
        batch.clear()
        if progress is not None:
            progress(report.lines)

    for line in lines.iterator(chunk_size=BATCH):
        report.lines += 1
        if line.product_id is None:
            report.without_product += 1
            continue
        order = line.order
        batch.append(EventRecord(
            event_type="purchase", product=line.product_id, user=order.user_id, shopper_ref="",
            session_key="", order_ref=order.number, quantity=max(line.quantity, 1),
            unit_price=line.unit_price_incl_tax, timestamp=order.date_placed,
            source=EventSource.IMPORT.value, idempotency_key=line_key(order, line),
        ))
        if len(batch) >= BATCH:
            flush()
    if batch:
        flush()
    if report.stored:
        writer.refresh_statistics()
    return report
