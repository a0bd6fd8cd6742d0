"""The activation audit trail and the side-by-side comparison shown before activating."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cart_recommender import registry
from cart_recommender.admin import metrics as shown
from cart_recommender.admin.common import AdminMedia, AuditTrailAdmin
from cart_recommender.conf import app_settings
from cart_recommender.models import Activation, ModelVersion

GATE_TEXT = {
    "auto": gettext_lazy("a newly trained version goes live by itself only if its %(metric)s on the "
                         "holdout beats the active version's; otherwise staff activate it here"),
    "manual": gettext_lazy("new versions never go live by themselves: staff activate them here"),
    "always": gettext_lazy("every successfully trained version goes live by itself"),
}


def gate_description() -> str:
    gate = app_settings.ACTIVATION_GATE
    text = GATE_TEXT.get(gate)
    return str(text) % {"metric": app_settings.GATE_METRIC} if text else ""


def _summary(version: ModelVersion | None) -> dict[str, str]:
    if version is None:
        return {}
    window = (f"{version.data_start:%Y-%m-%d} → {version.data_end:%Y-%m-%d}"
              if version.data_start and version.data_end else "–")
    return {
        "status": str(version.get_status_display()),
        "created": f"{version.created_at:%Y-%m-%d %H:%M}",
        "window": window,
        "events": f"{version.events_used:,}",
        "serving": version.serving_method or "–",
    }


def comparison_rows(current: ModelVersion | None, candidate: ModelVersion) -> list[dict[str, Any]]:
    """One row per (scorer, metric): the active version's value, the candidate's, the change."""
    old = (current.metrics or {}) if current else {}
    new = candidate.metrics or {}
    rows = []
    for method in shown.methods({**old, **new}):
        for name in shown.metric_names({**old, **new}):
            a = (old.get(method) or {}).get(name)
            b = (new.get(method) or {}).get(name)
            if a is None and b is None:
                continue
            delta = b - a if isinstance(a, (int, float)) and isinstance(b, (int, float)) else None
            rows.append({
                "method": shown.METHOD_LABELS.get(method, method),
                "metric": name,
                "current": shown.fmt_metric(a),
                "candidate": shown.fmt_metric(b),
                "delta": "–" if delta is None else f"{delta:+.3f}",
                "better": delta is not None and delta > 0,
                "worse": delta is not None and delta < 0,
                "gate_metric": name == app_settings.GATE_METRIC,
            })
    return rows


def activation_context(version: ModelVersion) -> dict[str, Any]:
    active = ModelVersion.objects.get_active()
    current = active if active is not None and active.pk != version.pk else None
    return {
        "version": version,
        "current": current,
        "current_summary": _summary(current),
        "candidate_summary": _summary(version),
        "rows": comparison_rows(current, version),
        "is_rollback": bool(current and version.pk < current.pk),
        "activatable": version.status in registry.ACTIVATABLE and bool(version.artifact),
        "already_active": version.status == ModelVersion.Status.ACTIVE,
        "gate": app_settings.ACTIVATION_GATE,
        "gate_metric": app_settings.GATE_METRIC,
        "gate_text": gate_description(),
    }


class ActivationAdmin(AuditTrailAdmin):
    """Read-only: who made which version live, when, and which one it replaced."""

    list_display = ("created_at", "version", "previous", "who", "note")
    list_filter = ("automatic",)
    list_select_related = ("version", "previous", "user")
    date_hierarchy = "created_at"
    Media = AdminMedia

    @admin.display(description=gettext_lazy("by"), ordering="user")
    def who(self, obj: Activation) -> str:
        if obj.automatic:
            return _("activation gate")
        return str(obj.user) if obj.user_id else "–"
