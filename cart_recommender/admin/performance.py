"""The "Bundle performance" dashboard: what bundles earned, per day, version, scorer and arm.

Registered on :class:`~cart_recommender.models.BundleDay` (its list is the dashboard), so it
shows up in the admin index and follows that model's view permission. Everything on it is read
from the rollups (:mod:`cart_recommender.performance.report`). The ``update_performance`` task
(a Celery beat entry) keeps them current; when they are older than ``ROLLUP_SECONDS`` and at
most :data:`INLINE_EVENTS` events are new, the page counts those itself before rendering (a
shop without a beat, like the embedded default, still sees fresh numbers), and a larger backlog
is left to the task or the "Count new events now" button. ``?format=csv`` downloads the rows.
"""

from __future__ import annotations

import csv
from datetime import date, timedelta
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from cart_recommender.adapter import get_adapter
from cart_recommender.admin.common import AdminMedia, ReadOnlyAdmin, nav_links
from cart_recommender.admin.plots import Series, line_chart
from cart_recommender.conf import app_settings
from cart_recommender.models import Experiment
from cart_recommender.performance import report, rollups
from cart_recommender.segments import reports

#: Day ranges the dashboard offers.
RANGES = {"7": 7, "30": 30, "90": 90, "365": 365}
CSV_COLUMNS = (
    "day",
    "served_by",
    "scorer",
    "arm",
    "bundles_shown",
    "items_shown",
    "bundles_clicked",
    "clicks",
    "add_to_carts",
    "removals",
    "orders",
    "units",
    "revenue",
    "refunded",
    "segment",  # the shopper segment's id (empty: in none), last so older readers keep working
)


def period_of(params: Any) -> report.Period:
    """The period and filters a request's query string asks for (bad values: the defaults)."""
    days = RANGES.get(str(params.get("days", "30")), 30)
    served_by = str(params.get("served_by", ""))[:20]
    experiment = params.get("experiment")
    experiment_id = int(experiment) if isinstance(experiment, str) and experiment.isdigit() else None
    segment = params.get("segment")
    segment_id = (int(segment) if isinstance(segment, str) and segment.isdigit() and len(segment) < 10
                  else None)
    end = timezone.localdate()
    return report.Period(
        end - timedelta(days=days - 1), end, served_by=served_by, experiment_id=experiment_id,
        segment=segment_id,
    )


#: New events a page view counts itself when the rollups are stale (a few hundred ms at most).
INLINE_EVENTS = 20_000


def refresh_if_stale() -> int:
    """Count a small backlog of new events when the rollups are older than ``ROLLUP_SECONDS``.

    Returns how many events are left uncounted (0 when the rollups are current).
    """
    last = rollups.last_update()
    pending = rollups.pending()
    if pending and (last is None or timezone.now() - last > timedelta(seconds=app_settings.ROLLUP_SECONDS)):
        if pending <= INLINE_EVENTS:
            rollups.update()
            return 0
    return pending


def product_names(keys: list[Any]) -> dict[str, str]:
    adapter = get_adapter()
    return {str(p.pk): adapter.get_display(p).name for p in adapter.product_queryset().filter(pk__in=keys)}


def charts(days: list[tuple[date, report.Funnel]]) -> dict[str, Any]:
    labels = [f"{d:%d %b}" for d, _f in days]
    return {
        "traffic_chart": line_chart(
            [
                Series(_("bundles shown"), [f.bundles_shown for _d, f in days]),
                Series(_("bundles clicked"), [f.bundles_clicked for _d, f in days]),
                Series(_("add-to-carts"), [f.add_to_carts for _d, f in days]),
                Series(_("orders"), [f.orders for _d, f in days]),
            ],
            x_values=labels,
            title=_("Bundle funnel per day"),
            y_label=_("count"),
            y_min=0.0,
            width=860,
            max_x_labels=8,
        ),
        "revenue_chart": line_chart(
            [Series(_("attributed revenue"), [float(f.net_revenue) for _d, f in days])],
            x_values=labels,
            title=_("Revenue from bundles per day"),
            y_label=_("revenue"),
            y_min=0.0,
            width=860,
            max_x_labels=8,
        ),
    }


class BundlePerformanceAdmin(ReadOnlyAdmin):
    """The dashboard in place of a list of rollup rows."""

    Media = AdminMedia

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list:
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("update/", self.admin_site.admin_view(self.update_view), name=f"{prefix}_update"),
            *super().get_urls(),
        ]

    def update_view(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST" or not self.has_view_permission(request):
            raise PermissionDenied
        done = rollups.update()
        messages.success(
            request,
            _("Counted %(events)s new events in %(s).1f s.")
            % {"events": f"{done.events:,}", "s": done.seconds},
        )
        return HttpResponseRedirect(reverse("admin:cart_recommender_bundleday_changelist"))

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        pending = refresh_if_stale()
        period = period_of(request.GET)
        if request.GET.get("format") == "csv":
            return self.csv_response(period)
        days = report.by_day(period)
        top = report.top_products(period)
        names = product_names([p.product_id for p in top])
        experiments = list(
            Experiment.objects.exclude(status=Experiment.Status.DRAFT).values_list("pk", "name")[:20]
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Bundle performance"),
            "cr_links": nav_links(request),
            "period": period,
            "ranges": list(RANGES),
            "days_asked": str((period.end - period.start).days + 1),
            "servers": report.servers(period),
            "experiments": experiments,
            "segments": [(r.segment_id, r.segment.name) for r in reports.profiles(reports.current_version())],
            "totals": report.totals(period),
            "by_server": report.by_server(period),
            "by_arm": report.by_arm(period),
            "top": [(names.get(str(p.product_id), str(p.product_id)), p) for p in top],
            "updated_at": rollups.last_update(),
            "pending": pending,
            "window_days": app_settings.ATTRIBUTION_WINDOW_DAYS,
            "query": request.GET.urlencode(),
            **charts(days),
        }
        return TemplateResponse(request, "admin/cart_recommender/bundleday/dashboard.html", context)

    def csv_response(self, period: report.Period) -> HttpResponse:
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="bundle-performance-{period.start}-{period.end}.csv"'
        )
        writer = csv.writer(response)
        writer.writerow(CSV_COLUMNS)
        rows = period.rows().select_related("arm").order_by("day", "served_by", "scorer", "arm_id", "segment")
        for r in rows:
            writer.writerow(
                [
                    r.day.isoformat(),
                    r.served_by,
                    r.scorer,
                    r.arm.name if r.arm else "",
                    *(getattr(r, c) for c in CSV_COLUMNS[4:-1]),
                    r.segment if r.segment is not None else "",
                ]
            )
        return response
