"""Batch ingest: the shop's servers post behaviour events in bulk.

``POST <prefix>/api/events/`` with ``{"events": [...]}`` (at most ``INGEST_MAX_EVENTS``).
Each event is validated on its own: the good ones are stored, every bad one is reported with
its index and reason, and an event whose ``idempotency_key`` is already stored is reported as
a duplicate instead of being stored again, so a batch retried after a timeout is safe.

Callers authenticate with a DRF token (``Authorization: Token ...``) or a session, and need the
``cart_recommender.ingest_events`` permission: events sent here name any shopper and steer what
the next model learns, so being staff is not enough (superusers hold every permission).
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import status
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings

from cart_recommender.adapter import get_adapter
from cart_recommender.api.base import AppAPIView
from cart_recommender.api.ingest_serializers import (
    IngestBatchSerializer,
    IngestEventSerializer,
    IngestResultSerializer,
)
from cart_recommender.api.schema import COMMON_ERRORS, DETAIL, VALIDATION_ERROR, describe
from cart_recommender.conf import app_settings
from cart_recommender.events.writer import write_events
from cart_recommender.models import Event, EventSource

#: Request bodies are refused above this many bytes per allowed event (plus a little slack).
BYTES_PER_EVENT = 2048


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


#: The one permission that lets an account send events for any shopper.
INGEST_PERMISSION = "cart_recommender.ingest_events"


class CanIngestEvents(BasePermission):
    """Holders of :data:`INGEST_PERMISSION`."""

    message = f"Sending events needs the {INGEST_PERMISSION} permission."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(
            user and user.is_authenticated
            and user.has_perm(INGEST_PERMISSION)
        )


def ingest_authenticators() -> list[BaseAuthentication]:
    """The host's authentication classes, with token and session authentication ensured.

    Token authentication goes first (when ``rest_framework.authtoken`` is installed) so that
    a request without credentials gets a 401 with ``WWW-Authenticate: Token``.
    """
    classes = list(api_settings.DEFAULT_AUTHENTICATION_CLASSES)
    if apps.is_installed("rest_framework.authtoken"):
        from rest_framework.authentication import TokenAuthentication

        classes = [TokenAuthentication] + [c for c in classes if c is not TokenAuthentication]
    if SessionAuthentication not in classes:
        classes.append(SessionAuthentication)
    return [cls() for cls in classes]


def _reason(detail: Any) -> tuple[str, dict[str, list[str]]]:
    """A readable one-line reason and the per-field messages of a serializer's errors."""
    if isinstance(detail, dict):
        fields = {
            name: [str(m) for m in (msgs if isinstance(msgs, list) else [msgs])]
            for name, msgs in detail.items()
        }
        parts = [
            ("; ".join(msgs) if name == api_settings.NON_FIELD_ERRORS_KEY else f"{name}: {'; '.join(msgs)}")
            for name, msgs in fields.items()
        ]
        return "; ".join(parts), fields
    messages = [str(m) for m in (detail if isinstance(detail, list) else [detail])]
    return "; ".join(messages), {}


def _event_from(data: dict[str, Any], product: Any) -> Event:
    event = Event(
        event_type=data["event"], product=product, shopper_ref=data["user_id"],
        session_key=data["session_id"], order_ref=data["order_id"], quantity=data["quantity"],
        unit_price=data["price"], source=EventSource.API,
        idempotency_key=data.get("idempotency_key") or None,
    )
    if data.get("timestamp") is not None:
        event.timestamp = data["timestamp"]
    return event


class IngestEventsView(AppAPIView):
    """Store a batch of behaviour events; report duplicates and rejected events by index."""

    permission_classes = [CanIngestEvents]

    def get_authenticators(self) -> list[BaseAuthentication]:
        return ingest_authenticators()

    def _events_of(self, request: Request) -> list[Any]:
        limit = app_settings.INGEST_MAX_EVENTS
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > limit * BYTES_PER_EVENT + 1024:
            raise PayloadTooLarge(
                f"The request body is larger than {limit * BYTES_PER_EVENT + 1024} bytes."
            )
        data = request.data
        if not isinstance(data, dict) or not isinstance(data.get("events"), list):
            raise ValidationError({"events": ['Expected a JSON object {"events": [...]}.']})
        events = data["events"]
        if not events:
            raise ValidationError({"events": ["The list is empty."]})
        if len(events) > limit:
            raise ValidationError(
                {"events": [f"At most {limit} events per request (INGEST_MAX_EVENTS), got {len(events)}."]}
            )
        return events

    @describe(
        operation_id="ingest_events",
        request=IngestBatchSerializer,
        responses={
            200: IngestResultSerializer,
            400: OpenApiResponse(
                {"oneOf": [{"$ref": "#/components/schemas/IngestResult"}, VALIDATION_ERROR]},
                description="No event was acceptable (each is listed under errors), or the body "
                            "is not a batch at all (messages per field).",
            ),
            401: DETAIL, 403: DETAIL, 413: DETAIL, 415: DETAIL, **COMMON_ERRORS,
        },
        examples=[
            OpenApiExample(
                "Two purchases of one order",
                request_only=True,
                value={"events": [
                    {"event": "purchase", "item_id": "85123A", "user_id": "17850", "order_id": "536365",
                     "quantity": 6, "price": "2.55", "timestamp": "2010-12-01T08:26:00Z",
                     "idempotency_key": "536365-85123A"},
                    {"event": "purchase", "item_id": "71053", "user_id": "17850", "order_id": "536365",
                     "quantity": 6, "price": "3.39", "timestamp": "2010-12-01T08:26:00Z",
                     "idempotency_key": "536365-71053"},
                ]},
            )
        ],
    )
    def post(self, request: Request) -> Response:
        events = self._events_of(request)
        errors: list[dict[str, Any]] = []
        valid: list[tuple[int, dict[str, Any]]] = []
        # One serializer for the whole batch: a new one per event deep-copies its nine fields
        # each time, which was most of a 500-event request's time.
        serializer = IngestEventSerializer()
        for index, raw in enumerate(events):
            try:
                valid.append((index, serializer.run_validation(raw)))
            except ValidationError as exc:
                reason, fields = _reason(exc.detail)
                errors.append({"index": index, "reason": reason, "fields": fields})
        products = get_adapter().get_products_by_external_ids(data["item_id"] for _, data in valid)
        rows: list[tuple[int, Event]] = []
        for index, data in valid:
            product = products.get(data["item_id"])
            if product is None:
                errors.append({
                    "index": index, "reason": f"item_id: unknown product {data['item_id']!r}",
                    "fields": {"item_id": [f"Unknown product {data['item_id']!r}."]},
                })
            else:
                rows.append((index, _event_from(data, product)))
        errors.sort(key=lambda e: e["index"])
        result = write_events([event for _, event in rows])
        body = {
            "received": len(events),
            "stored": result.stored,
            "duplicates": [rows[i][0] for i in result.duplicates],
            "errors": errors,
        }
        return Response(body, status=status.HTTP_200_OK if rows else status.HTTP_400_BAD_REQUEST)
