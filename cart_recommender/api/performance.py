"""Staff endpoints with the dashboard's numbers: what bundles earned, and an A/B test's result.

``GET performance/?days=30&served_by=12&experiment=3&segment=4``  the funnel: totals, per day,
                                                       per version and scorer, per arm, top products
``GET experiments/<id>/results/?segment=4``            each arm against the control, the verdict
                                                       (``segment``: only that segment's shoppers)

For staff holding ``cart_recommender.view_bundleday`` (performance) or
``cart_recommender.view_experiment`` (results); authenticated like the ingest API. The numbers
are the rollups' (see docs/performance.md): as fresh as the last ``update_performance`` run.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from cart_recommender.api.base import AppAPIView, StaffWith
from cart_recommender.api.ingest import ingest_authenticators
from cart_recommender.api.inputs import id_problem
from cart_recommender.api.schema import COMMON_ERRORS, DETAIL, VALIDATION_ERROR, describe
from cart_recommender.experiments.results import result, to_dict
from cart_recommender.models import Experiment
from cart_recommender.performance import report
from cart_recommender.segments import reports

RANGES = (7, 30, 90, 365)
ERRORS = {400: VALIDATION_ERROR, 401: DETAIL, 403: DETAIL, 404: DETAIL, **COMMON_ERRORS}
OBJECT = {"type": "object", "additionalProperties": True}


class StaffView(AppAPIView):
    permission_classes = [StaffWith]
    required_permission = ""

    def get_authenticators(self) -> list[BaseAuthentication]:
        return ingest_authenticators()


def only_params(params: Any, allowed: set[str]) -> None:
    """Refuse a query string naming a parameter the endpoint does not take (a 400, not ignored)."""
    unknown = set(params) - allowed
    if unknown:
        raise ValidationError({"detail": f"Unknown parameter(s): {', '.join(sorted(unknown))[:200]}."})


def _period(params: Any) -> report.Period:
    only_params(params, {"days", "served_by", "experiment", "segment"})
    raw = params.get("days", "30")
    if raw not in {str(d) for d in RANGES}:
        raise ValidationError({"days": [f"days must be one of {', '.join(map(str, RANGES))}."]})
    served_by = params.get("served_by", "")
    if served_by and (id_problem(served_by) or len(served_by) > 20):
        raise ValidationError({"served_by": ['served_by is a version id or "baseline".']})
    experiment = params.get("experiment")
    experiment_id = None
    if experiment is not None:
        if not experiment.isdigit() or len(experiment) > 12:
            raise ValidationError({"experiment": ["experiment is an A/B test's id."]})
        experiment_id = int(experiment)
        if not Experiment.objects.filter(pk=experiment_id).exists():
            raise NotFound("No A/B test has this id.")
    segment = params.get("segment")
    segment_id = None
    if segment is not None:
        if not segment.isdigit() or len(segment) > 9:
            raise ValidationError({"segment": ["segment is a shopper segment's id."]})
        segment_id = int(segment)
    return report.Period.last_days(int(raw), served_by=served_by, experiment_id=experiment_id,
                                   segment=segment_id)


class PerformanceView(StaffView):
    """The bundle funnel over a period, from the rollups."""

    required_permission = "cart_recommender.view_bundleday"

    @describe(
        operation_id="bundle_performance",
        parameters=[
            OpenApiParameter(
                "days", {"type": "integer", "enum": list(RANGES)}, description="The last N days."
            ),
            OpenApiParameter(
                "served_by",
                {"type": "string", "maxLength": 20},
                description='Only one serving version (its id, or "baseline").',
            ),
            OpenApiParameter(
                "experiment",
                {"type": "integer", "minimum": 1},
                description="Only the bundles of one A/B test.",
            ),
            OpenApiParameter(
                "segment",
                {"type": "integer", "minimum": 1},
                description="Only the bundles served to one shopper segment's shoppers.",
            ),
        ],
        responses={200: OBJECT, **ERRORS},
        tags=["performance"],
    )
    def get(self, request: Request) -> Response:
        period = _period(request.query_params)
        return Response(
            {
                "start": period.start.isoformat(),
                "end": period.end.isoformat(),
                "totals": report.totals(period).as_dict(),
                "days": [{"day": d.isoformat(), **f.as_dict()} for d, f in report.by_day(period)],
                "by_version": [
                    {"served_by": s, "scorer": m, **f.as_dict()} for s, m, f in report.by_server(period)
                ],
                "by_arm": [{"arm": a, "name": n, **f.as_dict()} for a, n, f in report.by_arm(period)],
                "top_products": [
                    {
                        "product": str(p.product_id),
                        "times_shown": p.times_shown,
                        "add_to_carts": p.add_to_carts,
                        "units": p.units,
                        "revenue": str(p.revenue),
                    }
                    for p in report.top_products(period)
                ],
            }
        )


class ExperimentResultView(StaffView):
    """An A/B test's arms against the control, with intervals, tests and the verdict."""

    required_permission = "cart_recommender.view_experiment"

    @describe(
        operation_id="experiment_results",
        parameters=[
            OpenApiParameter("experiment_id", {"type": "integer", "minimum": 1}, OpenApiParameter.PATH),
            OpenApiParameter("segment", {"type": "integer", "minimum": 1}, OpenApiParameter.QUERY,
                             description="Only the shoppers of this segment (current grouping)."),
        ],
        responses={200: OBJECT, **ERRORS},
        tags=["performance"],
    )
    def get(self, request: Request, experiment_id: str) -> Response:
        if not experiment_id.isdigit() or len(experiment_id) > 12:
            raise NotFound("No A/B test has this id.")
        experiment = Experiment.objects.filter(pk=int(experiment_id)).first()
        if experiment is None:
            raise NotFound("No A/B test has this id.")
        try:
            chosen, subjects = reports.current_segment(request.query_params.get("segment"))
        except ValueError as exc:
            raise ValidationError({"segment": [str(exc)]}) from None
        body = to_dict(result(experiment, subjects))
        body["segment"] = {"id": chosen.segment_id, "name": chosen.segment.name} if chosen else None
        return Response(body)
