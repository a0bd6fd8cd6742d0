"""The shop adapter: every shop-specific question the app asks goes through one class.

A shop subclasses :class:`DefaultShopAdapter`, overrides what differs and points
``CART_RECOMMENDER["ADAPTER"]`` at it. Only the adapter knows how the shop models prices,
stock, carts and its add-to-cart endpoint, so the app drops into shops it has never seen.

Example::

    class ShopAdapter(DefaultShopAdapter):
        def get_cart(self, request):
            cart = request.session.get("cart", {})
            return [CartLine(product_id=pk, quantity=q) for pk, q in cart.items()]
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import models
from django.http import HttpRequest

from cart_recommender.conf import app_settings, get_product_model
from cart_recommender.ml.csvformat import text_problem


@dataclass(frozen=True)
class CartLine:
    """One line of a shopper's cart: the product's primary key and how many."""

    product_id: Any
    quantity: int = 1


@dataclass(frozen=True)
class ProductDisplay:
    """What a bundle shows of a product."""

    name: str
    url: str = ""
    image_url: str = ""


@dataclass(frozen=True)
class AddToCartForm:
    """An HTML form that adds products to the shop's cart without JavaScript.

    ``fields`` are ``(name, value)`` pairs rendered as hidden inputs; repeat a name to send
    several products.
    """

    action: str
    method: str = "post"
    fields: list[tuple[str, str]] = field(default_factory=list)


class DefaultShopAdapter:
    """Works for a product model with the fields named in ``PRODUCT_FIELDS``."""

    # -- products ---------------------------------------------------------------------------
    def _field(self, key: str) -> str | None:
        return app_settings.PRODUCT_FIELDS.get(key)

    def product_queryset(self) -> models.QuerySet:
        """All products the app may reason about (sellable or not)."""
        return get_product_model()._default_manager.all()

    def catalog_queryset(self) -> models.QuerySet:
        """The products as a catalog rebuild reads them when the adapter has its own readers.

        Override to ``select_related``/``prefetch_related`` what your ``get_price``,
        ``get_category`` and ``is_sellable`` read (stock records, categories), so that
        rebuilding the in-process catalog costs a few queries per 2,000 products instead of
        several per product.
        """
        return self.product_queryset()

    def sellable_queryset(self) -> models.QuerySet:
        """Products that may be offered now; filtered in SQL where the fields allow it."""
        qs = self.product_queryset()
        active = self._field("active")
        if active:
            qs = qs.filter(**{active: True})
        stock = self._field("stock")
        if stock:
            qs = qs.filter(**{f"{stock}__gt": 0})
        return qs

    def is_sellable(self, product: models.Model) -> bool:
        active = self._field("active")
        if active and not getattr(product, active):
            return False
        stock = self._field("stock")
        if stock and (getattr(product, stock) or 0) <= 0:
            return False
        return True

    def get_price(self, product: models.Model) -> Decimal | None:
        name = self._field("price")
        if not name:
            return None
        value = getattr(product, name, None)
        if value is None:
            return None
        try:
            return Decimal(str(value))
        except InvalidOperation:
            return None

    def format_price(self, amount: Decimal | None, request: HttpRequest | None = None) -> str:
        """A price as the shop shows it (the bundle template prints this); "" when unknown.

        Override for the shop's currency (``"£4.95"``); the REST API keeps the plain number.
        """
        return "" if amount is None else str(amount)

    def get_category(self, product: models.Model) -> str | None:
        name = self._field("category")
        if not name:
            return None
        value = getattr(product, name, None)
        return str(value) if value not in (None, "") else None

    def get_text(self, product: models.Model) -> str:
        """The words the model reads about a product: its name, then its description where
        ``PRODUCT_FIELDS["description"]`` names a field.

        Override to add what your shop knows (brand, range, tags): the more a new product's
        words say, the better it is placed before anyone has bought it.
        """
        name_field = self._field("name")
        parts = [str(getattr(product, name_field, "") or "") if name_field else str(product)]
        description = self._field("description")
        if description:
            parts.append(str(getattr(product, description, "") or ""))
        return " ".join(part for part in parts if part)

    def get_display(self, product: models.Model, request: HttpRequest | None = None) -> ProductDisplay:
        name_field = self._field("name")
        name = str(getattr(product, name_field)) if name_field else str(product)
        url = product.get_absolute_url() if hasattr(product, "get_absolute_url") else ""
        image_field = self._field("image")
        image = getattr(product, image_field, "") if image_field else ""
        if hasattr(image, "url"):
            image = image.url if image else ""
        return ProductDisplay(name=name, url=url, image_url=str(image or ""))

    def get_external_id(self, product: models.Model) -> str:
        """The product id used in CSV files and the REST API."""
        return str(getattr(product, self._field("external_id") or "pk"))

    def get_products_by_external_ids(self, ids: Iterable[str]) -> dict[str, models.Model]:
        """Map external ids to products; unknown ids are simply missing from the result."""
        key = self._field("external_id") or "pk"
        # text no database can hold (NUL, lone surrogates) names no product: never query it
        wanted = [i for i in dict.fromkeys(str(i) for i in ids) if text_problem(i) is None]
        found: dict[str, models.Model] = {}
        qs = self.product_queryset()
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            try:
                rows = qs.filter(**{f"{key}__in": chunk})
                for product in rows:
                    found[str(getattr(product, key))] = product
            except (ValueError, TypeError):
                # ids of the wrong type for the key column (say "abc" for an integer pk)
                for one in chunk:
                    try:
                        product = qs.filter(**{key: one}).first()
                    except (ValueError, TypeError):
                        continue
                    if product is not None:
                        found[one] = product
        return found

    def create_product(
        self, external_id: str, name: str, category: str | None, price: Decimal | None
    ) -> models.Model:
        """Create a product from an imported row (``cart_recommender_import --create-products``)."""
        model = get_product_model()
        values: dict[str, Any] = {}
        key = self._field("external_id") or "pk"
        values["pk" if key == "pk" else key] = external_id
        if self._field("name"):
            values[self._field("name")] = name or external_id
        if self._field("price") and price is not None:
            values[self._field("price")] = price
        if self._field("category") and category:
            values[self._field("category")] = category
        return model._default_manager.create(**values)

    # -- who the shopper is --------------------------------------------------------------------
    def get_shopper_ref(self, user: Any) -> str:
        """The id a logged-in ``user`` has in events you import or send (their ``user_id``).

        History imported with ``cart_recommender_import`` or sent to the ingest API names its
        shoppers by the shop's own customer ids, which the app cannot tie to Django users on its
        own. Return that id here and a user's imported orders become their history: their
        bundles and the next model's training see them as one shopper. Live events of the user
        then carry the id too. The default links nobody (``""``): two systems may number their
        customers differently, and a wrong link would show one customer another's history.

        Example, for a shop that exported its Django user ids::

            def get_shopper_ref(self, user):
                return str(user.pk)
        """
        return ""

    def has_tracking_consent(self, request: HttpRequest) -> bool:
        """Whether the visitor of ``request`` agreed to have their behaviour recorded.

        The default says yes: consent is the shop's to ask (its cookie banner, its account
        settings), and the app cannot know it. With False, nothing personal is stored for the
        request: the beacon stores nothing (and sets no session cookie), ``record_event`` and
        bundle impressions are stored without the user, session or shop customer id (a
        purchase's order reference replaced by a keyed hash, so a basket still counts as one),
        and bundles are computed without the visitor's history. ``request`` may be a Django
        request or DRF's (which passes ``COOKIES``, ``session`` and ``user`` through).

        Example, for a banner that sets a cookie::

            def has_tracking_consent(self, request):
                return request.COOKIES.get("consent_analytics") == "yes"
        """
        return True

    # -- the shopper's cart and the shop's cart endpoint -------------------------------------
    def get_cart(self, request: HttpRequest) -> list[CartLine]:
        """The cart of the current request. The default knows no cart: override it."""
        return []

    def get_add_to_cart_form(
        self, request: HttpRequest | None, products: Sequence[models.Model]
    ) -> AddToCartForm | None:
        """A form posting ``products`` to the shop's add-to-cart endpoint; None hides the button."""
        return None


@functools.cache
def get_adapter() -> DefaultShopAdapter:
    """The configured adapter instance (cached; cleared when settings change)."""
    return app_settings.import_from("ADAPTER")()
