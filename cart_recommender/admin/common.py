"""Pieces every cart_recommender admin screen shares: permissions, links, static files."""

from __future__ import annotations

from django.apps import apps
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

RETRAIN_PERM = "cart_recommender.retrain_modelversion"
ACTIVATE_PERM = "cart_recommender.activate_modelversion"
VIEW_VERSIONS_PERM = "cart_recommender.view_modelversion"
VIEW_EVENTS_PERM = "cart_recommender.view_event"


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
    beat = schedule_url()
    if beat:
        links.append({"url": beat, "label": "Retraining schedule"})
    return links
