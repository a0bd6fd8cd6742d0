"""Bundle endpoints: a bundle for a cart, for the requester's own cart, and for one product.

``GET  bundles/?items=A,B&size=3``   a cart given as ids (``items`` may also repeat)
``POST bundles/``                     ``{"items": [{"id": "A", "quantity": 2}, "B"], "size": 3}``
``GET  bundles/my-cart/``             the requester's own cart, read through the shop adapter
``GET  products/<id>/bought-together/``  "frequently bought together" for one product

Anyone may call them: a shopper only ever describes a cart explicitly or asks about the cart
of their own session. The personal signal (earlier purchases) is read for the requester's own
user or session only; no parameter names another shopper. Every malformed request gets a 400
with a message that says what to fix.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiParameter
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from cart_recommender import shoppers
from cart_recommender.adapter import get_adapter
from cart_recommender.api.base import AppAPIView
from cart_recommender.api.bundle_serializers import BundleSerializer
from cart_recommender.api.inputs import (
    BadInput,
    bounded_int,
    clean_id,
    id_problem,
    shown,
)
from cart_recommender.api.schema import (
    COMMON_ERRORS,
    DETAIL,
    QUERY_ID,
    VALIDATION_ERROR,
    cart_request,
    describe,
    size_schema,
)
from cart_recommender.conf import app_settings
from cart_recommender.serving.bundle import BundleError
from cart_recommender.serving.bundles import get_bundle
from cart_recommender.serving.cart import MAX_QUANTITY, Cart
from cart_recommender.serving.catalog import lookup_external_ids

SIZE_PARAM = OpenApiParameter("size", size_schema())
#: What every bundle endpoint may answer besides a bundle.
ERRORS = {400: VALIDATION_ERROR, 404: DETAIL, **COMMON_ERRORS}


def _size(raw: Any, given: bool, text: bool = True) -> int | None:
    """The bundle size asked for, None when not given; ``?size=`` and ``null`` are refused.

    ``text``: a query parameter (digits); a JSON body gives a number.
    """
    if not given:
        return None
    try:
        return bounded_int(raw, "size", 1, app_settings.MAX_BUNDLE_SIZE, text=text)
    except BadInput as exc:
        raise ValidationError({"size": [f"{exc}."]}) from None


def _resolve(quantities: dict[str, int]) -> Cart:
    """External ids -> the cart of catalog keys; any unknown id is a 404 naming it.

    404, as for a product page: the request is well formed, but names a product the shop does
    not have (a schema cannot say which ids exist).
    """
    if len(quantities) > app_settings.MAX_CART_ITEMS:
        raise ValidationError(
            {
                "items": [
                    f"A cart may hold at most {app_settings.MAX_CART_ITEMS} different items, "
                    f"not {len(quantities)}."
                ]
            }
        )
    found, unknown = lookup_external_ids(quantities)
    if unknown:
        listed = ", ".join(sorted(unknown)[:10]) + (" ..." if len(unknown) > 10 else "")
        raise NotFound(f"Unknown item id(s): {listed}.")
    return Cart({found[ext]: qty for ext, qty in quantities.items()})


def _bundle_response(
    request: Request, cart: Cart, size: int | None, personal: bool = True, use_cache: bool = True
) -> Response:
    try:
        bundle = get_bundle(
            cart, shopper=shoppers.of_request(request), size=size, personal=personal, use_cache=use_cache
        )
    except BundleError as exc:
        raise ValidationError({"detail": str(exc)}) from exc
    return Response(bundle.to_dict())


def _bound_entries(count: int) -> None:
    """Refuse absurd lists before reading them (a product may repeat, so allow some slack)."""
    limit = 10 * app_settings.MAX_CART_ITEMS
    if count > limit:
        raise ValidationError({"items": [f"A cart may list at most {limit} entries, not {count}."]})


def _item_id(value: Any, where: str) -> str:
    try:
        return clean_id(value, where)
    except BadInput as exc:
        raise ValidationError({"items": [f"{exc}."]}) from None


def _parse_items(raw: Any) -> dict[str, int]:
    """``["A", {"id": "B", "quantity": 2}]`` -> ``{"A": 1, "B": 2}``; wrong types are a 400."""
    if not isinstance(raw, list):
        raise ValidationError({"items": ['items must be a list of ids or {"id", "quantity"} objects.']})
    _bound_entries(len(raw))
    quantities: dict[str, int] = {}
    for n, entry in enumerate(raw):
        if isinstance(entry, (str, int)) and not isinstance(entry, bool):
            ident, qty = _item_id(entry, f"items[{n}]"), 1
        elif isinstance(entry, dict):
            extra = set(entry) - {"id", "quantity"}
            if extra:
                names = ", ".join(sorted(shown(name) for name in extra))
                raise ValidationError({"items": [f"items[{n}] has unknown field(s): {names}."]})
            if "id" not in entry:
                raise ValidationError({"items": [f"items[{n}] has no id."]})
            ident = _item_id(entry["id"], f"items[{n}].id")
            try:
                qty = bounded_int(entry.get("quantity", 1), "quantity", 1, MAX_QUANTITY, text=False)
            except BadInput:
                raise ValidationError({"items": [
                    f"items[{n}].quantity must be a positive integer of at most {MAX_QUANTITY:,}."
                ]}) from None
        else:
            raise ValidationError({"items": [f"items[{n}] must be an id string or an object with an id."]})
        quantities[ident] = min(quantities.get(ident, 0) + qty, MAX_QUANTITY)
    return quantities


class BundleView(AppAPIView):
    """The bundle that completes a cart the caller describes."""

    permission_classes = [AllowAny]
    #: False computes every bundle afresh (a subclass for benchmarks and diagnostics).
    use_cache = True

    @describe(
        operation_id="bundle_for_items",
        parameters=[
            OpenApiParameter(
                "items",
                {"type": "array", "items": QUERY_ID},
                required=True,
                explode=False,
                description="Product ids in the cart, comma separated; an id given twice counts twice. "
                "Empty: the best sellers.",
            ),
            SIZE_PARAM,
        ],
        responses={200: BundleSerializer, **ERRORS},
        tags=["bundles"],
    )
    def get(self, request: Request) -> Response:
        raw = [part for value in request.query_params.getlist("items") for part in value.split(",")]
        ids = [part.strip() for part in raw if part.strip()]
        if "items" not in request.query_params:
            raise ValidationError({"items": ["Give the cart's product ids: ?items=ID1,ID2."]})
        _bound_entries(len(ids))
        quantities: dict[str, int] = {}
        for n, ident in enumerate(ids):
            ident = _item_id(ident, f"items[{n}]")
            quantities[ident] = quantities.get(ident, 0) + 1
        size = _size(request.query_params.get("size"), "size" in request.query_params)
        return _bundle_response(request, _resolve(quantities), size, use_cache=self.use_cache)

    @describe(
        operation_id="bundle_for_cart",
        request={"application/json": cart_request()},
        responses={200: BundleSerializer, **ERRORS, 415: DETAIL},
        examples=[
            OpenApiExample("a cart", value={"items": [{"id": "85123A", "quantity": 2}, "22423"], "size": 3})
        ],
        tags=["bundles"],
    )
    def post(self, request: Request) -> Response:
        data = request.data
        if not isinstance(data, dict):
            raise ValidationError({"detail": "The body must be a JSON object with an items list."})
        extra = set(data) - {"items", "size"}
        if extra:
            raise ValidationError(
                {"detail": f"Unknown field(s): {', '.join(sorted(map(shown, extra)))}; "
                           "expected items and size."}
            )
        if "items" not in data:
            raise ValidationError({"items": ["This field is required."]})
        quantities = _parse_items(data["items"])
        size = _size(data.get("size"), "size" in data, text=False)
        return _bundle_response(request, _resolve(quantities), size, use_cache=self.use_cache)


class MyCartBundleView(AppAPIView):
    """The bundle for the requester's own current cart (read through the shop adapter)."""

    permission_classes = [AllowAny]

    @describe(
        operation_id="bundle_for_my_cart",
        parameters=[SIZE_PARAM],
        responses={200: BundleSerializer, **ERRORS},
        tags=["bundles"],
    )
    def get(self, request: Request) -> Response:
        size = _size(request.query_params.get("size"), "size" in request.query_params)
        cart = Cart.of(get_adapter().get_cart(request._request))
        if len(cart) > app_settings.MAX_CART_ITEMS:
            cart = Cart(dict(list(cart.items())[: app_settings.MAX_CART_ITEMS]))
        return _bundle_response(request, cart, size)


class BoughtTogetherView(AppAPIView):
    """Products frequently bought together with one product (no shopper history involved)."""

    permission_classes = [AllowAny]

    @describe(
        operation_id="bought_together",
        parameters=[SIZE_PARAM, OpenApiParameter("product_id", QUERY_ID, OpenApiParameter.PATH)],
        responses={200: BundleSerializer, **ERRORS},
        tags=["bundles"],
    )
    def get(self, request: Request, product_id: str) -> Response:
        if id_problem(product_id) is not None:
            raise NotFound("No product has this id.")
        size = _size(request.query_params.get("size"), "size" in request.query_params)
        found, unknown = lookup_external_ids([product_id])
        if unknown:
            raise NotFound(f"Unknown product id: {product_id}.")
        return _bundle_response(request, Cart({found[product_id]: 1}), size, personal=False)
