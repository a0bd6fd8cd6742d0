"""The cart as the serving path sees it: product keys (``str(pk)``) and their quantities.

A cart arrives in many shapes: the adapter's :class:`~cart_recommender.adapter.CartLine`
objects, a shop's own cart lines (anything with ``.product`` and ``.quantity``), product
instances, primary keys, or the REST API's resolved ids. It is turned into a :class:`Cart` once,
at the boundary (the API view, the template tag, :func:`~cart_recommender.serving.bundles.get_bundle`),
and keeps that one shape down to scoring.

Example::

    cart = Cart.of([CartLine(12, 2), product, "7"])
    cart.keys()          # ["12", "31", "7"] in the order first seen
    cart["12"]           # 2
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from cart_recommender.adapter import CartLine

#: Most units of one product a cart line may hold; more are counted as this many (a bundle's
#: totals stay exact decimals, and no shop sells a million of one thing to one shopper).
MAX_QUANTITY = 1_000_000


class Cart(Mapping[str, int]):
    """An immutable ``{product key: quantity}``, in the order the products were first added."""

    __slots__ = ("_quantities",)

    def __init__(self, quantities: Mapping[str, int] | None = None) -> None:
        self._quantities: dict[str, int] = {}
        for key, quantity in (quantities or {}).items():
            total = self._quantities.get(str(key), 0) + max(int(quantity), 1)
            self._quantities[str(key)] = min(total, MAX_QUANTITY)

    @classmethod
    def of(cls, entries: Cart | Iterable[Any]) -> Cart:
        """A cart from any of the shapes the module docstring lists (a Cart is returned as is)."""
        if isinstance(entries, Cart):
            return entries
        quantities: dict[str, int] = {}
        for entry in entries:
            if isinstance(entry, CartLine):
                key, quantity = str(entry.product_id), entry.quantity
            elif hasattr(entry, "_meta") and hasattr(entry, "pk"):  # a product instance
                key, quantity = str(entry.pk), 1
            elif hasattr(entry, "product") and hasattr(entry, "quantity"):  # a shop's cart line
                product = entry.product
                key, quantity = str(getattr(product, "pk", product)), entry.quantity
            else:
                key, quantity = str(entry), 1
            quantities[key] = quantities.get(key, 0) + max(int(quantity), 1)
        return cls(quantities)

    def merged(self, other: Cart) -> Cart:
        """This cart with ``other``'s products added (quantities of shared products summed)."""
        quantities = dict(self._quantities)
        for key, quantity in other.items():
            quantities[key] = quantities.get(key, 0) + quantity
        return Cart(quantities)

    def __getitem__(self, key: str) -> int:
        return self._quantities[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._quantities)

    def __len__(self) -> int:
        return len(self._quantities)

    def __repr__(self) -> str:
        return f"Cart({self._quantities!r})"
