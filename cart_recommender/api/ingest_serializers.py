"""Request and response shapes of the batch ingest endpoint.

An ingested event uses the column names of the behaviour-events CSV format (``event``,
``item_id``, ``user_id``, ``session_id``, ``order_id``, ``quantity``, ``price``, ``timestamp``),
so a shop that exports CSV for the importer can post the same records as JSON.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from cart_recommender.models import Event, EventType
from cart_recommender.serving.cart import MAX_QUANTITY

#: How far in the future a timestamp may lie (clock skew between the shop's servers and ours).
FUTURE_TOLERANCE = timedelta(minutes=10)


def _max_length(name: str) -> int:
    return Event._meta.get_field(name).max_length


class IngestEventSerializer(serializers.Serializer):
    """One event sent by the shop's own server; ``item_id`` is the product's external id."""

    event = serializers.ChoiceField(choices=EventType.choices)
    item_id = serializers.CharField(max_length=64, help_text="The product's external id.")
    user_id = serializers.CharField(
        max_length=_max_length("shopper_ref"), required=False, allow_blank=True, default="",
        help_text="The shop's own id for the shopper (stored as the shopper reference).",
    )
    session_id = serializers.CharField(
        max_length=_max_length("session_key"), required=False, allow_blank=True, default="",
        help_text="The anonymous session; give user_id, session_id or both.",
    )
    order_id = serializers.CharField(
        max_length=_max_length("order_ref"), required=False, allow_blank=True, default="",
        help_text="Required for purchases: the order (basket) the line belongs to.",
    )
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY, default=1)
    price = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=0, required=False, allow_null=True, default=None,
        help_text="Unit price.",
    )
    timestamp = serializers.DateTimeField(
        required=False, help_text="ISO 8601; the time of receipt when left out."
    )
    idempotency_key = serializers.CharField(
        max_length=_max_length("idempotency_key"), required=False, allow_blank=False,
        help_text="Sending an event with a key that is already stored stores nothing.",
    )

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {name: ["Unknown field."] for name in unknown}
                )
        return super().to_internal_value(data)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("user_id") and not attrs.get("session_id"):
            raise serializers.ValidationError("Give user_id or session_id: whose event is it?")
        if attrs["event"] == EventType.PURCHASE and not attrs.get("order_id"):
            raise serializers.ValidationError({"order_id": ["A purchase needs an order_id."]})
        when = attrs.get("timestamp")
        if when is not None and when > timezone.now() + FUTURE_TOLERANCE:
            raise serializers.ValidationError({"timestamp": ["The timestamp lies in the future."]})
        return attrs


class IngestBatchSerializer(serializers.Serializer):
    """The request body (documents the schema; events are validated one by one)."""

    events = IngestEventSerializer(many=True)


class IngestErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the rejected event in the batch.")
    reason = serializers.CharField(help_text="Why it was rejected, readable.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False,
        help_text="The same reasons per field.",
    )


class IngestResultSerializer(serializers.Serializer):
    received = serializers.IntegerField()
    stored = serializers.IntegerField()
    duplicates = serializers.ListField(
        child=serializers.IntegerField(),
        help_text="Indexes of events whose idempotency key was already stored (or repeated).",
    )
    errors = IngestErrorSerializer(many=True)
