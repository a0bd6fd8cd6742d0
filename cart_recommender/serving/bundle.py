"""What a bundle is: its items, prices and who chose it; the REST API's answer shape.

Example::

    bundle.items[0].reason     # "Often bought with Blue mug"
    bundle.to_dict()           # JSON-ready, decimals as strings
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class BundleItem:
    """One product of a bundle, with why it is there."""

    product_id: str
    external_id: str
    name: str
    url: str
    image_url: str
    price: Decimal | None
    category: str | None
    score: float
    reason: str
    source: str

    def _typed(self) -> BundleItem:
        """This item with the types JSON could not carry (the price) restored."""
        price = None if self.price is None else Decimal(self.price)
        return replace(self, price=price, score=float(self.score))


@dataclass(frozen=True)
class Bundle:
    """A set of products that completes a cart, its price, and who chose it.

    ``model_version`` is the serving version's id as a string, or ``"baseline"`` when no
    trained model served (the SQL fallbacks did). ``bundle_id`` is new for every rendering
    (see :mod:`cart_recommender.performance.tags`): the events it shows up on credit this
    bundle. ``arm`` names the A/B test arm the shopper is in ("" outside a test).
    """

    items: tuple[BundleItem, ...]
    total: Decimal
    discount_percent: Decimal
    discount: Decimal
    total_after_discount: Decimal
    cart_total: Decimal
    free_shipping_threshold: Decimal | None
    reaches_free_shipping: bool
    model_version: str
    method: str
    bundle_id: str = field(default="", compare=False)  # two renderings of one bundle are equal
    arm: str = ""
    arm_id: int | None = None

    def __len__(self) -> int:
        return len(self.items)

    @property
    def product_ids(self) -> list[str]:
        return [item.product_id for item in self.items]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (decimals as strings), the REST API's answer."""

        def money(value: Decimal | None) -> str | None:
            return None if value is None else str(value)

        return {
            "items": [
                {
                    "id": i.external_id,
                    "name": i.name,
                    "url": i.url,
                    "image_url": i.image_url,
                    "price": money(i.price),
                    "category": i.category,
                    "score": round(i.score, 6),
                    "reason": i.reason,
                    "source": i.source,
                }
                for i in self.items
            ],
            "total": money(self.total),
            "discount_percent": money(self.discount_percent),
            "discount": money(self.discount),
            "total_after_discount": money(self.total_after_discount),
            "cart_total": money(self.cart_total),
            "free_shipping_threshold": money(self.free_shipping_threshold),
            "reaches_free_shipping": self.reaches_free_shipping,
            "model_version": self.model_version,
            "method": self.method,
            "bundle_id": self.bundle_id,
            "experiment_arm": self.arm or None,
        }


    def to_json(self) -> str:
        """The whole bundle as JSON text: what the cache stores (see :mod:`.cache`)."""
        values = {name: getattr(self, name) for name in _BUNDLE_FIELDS}
        values["items"] = [[getattr(item, name) for name in _ITEM_FIELDS] for item in self.items]
        return json.dumps(values, default=str, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: Any) -> Bundle | None:
        """The bundle :meth:`to_json` wrote, or None for anything else (a stale or foreign value)."""
        if not isinstance(text, str):
            return None
        try:
            raw = json.loads(text)
            items = tuple(
                BundleItem(**dict(zip(_ITEM_FIELDS, row, strict=True)))._typed() for row in raw["items"]
            )
            values = {name: raw[name] for name in _BUNDLE_FIELDS if name != "items"}
            for name in _MONEY:
                if values[name] is not None:
                    values[name] = Decimal(values[name])
            return cls(items=items, **values)
        except (ValueError, TypeError, KeyError, ArithmeticError):
            return None


_ITEM_FIELDS = tuple(f.name for f in fields(BundleItem))
_BUNDLE_FIELDS = tuple(f.name for f in fields(Bundle))
_MONEY = ("total", "discount_percent", "discount", "total_after_discount", "cart_total",
          "free_shipping_threshold")


class BundleError(ValueError):
    """The request cannot be answered as asked (bad size, too many items)."""
