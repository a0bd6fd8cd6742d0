"""Turning a cart into an order: stock, order lines and the purchase events, all or nothing."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F
from django.http import HttpRequest

from cart_recommender.events.recording import record_event
from demo_shop.shop.cart import Cart, Line
from demo_shop.shop.models import Order, OrderLine, Product


class CheckoutError(Exception):
    """The cart cannot be ordered as it is (empty, or a product ran out or left the catalog)."""


def place_order(request: HttpRequest, cart: Cart, email: str) -> Order:
    """Create the order from the cart, take the stock, record one purchase event per line.

    Runs in one transaction: if any product is short of stock nothing is ordered, no stock is
    taken and no purchase is recorded. The cart is emptied only once the order exists.
    """
    lines: list[Line] = cart.lines()
    if not lines:
        raise CheckoutError("Your cart is empty.")
    user = request.user if request.user.is_authenticated else None
    if not request.session.session_key:
        request.session.save()
    with transaction.atomic():
        order = Order.objects.create(
            user=user,
            session_key=request.session.session_key or "",
            email=email,
            total=Cart.total_of(lines),
        )
        for line in lines:
            taken = Product.objects.filter(
                pk=line.product.pk, is_active=True, stock__gte=line.quantity
            ).update(stock=F("stock") - line.quantity)
            if not taken:
                raise CheckoutError(
                    f"Sorry, we do not have {line.quantity} of {line.product.display_name} in stock.")
            OrderLine.objects.create(
                order=order, product=line.product, quantity=line.quantity, unit_price=line.product.price
            )
            record_event(
                request, "purchase", line.product, quantity=line.quantity,
                unit_price=line.product.price, order_ref=order.number,
            )
    cart.clear()
    return order
