"""The OpenAPI description of the app's endpoints: exactly what the views accept and answer.

The views validate by hand (a bundle request is on the shop's hot path; a serializer round
trip would cost more than the bundle), so the schema is written here as plain OpenAPI
fragments next to the limits the views enforce, and ``tests/test_openapi_conformance.py`` runs
schemathesis against a live server to hold the two together: every status code, content type
and body of every answer must be the documented one.

The views use :class:`AppAutoSchema` whatever the host's ``DEFAULT_SCHEMA_CLASS`` says, so the
schema page works in a shop that never configured drf-spectacular.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import extend_schema

from cart_recommender.api.inputs import MAX_ID_LENGTH
from cart_recommender.conf import app_settings
from cart_recommender.serving.cart import MAX_QUANTITY

F = TypeVar("F", bound=Callable[..., Any])

#: A product id: text the database can store with something besides white space in it.
ID: dict[str, Any] = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_ID_LENGTH,
    "pattern": r"^[^\u0000]*[^\s\u0000][^\u0000]*$",
    "description": "The product's id (the shop's external id).",
    "example": "85123A",
}
#: A product id in ``?items=``, where a comma separates ids.
QUERY_ID: dict[str, Any] = {**ID, "pattern": r"^[^,\u0000]*[^\s,\u0000][^,\u0000]*$"}
QUANTITY: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": MAX_QUANTITY, "default": 1}


def size_schema() -> dict[str, Any]:
    return {"type": "integer", "minimum": 1, "maximum": app_settings.MAX_BUNDLE_SIZE,
            "description": f"Items in the bundle (default BUNDLE_SIZE, {app_settings.BUNDLE_SIZE})."}


def cart_request() -> dict[str, Any]:
    """The body of ``POST bundles/``."""
    line = {"type": "object", "additionalProperties": False, "required": ["id"],
            "properties": {"id": ID, "quantity": QUANTITY}}
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["items"],
        "properties": {
            "items": {
                "type": "array",
                "maxItems": app_settings.MAX_CART_ITEMS,
                "items": {"oneOf": [ID, line]},
                "description": "The cart: ids, or objects with an id and a quantity; an empty cart "
                               "gets the best sellers.",
            },
            "size": size_schema(),
        },
    }


#: A 400 answer: messages per field (``items``, ``size``, ``events``), or one ``detail``.
VALIDATION_ERROR: dict[str, Any] = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
    "description": "What to fix: a list of messages per field, or a detail.",
    "example": {"size": ["size must be from 1 to 10, not 11."]},
}
#: Every other error answer (404, 401, 403, 405, 406, 413, 415): DRF's ``{"detail": ...}``.
DETAIL: dict[str, Any] = {
    "type": "object",
    "required": ["detail"],
    "properties": {"detail": {"type": "string"}},
    "example": {"detail": "Unknown item id(s): NOPE."},
}
#: Answers every endpoint can give besides its own (content negotiation and methods).
COMMON_ERRORS: dict[int, Any] = {405: DETAIL, 406: DETAIL}


def describe(**kwargs: Any) -> Callable[[F], F]:
    """``extend_schema`` for a view method of the app, built on :class:`AppAutoSchema`.

    ``extend_schema`` on a method bases its schema class on the host's ``DEFAULT_SCHEMA_CLASS``
    when the module is imported; in a shop that kept DRF's own, the schema page then failed
    (drf-spectacular's view cannot use DRF's class). A method that names its schema class
    itself is described with that one.
    """

    def decorator(method: F) -> F:
        method.schema = AppAutoSchema  # type: ignore[attr-defined]  (read by extend_schema)
        return extend_schema(**kwargs)(method)

    return decorator


class AppAutoSchema(AutoSchema):
    """drf-spectacular's schema class, with a request body marked required where there is one.

    drf-spectacular marks a hand-written request schema optional; every POST of the app needs
    its body.
    """

    def _get_request_body(self, direction: str = "request") -> dict[str, Any] | None:
        body = super()._get_request_body(direction)
        if body is not None:
            body["required"] = True
        return body
