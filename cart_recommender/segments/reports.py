"""What the admin shows of segments: the current grouping, a segment's profile and its history.

"Current" is the serving version's grouping; while the serving version has none (trained before
segments existed, or with too few shoppers), the newest version that has one.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from cart_recommender.models import ModelVersion, Segment, SegmentProfile, ShopperSegment


def current_version(excluding: ModelVersion | None = None) -> ModelVersion | None:
    """The version whose segments the screens show (see the module docstring); a retrain
    matches its groups against the same one, ``excluding`` itself."""
    with_profiles = ModelVersion.objects.filter(
        pk__in=SegmentProfile.objects.values_list("version_id", flat=True))
    if excluding is not None:
        with_profiles = with_profiles.exclude(pk=excluding.pk)
    active = with_profiles.filter(status=ModelVersion.Status.ACTIVE).order_by("-pk").first()
    return active or with_profiles.order_by("-pk").first()


def profiles(version: ModelVersion | None) -> list[SegmentProfile]:
    """The version's segment profiles, largest first, with their segments."""
    if version is None:
        return []
    return list(SegmentProfile.objects.filter(version=version).select_related("segment").order_by("position"))


def history(segment: Segment) -> list[SegmentProfile]:
    """The segment's profile in every version it appears in, oldest first."""
    return list(segment.profiles.select_related("version").order_by("version_id"))


def members(version: ModelVersion, segment: Segment | int) -> QuerySet[Any]:
    """The keyed hashes of a segment's shoppers in a version (a subquery for other tables)."""
    return ShopperSegment.objects.filter(version=version, segment=segment).values("subject")


def current_segment(raw: Any) -> tuple[SegmentProfile | None, QuerySet[Any] | None]:
    """The current grouping's segment named by ``raw`` (an id from a query string) and its
    members; ``(None, None)`` for no filter (empty). Raises ValueError for an id that names no
    segment of the current grouping."""
    if raw in (None, ""):
        return None, None
    text = str(raw)
    if not text.isdigit() or len(text) > 12:
        raise ValueError("segment must be the id of a segment")
    version = current_version()
    row = (SegmentProfile.objects.filter(version=version, segment_id=int(text)).select_related("segment")
           .first() if version is not None else None)
    if row is None:
        raise ValueError(f"no segment {text} in the current grouping")
    return row, members(row.version, row.segment_id)
