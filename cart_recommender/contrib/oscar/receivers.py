"""Oscar's own signals recorded as behaviour: product views, basket additions, placed orders.

A receiver never breaks the shop's page: an error is logged and the page goes on. Purchases
come from ``post_checkout`` (it carries the request, so a guest's order joins their session's
history), one event per order line with the key ``oscar:<order number>:<line id>``: the same
key :mod:`.history` gives the line when past orders are loaded, so no line counts twice.
Oscar sends no signal when a line is removed from the basket; removals are not recorded.
"""

from __future__ import annotations

import logging
from typing import Any

from oscar.apps.basket.signals import basket_addition
from oscar.apps.catalogue.signals import product_viewed
from oscar.apps.checkout.signals import post_checkout

from cart_recommender.events.recording import record_event
from cart_recommender.serving.cart import MAX_QUANTITY

logger = logging.getLogger(__name__)


def connect() -> None:
    product_viewed.connect(on_product_viewed, dispatch_uid="cart_recommender_oscar_view")
    basket_addition.connect(on_basket_addition, dispatch_uid="cart_recommender_oscar_basket")
    post_checkout.connect(on_checkout, dispatch_uid="cart_recommender_oscar_checkout")


def line_key(order: Any, line: Any) -> str:
    """The idempotency key of an order line's purchase event."""
    return f"oscar:{order.number}:{line.pk}"


def on_product_viewed(sender: Any, product: Any, request: Any = None, **kwargs: Any) -> None:
    try:
        record_event(request, "view", product)
    except Exception:  # noqa: BLE001  (the product page must render whatever happens here)
        logger.exception("cart_recommender: could not record the view of product %s", product.pk)


def on_basket_addition(sender: Any, product: Any, request: Any = None, **kwargs: Any) -> None:
    try:
        quantity = int(request.POST.get("quantity") or 1) if request is not None else 1
    except (TypeError, ValueError, AttributeError):
        quantity = 1
    try:
        record_event(request, "add_to_cart", product, quantity=min(max(quantity, 1), MAX_QUANTITY))
    except Exception:  # noqa: BLE001
        logger.exception("cart_recommender: could not record the basket addition of product %s", product.pk)


def on_checkout(sender: Any, order: Any, request: Any = None, **kwargs: Any) -> None:
    try:
        for line in order.lines.select_related("product"):
            if line.product is None:  # a product deleted since the order was placed
                continue
            record_event(
                request, "purchase", line.product, quantity=max(line.quantity, 1),
                unit_price=line.unit_price_incl_tax, order_ref=order.number,
                idempotency_key=line_key(order, line), timestamp=order.date_placed,
            )
    except Exception:  # noqa: BLE001  (the order is placed: never fail its thank-you page)
        logger.exception("cart_recommender: could not record the lines of order %s", order.number)
