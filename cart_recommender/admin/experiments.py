"""A/B tests in the admin: set the arms up, start, watch the result, stop, promote the winner.

A draft's arms are edited inline; once started a test is read-only (changing arms mid-test
would mix two tests in one result). Start and stop need ``manage_experiment``; promoting an
arm's version also needs ``activate_modelversion`` and lands in the activation history. The
page shows each arm against the control with intervals, the test used, and the verdict
(:mod:`cart_recommender.experiments.results`), plus the arms' bundle revenue per day.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cart_recommender.admin.common import AdminMedia, nav_links
from cart_recommender.admin.performance import refresh_if_stale
from cart_recommender.admin.plots import Series, line_chart
from cart_recommender.experiments import lifecycle
from cart_recommender.experiments.results import METRICS, result
from cart_recommender.models import Experiment, ExperimentArm
from cart_recommender.performance import report
from cart_recommender.segments import reports


class ArmInline(admin.TabularInline):
    model = ExperimentArm
    extra = 2
    fields = ("position", "name", "kind", "version", "scorer", "share")
    ordering = ("position", "pk")

    def _draft(self, obj: Experiment | None) -> bool:
        return obj is None or obj.status == Experiment.Status.DRAFT

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._draft(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._draft(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._draft(obj) and super().has_delete_permission(request, obj)


class ExperimentAdmin(admin.ModelAdmin):
    list_display = ("name", "status", "primary_metric", "started_at", "stopped_at", "arm_list")
    list_filter = ("status",)
    inlines = [ArmInline]
    fields = (
        "name",
        "primary_metric",
        "min_days",
        "note",
        "status",
        "created_by",
        "started_at",
        "started_by",
        "stopped_at",
        "stopped_by",
        "promoted_arm",
    )
    readonly_fields = (
        "status",
        "created_by",
        "started_at",
        "started_by",
        "stopped_at",
        "stopped_by",
        "promoted_arm",
    )
    change_form_template = "admin/cart_recommender/experiment/change_form.html"
    Media = AdminMedia

    @admin.display(description=gettext_lazy("arms"))
    def arm_list(self, obj: Experiment) -> str:
        return ", ".join(f"{a.name} ({a.share} %)" for a in obj.arms.all())

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if obj is not None and obj.status != Experiment.Status.DRAFT:
            return self.fields  # a started test is what it was when it started
        return self.readonly_fields

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.status != Experiment.Status.DRAFT:
            return False  # its numbers are part of the record
        return super().has_delete_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Experiment, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def get_urls(self) -> list:
        wrap = self.admin_site.admin_view
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("<int:pk>/start/", wrap(self.start_view), name=f"{prefix}_start"),
            path("<int:pk>/stop/", wrap(self.stop_view), name=f"{prefix}_stop"),
            path("<int:pk>/promote/<int:arm>/", wrap(self.promote_view), name=f"{prefix}_promote"),
            *super().get_urls(),
        ]

    def _post(self, request: HttpRequest, pk: int, allowed: bool) -> Experiment:
        if request.method != "POST" or not allowed:
            raise PermissionDenied
        return get_object_or_404(Experiment, pk=pk)

    def _back(self, experiment: Experiment) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:cart_recommender_experiment_change", args=[experiment.pk]))

    def _change_state(self, request: HttpRequest, pk: int, change: Any, done: str) -> HttpResponse:
        experiment = self._post(request, pk, lifecycle.can_manage(request.user))
        try:
            change(experiment, user=request.user)
            messages.success(request, done % {"name": experiment.name})
        except lifecycle.ExperimentError as exc:
            messages.error(request, str(exc))
        return self._back(experiment)

    def start_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self._change_state(
            request, pk, lifecycle.start, _("“%(name)s” is running: shoppers are split between its arms.")
        )

    def stop_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self._change_state(
            request,
            pk,
            lifecycle.stop,
            _("“%(name)s” is stopped: every shopper gets the active version again."),
        )

    def promote_view(self, request: HttpRequest, pk: int, arm: int) -> HttpResponse:
        experiment = self._post(request, pk, lifecycle.can_promote(request.user))
        chosen = get_object_or_404(ExperimentArm, pk=arm, experiment=experiment)
        try:
            activation = lifecycle.promote(experiment, chosen, user=request.user)
            messages.success(
                request,
                _("v%(v)s serves every shopper now (%(note)s).")
                % {"v": activation.version_id, "note": activation.note},
            )
        except lifecycle.ExperimentError as exc:
            messages.error(request, str(exc))
        return self._back(experiment)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        extra = dict(extra_context or {})
        experiment = self.get_object(request, object_id)
        if experiment is not None:
            extra["cr_links"] = nav_links(request)
            extra["can_manage"] = lifecycle.can_manage(request.user)
            extra["can_promote"] = lifecycle.can_promote(request.user)
            if experiment.status == Experiment.Status.DRAFT:
                extra["problems"] = lifecycle.problems(experiment)
            else:
                refresh_if_stale()
                try:
                    chosen, subjects = reports.current_segment(request.GET.get("segment"))
                except ValueError as exc:
                    messages.error(request, str(exc))
                    chosen, subjects = None, None
                res = result(experiment, subjects)
                extra["result"] = res
                extra["segment_filter"] = chosen
                extra["segment_choices"] = reports.profiles(reports.current_version())
                extra["metrics"] = METRICS
                extra["rows"] = result_rows(res)
                extra["arm_chart"] = arm_chart(experiment)
        return super().change_view(request, object_id, form_url, extra_context=extra)


def result_rows(res: Any) -> list[dict[str, Any]]:
    """One row per arm: its values, and per metric its comparison with the control."""
    rows = []
    for numbers in res.arms:
        row = {"numbers": numbers, "cells": []}
        for metric, label in METRICS.items():
            c = res.comparisons.get(numbers.arm.pk, {}).get(metric)
            row["cells"].append(
                {
                    "metric": metric,
                    "label": label,
                    "value": numbers.value(metric),
                    "comparison": c,
                    "primary": metric == res.experiment.primary_metric,
                }
            )
        rows.append(row)
    return rows


def arm_chart(experiment: Experiment) -> Any:
    """Attributed revenue per 1,000 bundles shown, per day, one line per arm."""
    if experiment.started_at is None:
        return None
    end = experiment.stopped_at.date() if experiment.stopped_at else timezone.localdate()
    series, labels = [], None
    for arm in experiment.arms.all():
        days = report.by_day(report.Period(experiment.started_at.date(), end, arm_id=arm.pk))
        labels = [f"{d:%d %b}" for d, _f in days]
        series.append(
            Series(
                arm.name,
                [float(f.revenue_per_1000) if f.revenue_per_1000 is not None else None for _d, f in days],
            )
        )
    return line_chart(
        series,
        x_values=labels or [],
        title=_("Bundle revenue per 1,000 bundles shown, per day"),
        y_min=0.0,
        width=860,
        max_x_labels=8,
    )
