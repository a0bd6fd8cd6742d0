"""How the app sees a django-oscar shop: its catalogue, pricing strategy, stock and basket.

Prices and availability come from Oscar's pricing strategy (``Selector().strategy()``, the one
Oscar uses when there is no request), so bundles show what Oscar would charge and offer only
what its strategy lets a shopper buy. The catalog rebuild reads products through Oscar's own
``base_queryset()`` with categories prefetched: a few queries per 2,000 products.

Example (set automatically while ``cart_recommender.contrib.oscar`` is installed)::

    CART_RECOMMENDER = {"ADAPTER": "cart_recommender.contrib.oscar.adapter.OscarAdapter"}
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import strip_tags
from oscar.core.loading import get_class, get_model
from oscar.templatetags.currency_filters import currency

from cart_recommender.adapter import AddToCartForm, CartLine, DefaultShopAdapter, ProductDisplay

#: The view "Add all to cart" posts to (an Oscar basket takes one product per ``basket:add``).
ADD_MANY_URL = "cart_recommender:oscar-add-many"


@functools.cache
def _strategy() -> Any:
    """Oscar's default pricing strategy for processes without a request (one per process)."""
    return get_class("partner.strategy", "Selector")().strategy()


def category_full_names() -> dict[int, str]:
    """Every category's full name, from one query over the tree's materialised paths.

    ``Category.full_name`` asks the database for the ancestors of each category it is called
    on: once per product in a catalog rebuild.
    """
    Category = get_model("catalogue", "Category")
    rows = list(Category._default_manager.values_list("pk", "path", "name"))
    by_path = {path: name for _pk, path, name in rows}
    step, separator = Category.steplen, Category._full_name_separator
    return {
        pk: separator.join(by_path.get(path[: end], "") for end in range(step, len(path) + 1, step))
        for pk, path, _name in rows
    }


class OscarAdapter(DefaultShopAdapter):
    """Oscar's ``catalogue.Product``: standalone and child products are offered, parents never."""

    def product_queryset(self) -> models.QuerySet:
        return get_model("catalogue", "Product")._default_manager.all()

    def catalog_queryset(self) -> models.QuerySet:
        self._category_names = None  # a rebuild reads the category tree afresh, once
        return (
            self.product_queryset().base_queryset().prefetch_browsable_categories()
            .select_related("parent__product_class").prefetch_related("parent__categories")
        )

    def sellable_queryset(self) -> models.QuerySet:
        """Public, not a parent, with a stock record that has stock (or a class not tracking it).

        The SQL form of Oscar's default ``StockRequired`` availability, for the serving path's
        sellable check (one query); :meth:`is_sellable` asks the strategy itself.
        """
        available = Coalesce(F("stockrecords__num_in_stock"), Value(0)) - Coalesce(
            F("stockrecords__num_allocated"), Value(0)
        )
        untracked = Q(product_class__track_stock=False) | Q(parent__product_class__track_stock=False)
        return (
            self.product_queryset()
            .filter(is_public=True, stockrecords__isnull=False)
            .exclude(structure="parent")
            .annotate(cr_available=available)
            .filter(untracked | Q(cr_available__gt=0))
            .distinct()
        )

    def _info(self, product: models.Model) -> Any:
        return _strategy().fetch_for_product(product)

    def is_sellable(self, product: models.Model) -> bool:
        if not product.is_public or product.is_parent:
            return False
        return bool(self._info(product).availability.is_available_to_buy)

    def get_price(self, product: models.Model) -> Decimal | None:
        if product.is_parent:
            return None
        price = self._info(product).price
        if not price.exists:
            return None
        return price.incl_tax if price.is_tax_known else price.excl_tax

    def format_price(self, amount: Decimal | None, request: HttpRequest | None = None) -> str:
        return "" if amount is None else currency(amount)

    _category_names: dict[int, str] | None = None

    def get_category(self, product: models.Model) -> str | None:
        """The full name of the product's first category ("Kitchen > Mugs")."""
        for category in product.get_categories():
            names = self._category_names
            if names is None:
                names = self._category_names = category_full_names()
            return names.get(category.pk) or category.full_name
        return None

    def get_text(self, product: models.Model) -> str:
        """The product's title and description (Oscar's description is HTML: tags dropped)."""
        return f"{product.get_title()} {strip_tags(product.description or '')}".strip()

    def get_display(self, product: models.Model, request: HttpRequest | None = None) -> ProductDisplay:
        image = product.primary_image()
        original = image.get("original") if isinstance(image, dict) else image.original
        url = ""
        if original and not (isinstance(image, dict) and image.get("is_missing")):
            url = getattr(original, "url", "") or ""
        return ProductDisplay(name=product.get_title(), url=product.get_absolute_url(), image_url=url)

    def create_product(self, external_id: str, name: str, category: str | None, price: Decimal | None) -> Any:
        raise ValueError(
            "products of an Oscar shop are made in its dashboard; import the history with "
            "--skip-unknown-products, or learn from the shop's own orders with "
            "manage.py cart_recommender_oscar_orders"
        )

    def get_cart(self, request: HttpRequest) -> list[CartLine]:
        basket = getattr(request, "basket", None)
        if basket is None or not basket.id:
            return []
        return [CartLine(product_id=line.product_id, quantity=line.quantity) for line in basket.all_lines()]

    def get_add_to_cart_form(
        self, request: HttpRequest | None, products: Sequence[models.Model]
    ) -> AddToCartForm | None:
        fields = [("product", str(p.pk)) for p in products]
        if request is not None:
            fields.append(("next", request.get_full_path()))
        return AddToCartForm(action=reverse(ADD_MANY_URL), fields=fields)
