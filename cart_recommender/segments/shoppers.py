"""One shopper's segment rows, for their data export and their erasure (signal receivers)."""

from __future__ import annotations

from typing import Any

from cart_recommender.models import ShopperSegment
from cart_recommender.shoppers import pseudonym


def _rows(subject: Any) -> Any:
    return ShopperSegment.objects.filter(subject__in=[pseudonym(k) for k in subject.keys])


def export(subject: Any) -> dict[str, Any]:
    """The segments the shopper is in, per model version (``shopper_exported`` receiver)."""
    rows = _rows(subject).select_related("segment").order_by("version_id")
    return {"segments": [{"model_version": r.version_id, "segment": r.segment.name} for r in rows]}


def forget(subject: Any) -> int:
    """Delete the shopper's segment memberships (``shopper_forgotten`` receiver)."""
    deleted, _ = _rows(subject).delete()
    return deleted
