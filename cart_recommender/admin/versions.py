"""The model-versions admin: list, detail with metrics and plots, retrain, cancel, activate.

Versions are never edited by hand: a version is created by "Retrain now" (or the training
command), filled in by the worker, and made live by activation. So the change form is a
read-only detail page, and every state change is its own POST view with its own permission:
``retrain_modelversion`` to start or cancel a run, ``activate_modelversion`` to activate or
roll back. The progress bar polls a small JSON view; nothing on these pages imports Keras.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from cart_recommender import registry
from cart_recommender.admin import metrics as shown
from cart_recommender.admin.activation import activation_context, gate_description
from cart_recommender.admin.common import (
    AdminMedia,
    ReadOnlyAdmin,
    can_activate,
    can_retrain,
    nav_links,
    schedule_url,
)
from cart_recommender.conf import app_settings
from cart_recommender.models import Activation, ModelVersion
from cart_recommender.privacy.erasure import erased_shoppers, retrain_due_at
from cart_recommender.segments import reports
from cart_recommender.training import (
    TrainingInProgress,
    TrainingUnavailable,
    lock,
    request_cancel,
    request_retrain,
)

Status = ModelVersion.Status


class ModelVersionAdmin(ReadOnlyAdmin):
    list_display = ("version_label", "status_badge", "created_at", "data_window", "events_used",
                    "hr_at_10", "ndcg_at_10", "serving_method")
    list_display_links = ("version_label",)
    list_filter = ("status", "serving_method")
    list_per_page = 50
    actions = ["cancel_runs"]
    change_list_template = "admin/cart_recommender/modelversion/change_list.html"
    change_form_template = "admin/cart_recommender/modelversion/change_form.html"
    fieldsets = (
        (gettext_lazy("Run"), {"fields": ("status", "requested_by", "created_at", "started_at",
                                          "finished_at", "duration_s", "task_id", "error")}),
        (gettext_lazy("Data"), {"fields": ("data_start", "data_end", "events_used", "counts_per_type")}),
        (gettext_lazy("Artifact"), {"fields": ("serving_method", "artifact", "artifact_size")}),
    )
    readonly_fields = ("status", "requested_by", "created_at", "started_at", "finished_at",
                       "duration_s", "task_id", "error", "data_start", "data_end", "events_used",
                       "counts_per_type", "serving_method", "artifact", "artifact_size")
    Media = AdminMedia

    # -- permissions: nothing is edited by hand (ReadOnlyAdmin) -----------------------------
    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # only runs that never served may go: an activated version is part of the audit trail
        if obj is not None and (obj.status not in (Status.FAILED, Status.CANCELLED)
                                or obj.activations.exists()):
            return False
        return super().has_delete_permission(request, obj)

    def has_retrain_permission(self, request: HttpRequest) -> bool:
        return can_retrain(request)

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # would bypass the per-version rule above
        return actions

    # -- list columns -----------------------------------------------------------------------
    @admin.display(description=gettext_lazy("version"), ordering="pk")
    def version_label(self, obj: ModelVersion) -> str:
        return f"v{obj.pk}"

    @admin.display(description=gettext_lazy("status"), ordering="status")
    def status_badge(self, obj: ModelVersion) -> str:
        label = _("active: serving bundles") if obj.status == Status.ACTIVE else obj.get_status_display()
        return format_html('<span class="cr-status cr-status-{}">{}</span>', obj.status, label)

    @admin.display(description=gettext_lazy("data window"))
    def data_window(self, obj: ModelVersion) -> str:
        if not obj.data_start or not obj.data_end:
            return "–"
        return f"{obj.data_start:%Y-%m-%d} → {obj.data_end:%Y-%m-%d}"

    def _metric_cell(self, obj: ModelVersion, name: str) -> str:
        metrics = obj.metrics or {}
        if not metrics:
            return "–"
        model = (metrics.get("model") or {}).get(name)
        baselines = format_html_join(
            " · ", "{} {}",
            ((shown.SHORT_LABELS.get(m, m), shown.fmt_metric((metrics[m] or {}).get(name)))
             for m in shown.methods(metrics) if m != "model"),
        )
        return format_html('<span class="cr-metric-model" title="{}">{}</span><br>'
                           '<span class="cr-metric-baselines">{}</span>',
                           _("sequence model"), shown.fmt_metric(model), baselines)

    @admin.display(description="HR@10")
    def hr_at_10(self, obj: ModelVersion) -> str:
        return self._metric_cell(obj, "hr@10")

    @admin.display(description="NDCG@10")
    def ndcg_at_10(self, obj: ModelVersion) -> str:
        return self._metric_cell(obj, "ndcg@10")

    @admin.display(description=gettext_lazy("events per type"))
    def counts_per_type(self, obj: ModelVersion) -> str:
        counts = obj.event_counts or {}
        if not counts:
            return "–"
        return format_html_join(", ", "{}: {}", ((k, f"{v:,}") for k, v in sorted(counts.items())))

    # -- actions ----------------------------------------------------------------------------
    @admin.action(description=gettext_lazy("Cancel the selected training runs"),
                  permissions=["retrain"])
    def cancel_runs(self, request: HttpRequest, queryset: Any) -> None:
        running = [v for v in queryset if v.status in shown.RUNNING]
        for version in running:
            request_cancel(version)
        if running:
            self.message_user(request, _("Asked %(n)d run(s) to stop.") % {"n": len(running)},
                              messages.SUCCESS)
        else:
            self.message_user(request, _("None of the selected versions is queued or training."),
                              messages.WARNING)

    # -- pages ------------------------------------------------------------------------------
    def get_urls(self) -> list:
        wrap = self.admin_site.admin_view
        info = "cart_recommender_modelversion"
        return [
            path("retrain/", wrap(self.retrain_view), name=f"{info}_retrain"),
            path("<path:object_id>/progress/", wrap(self.progress_view), name=f"{info}_progress"),
            path("<path:object_id>/cancel/", wrap(self.cancel_view), name=f"{info}_cancel"),
            path("<path:object_id>/activate/", wrap(self.activate_view), name=f"{info}_activate"),
            *super().get_urls(),
        ]

    def _common_context(self, request: HttpRequest) -> dict[str, Any]:
        return {
            "can_retrain": can_retrain(request),
            "can_activate": can_activate(request),
            "cr_links": nav_links(request),
            "gate": app_settings.ACTIVATION_GATE,
            "gate_metric": app_settings.GATE_METRIC,
            "gate_text": gate_description(),
            "schedule_url": schedule_url(),
        }

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        lock.expire_dead_runs()  # a run whose worker was killed shows as failed, not running
        running = ModelVersion.objects.filter(status__in=shown.RUNNING).order_by("-pk").first()
        active = ModelVersion.objects.get_active()
        context = {
            **self._common_context(request),
            "running": shown.progress_payload(running) if running else None,
            "active": active,
            "erased": erased_shoppers(active) if active else 0,
            "retrain_due": retrain_due_at(active) if active else None,
            **(extra_context or {}),
        }
        return super().changelist_view(request, context)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict | None = None) -> HttpResponse:
        lock.expire_dead_runs()
        version = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if version is not None:
            active = ModelVersion.objects.get_active()
            trail = Activation.objects.filter(Q(version=version) | Q(previous=version))
            context.update(self._common_context(request))
            context.update({
                "version": version,
                "running": shown.progress_payload(version) if version.status in shown.RUNNING else None,
                "metrics_table": shown.metrics_table(version),
                "split_tables": shown.split_tables(version),
                "loss_chart": shown.loss_chart(version),
                "hr_chart": shown.hr_curve_chart(version),
                "item_item": shown.item_item(version),
                "repeat_mix": shown.repeat_mix(version),
                "rerank": shown.rerank(version),
                "segment_rows": reports.profiles(version),
                "erased": erased_shoppers(version),
                "retrain_due": retrain_due_at(version),
                "params": sorted((version.params or {}).items()),
                "activatable": version.status in registry.ACTIVATABLE and bool(version.artifact),
                "is_rollback": bool(active and version.status == Status.RETIRED and version.pk < active.pk),
                "active": active,
                "trail": trail.select_related("version", "previous", "user")[:50],
            })
        return super().change_view(request, object_id, form_url, context)

    def _version(self, request: HttpRequest, object_id: str) -> ModelVersion:
        if not self.has_view_permission(request):
            raise PermissionDenied
        version = self.get_object(request, object_id)
        if version is None:
            raise Http404(_("No model version with id %(id)s.") % {"id": object_id})
        return version

    def _change_url(self, version: ModelVersion) -> str:
        return reverse("admin:cart_recommender_modelversion_change", args=[version.pk])

    def retrain_view(self, request: HttpRequest) -> HttpResponse:
        return require_POST(self._retrain)(request)

    def _retrain(self, request: HttpRequest) -> HttpResponse:
        if not can_retrain(request):
            raise PermissionDenied
        try:
            version = request_retrain(user=request.user)
        except TrainingInProgress as exc:
            self.message_user(request, str(exc), messages.WARNING)
            return HttpResponseRedirect(self._change_url(exc.version))
        except TrainingUnavailable as exc:
            self.message_user(request, _("Retraining could not start: %(why)s") % {"why": exc},
                              messages.ERROR)
            return HttpResponseRedirect(reverse("admin:cart_recommender_modelversion_changelist"))
        self.message_user(
            request,
            _("Retraining queued as v%(id)s: a Celery worker on the %(queue)r queue trains it; "
              "this page follows its progress.") % {"id": version.pk, "queue": app_settings.TRAINING_QUEUE},
            messages.SUCCESS,
        )
        return HttpResponseRedirect(self._change_url(version))

    def progress_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return require_GET(self._progress)(request, object_id)

    def _progress(self, request: HttpRequest, object_id: str) -> HttpResponse:
        lock.expire_dead_runs()  # the bar polls every few seconds: it notices a dead worker
        version = self._version(request, object_id)
        payload = shown.progress_payload(version)
        payload["url"] = self._change_url(version)
        response = JsonResponse(payload)
        response["Cache-Control"] = "no-store"
        return response

    def cancel_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return require_POST(self._cancel)(request, object_id)

    def _cancel(self, request: HttpRequest, object_id: str) -> HttpResponse:
        version = self._version(request, object_id)
        if not can_retrain(request):
            raise PermissionDenied
        if version.status not in shown.RUNNING:
            self.message_user(request, _("v%(id)s is %(status)s: there is no run to cancel.")
                              % {"id": version.pk, "status": version.get_status_display()},
                              messages.WARNING)
        else:
            request_cancel(version)
            if version.status in shown.RUNNING:
                text = _("Asked v%(id)s to stop; it is marked cancelled when its worker next checks "
                         "(within seconds).")
            else:
                text = _("v%(id)s is cancelled.")
            self.message_user(request, text % {"id": version.pk}, messages.SUCCESS)
        return HttpResponseRedirect(self._change_url(version))

    def activate_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        version = self._version(request, object_id)
        if not can_activate(request):
            raise PermissionDenied
        if request.method == "POST":
            note = (request.POST.get("note") or "").strip()
            try:
                registry.activate(version, user=request.user, note=note)
            except registry.ActivationError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(request, _("v%(id)s is now active and serves bundles.")
                                  % {"id": version.pk}, messages.SUCCESS)
            return HttpResponseRedirect(self._change_url(version))
        if request.method != "GET":
            return HttpResponse(status=405)
        confirm = activation_context(version)
        context = {
            **self.admin_site.each_context(request),
            **confirm,
            "opts": self.opts,
            "title": (_("Roll back to v%(id)s?") if confirm["is_rollback"] else _("Activate v%(id)s?"))
            % {"id": version.pk},
            "cr_links": nav_links(request),
            "change_url": self._change_url(version),
        }
        return TemplateResponse(request, "admin/cart_recommender/modelversion/activate.html", context)
