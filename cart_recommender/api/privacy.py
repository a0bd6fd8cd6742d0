"""Privacy endpoints for the shop's own systems: erase a shopper, export what is held on one.

``POST shoppers/forget/``   ``{"user": 12}`` or ``{"shopper_ref": "17850"}`` or ``{"session_key": "..."}``
``POST shoppers/export/``   the same body; the answer is the shopper's data

Both take the shopper in the body, not the URL: ids and session keys stay out of access logs.

Both name another shopper, so both are for staff accounts only, each with its own permission
(``cart_recommender.forget_shopper``, ``cart_recommender.export_shopper``), authenticated like
the ingest API (a DRF token or a session). See docs/privacy.md.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from cart_recommender.api.base import AppAPIView, StaffWith
from cart_recommender.api.ingest import ingest_authenticators
from cart_recommender.api.inputs import BadInput, clean_id, shown
from cart_recommender.api.schema import COMMON_ERRORS, DETAIL, ID, VALIDATION_ERROR, describe
from cart_recommender.models import Erasure
from cart_recommender.privacy import export_shopper, forget_shopper, user_with_pk

#: The ways a request may name the shopper; exactly one is given.
FIELDS = ("user", "shopper_ref", "session_key")
FORGET_PERMISSION = "cart_recommender.forget_shopper"
EXPORT_PERMISSION = "cart_recommender.export_shopper"
ERRORS = {400: VALIDATION_ERROR, 401: DETAIL, 403: DETAIL, 404: DETAIL, 415: DETAIL, **COMMON_ERRORS}

USER_ID: dict[str, Any] = {
    "oneOf": [{"type": "integer", "minimum": 1}, ID],
    "description": "The Django user's primary key.",
}
TEXT_ID: dict[str, Any] = {**ID, "description": "The shop's customer id, or a session key."}


def identity_schema() -> dict[str, Any]:
    """The body of ``POST shoppers/forget/``: exactly one identity."""
    return {
        "type": "object",
        "additionalProperties": False,
        "minProperties": 1,
        "maxProperties": 1,
        "properties": {"user": USER_ID, "shopper_ref": TEXT_ID, "session_key": TEXT_ID},
        "example": {"shopper_ref": "17850"},
    }


def _identity(data: Any) -> dict[str, Any]:
    """The one identity a request body names, as :func:`forget_shopper` takes it."""
    if not hasattr(data, "keys"):
        raise ValidationError({"detail": "Expected a JSON object naming the shopper."})
    given = [name for name in FIELDS if name in data]
    if any(key not in FIELDS for key in data.keys()):
        raise ValidationError(
            {"detail": f"Unknown field(s); name the shopper by one of {', '.join(FIELDS)}."}
        )
    if len(given) != 1:
        raise ValidationError({"detail": f"Name the shopper by exactly one of {', '.join(FIELDS)}."})
    name = given[0]
    if name != "user" and not isinstance(data[name], str):
        raise ValidationError({name: [f"{name} must be a string."]})
    try:
        value = clean_id(data[name], name)
    except BadInput as exc:
        raise ValidationError({name: [str(exc)]}) from exc
    if name != "user":
        return {name: value}
    user = user_with_pk(value)
    if user is None:
        raise NotFound(f"No user with id {shown(value)}.")
    return {"user": user}


class PrivacyView(AppAPIView):
    permission_classes = [StaffWith]
    required_permission = ""

    def get_authenticators(self) -> list[BaseAuthentication]:
        return ingest_authenticators()


class ForgetShopperView(PrivacyView):
    """Erase every trace of one shopper (see :func:`cart_recommender.privacy.forget_shopper`)."""

    required_permission = FORGET_PERMISSION

    @describe(
        operation_id="forget_shopper",
        request={"application/json": identity_schema()},
        responses={
            200: {
                "type": "object",
                "required": ["erasure", "events_deleted", "sessions", "shopper_refs", "trained_versions"],
                "properties": {
                    "erasure": {"type": "integer", "description": "The audit entry's id."},
                    "events_deleted": {"type": "integer"},
                    "sessions": {"type": "integer"},
                    "shopper_refs": {"type": "integer"},
                    "trained_versions": {
                        "type": "array", "items": {"type": "integer"},
                        "description": "Model versions trained on the erased data; a retrain replaces "
                                       "the active one within ERASURE_RETRAIN_DAYS.",
                    },
                },
            },
            **ERRORS,
        },
        examples=[OpenApiExample("A shop customer id", request_only=True, value={"shopper_ref": "17850"})],
    )
    def post(self, request: Request) -> Response:
        erasure = forget_shopper(**_identity(request.data), by=request.user, via=Erasure.Via.API)
        return Response({
            "erasure": erasure.pk,
            "events_deleted": erasure.events_deleted,
            "sessions": erasure.sessions,
            "shopper_refs": erasure.shopper_refs,
            "trained_versions": sorted(erasure.trained_versions.values_list("pk", flat=True)),
        })


class ExportShopperView(PrivacyView):
    """Everything held on one shopper (see :func:`cart_recommender.privacy.export_shopper`)."""

    required_permission = EXPORT_PERMISSION

    @describe(
        operation_id="export_shopper",
        request={"application/json": identity_schema()},
        responses={
            200: {
                "type": "object",
                "required": ["generated_at", "identities", "events"],
                "properties": {
                    "generated_at": {"type": "string", "format": "date-time"},
                    "identities": {"type": "object"},
                    "events": {"type": "array", "items": {"type": "object"}},
                },
                "additionalProperties": True,
            },
            **ERRORS,
        },
    )
    def post(self, request: Request) -> Response:
        return Response(export_shopper(**_identity(request.data)))
