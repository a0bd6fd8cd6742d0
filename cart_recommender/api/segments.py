"""Staff endpoint with the current shopper segments: what the admin's segments screen shows.

``GET segments/``  the serving version's grouping (or, without one, the newest): k, the
                   silhouette per k tried, how many shoppers moved, and every segment with its
                   id, name, own category cap and profile

For staff holding ``cart_recommender.view_segment``; authenticated like the ingest API. The
segment ids are what ``?segment=`` takes on the performance and A/B result endpoints, and what
``{% cart_recommender_segment %}`` gives a shop's templates.
"""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response

from cart_recommender.api.performance import ERRORS, OBJECT, StaffView, only_params
from cart_recommender.api.schema import describe
from cart_recommender.segments import reports


class SegmentListView(StaffView):
    """The current grouping of the shoppers, segment by segment."""

    required_permission = "cart_recommender.view_segment"

    @describe(
        operation_id="segments",
        responses={200: OBJECT, **ERRORS},
        tags=["performance"],
    )
    def get(self, request: Request) -> Response:
        only_params(request.query_params, set())
        version = reports.current_version()
        if version is None:
            return Response({"version": None, "segments": []})
        summary = version.segmentation or {}
        return Response({
            "version": version.pk,
            "k": summary.get("k"),
            "shoppers": summary.get("shoppers"),
            "features": summary.get("features", []),
            "silhouette": summary.get("silhouette", {}),
            "previous_version": summary.get("previous_version"),
            "moved": summary.get("moved"),
            "segments": [
                {"id": row.segment_id, "name": row.segment.name, "named_by_staff": row.segment.name_edited,
                 "category_cap": row.segment.category_cap, "shoppers": row.shoppers, "profile": row.profile}
                for row in reports.profiles(version)
            ],
        })
