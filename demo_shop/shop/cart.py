"""The session cart: ``request.session["cart"] = {str(product_pk): quantity}``.

The layout is fixed because ``demo_shop.shop.adapter.ShopAdapter`` reads it to tell
cart_recommender what the shopper has in the cart. Every change goes through :class:`Cart`,
which also records the matching behaviour event, so a view cannot change the cart and forget
to tell the recommender.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.http import HttpRequest

from cart_recommender.events.recording import record_event
from demo_shop.shop.adapter import CART_SESSION_KEY
from demo_shop.shop.models import Product

MAX_QUANTITY = 999


@dataclass(frozen=True)
class Line:
    product: Product
    quantity: int

    @property
    def total(self) -> Decimal:
        return self.product.price * self.quantity


class Cart:
    """The current shopper's cart, stored in the session."""

    def __init__(self, request: HttpRequest) -> None:
        self.request = request
        self.session = request.session

    @property
    def _items(self) -> dict[str, int]:
        return self.session.get(CART_SESSION_KEY, {})

    def _save(self, items: dict[str, int]) -> None:
        self.session[CART_SESSION_KEY] = items
        self.session.modified = True

    def quantity_of(self, product: Product) -> int:
        return int(self._items.get(str(product.pk), 0))

    def add(self, product: Product, quantity: int = 1) -> int:
        """Add ``quantity`` (capped so a line never exceeds MAX_QUANTITY); returns how many were added."""
        items = dict(self._items)
        current = int(items.get(str(product.pk), 0))
        added = max(0, min(quantity, MAX_QUANTITY - current))
        if added:
            items[str(product.pk)] = current + added
            self._save(items)
            record_event(self.request, "add_to_cart", product, quantity=added, unit_price=product.price)
        return added

    def set_quantity(self, product: Product, quantity: int) -> None:
        """Change a line to ``quantity``; the difference is recorded as an add or a removal."""
        quantity = max(0, min(quantity, MAX_QUANTITY))
        current = self.quantity_of(product)
        if quantity > current:
            self.add(product, quantity - current)
        elif quantity < current:
            self._take(product, current - quantity)

    def remove(self, product: Product) -> int:
        """Remove the whole line; returns how many were removed."""
        current = self.quantity_of(product)
        if current:
            self._take(product, current)
        return current

    def _take(self, product: Product, quantity: int) -> None:
        items = dict(self._items)
        left = int(items.get(str(product.pk), 0)) - quantity
        if left > 0:
            items[str(product.pk)] = left
        else:
            items.pop(str(product.pk), None)
        self._save(items)
        record_event(self.request, "remove_from_cart", product, quantity=quantity, unit_price=product.price)

    def clear(self) -> None:
        """Empty the cart without recording removals (used after checkout: the items were bought)."""
        self._save({})

    def lines(self) -> list[Line]:
        """The cart's lines in the order they were added; products gone from the catalog are dropped."""
        items = self._items
        products = Product.objects.in_bulk([int(pk) for pk in items if pk.isdigit()])
        lines = [
            Line(products[int(pk)], int(qty))
            for pk, qty in items.items()
            if pk.isdigit() and int(pk) in products and int(qty) > 0
        ]
        if len(lines) != len(items):
            self._save({str(line.product.pk): line.quantity for line in lines})
        return lines

    def __iter__(self) -> Iterator[Line]:
        return iter(self.lines())

    def __len__(self) -> int:
        return sum(int(q) for q in self._items.values())

    @staticmethod
    def total_of(lines: list[Line]) -> Decimal:
        return sum((line.total for line in lines), Decimal("0.00"))
