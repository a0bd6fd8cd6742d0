"""Merchants' bundle rules: always offer a companion with a product, or never offer it; for every
shopper, or for one segment's only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy

from cart_recommender.adapter import get_adapter
from cart_recommender.conf import app_settings, get_product_model
from cart_recommender.models import BundleRule


class BundleRuleAdmin(admin.ModelAdmin):
    """Products are picked with the shop's own product autocomplete when its admin has one
    (registered with ``search_fields``), else by id with the raw-id lookup: a shop with a
    hundred thousand products must never render them all in a select box."""

    list_display = ("product_name", "kind", "companion_name", "segment", "created_at")
    list_filter = ("kind", "segment")
    list_select_related = ("product", "companion", "segment")
    raw_id_fields = ("product", "companion")
    fields = ("product", "kind", "companion", "segment")

    def get_autocomplete_fields(self, request: HttpRequest) -> tuple[str, ...]:
        product_admin = self.admin_site._registry.get(get_product_model())
        if product_admin is not None and product_admin.get_search_fields(request):
            return ("product", "companion")
        return ()

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        name = app_settings.PRODUCT_FIELDS.get("name")
        return [f"product__{name}", f"companion__{name}"] if name else []

    @admin.display(description=gettext_lazy("when the cart holds"), ordering="product")
    def product_name(self, obj: BundleRule) -> str:
        return get_adapter().get_display(obj.product).name

    @admin.display(description=gettext_lazy("companion"), ordering="companion")
    def companion_name(self, obj: BundleRule) -> Any:
        return get_adapter().get_display(obj.companion).name
