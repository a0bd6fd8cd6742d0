"""Pieces every cart_recommender admin screen shares: permissions, links, static files."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.contrib import admin
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

RETRAIN_PERM = "cart_recommender.retrain_modelversion"
ACTIVATE_PERM = "cart_recommender.activate_modelversion"
VIEW_VERSIONS_PERM = "cart_recommender.view_modelversion"
VIEW_EVENTS_PERM = "cart_recommender.view_event"


class ReadOnlyAdmin(admin.ModelAdmin):
    """A screen of rows the app writes itself: nobody adds or edits one by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AuditTrailAdmin(ReadOnlyAdmin):
    """An audit trail: read-only, and nobody deletes an entry either."""

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AdminMedia:
    css = {"all": ["cart_recommender/admin/admin.css"]}
    js = ["cart_recommender/admin/progress.js"]


def can_retrain(request: HttpRequest) -> bool:
    return request.user.has_perm(RETRAIN_PERM)


def can_activate(request: HttpRequest) -> bool:
    return request.user.has_perm(ACTIVATE_PERM)


def schedule_url() -> str | None:
    """The periodic-task changelist of django-celery-beat, when it is installed and in the admin."""
    if not apps.is_installed("django_celery_beat"):
        return None
    try:
        return reverse("admin:django_celery_beat_periodictask_changelist")
    except NoReverseMatch:
        return None


def nav_links(request: HttpRequest) -> list[dict[str, str]]:
    """Links between the screens, shown in each screen's object tools (only those one may see)."""
    links = []
    user = request.user
    if user.has_perm(VIEW_VERSIONS_PERM) or user.has_perm("cart_recommender.change_modelversion"):
        links.append({"url": reverse("admin:cart_recommender_modelversion_changelist"),
                      "label": "Model versions"})
    if user.has_perm(VIEW_EVENTS_PERM) or user.has_perm("cart_recommender.change_event"):
        links.append({"url": reverse("admin:cart_recommender_event_overview"), "label": "Data overview"})
    if user.has_perm("cart_recommender.view_activation"):
        links.append({"url": reverse("admin:cart_recommender_activation_changelist"),
                      "label": "Activation history"})
    if user.has_perm("cart_recommender.view_bundleday"):
        links.append({"url": reverse("admin:cart_recommender_bundleday_changelist"),
                      "label": "Bundle performance"})
    if user.has_perm("cart_recommender.view_experiment"):
        links.append({"url": reverse("admin:cart_recommender_experiment_changelist"), "label": "A/B tests"})
    if user.has_perm("cart_recommender.view_segment") or user.has_perm("cart_recommender.change_segment"):
        links.append({"url": reverse("admin:cart_recommender_segment_changelist"), "label": "Segments"})
    beat = schedule_url()
    if beat:
        links.append({"url": beat, "label": "Retraining schedule"})
    return links
