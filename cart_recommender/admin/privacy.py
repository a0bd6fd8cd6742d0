"""Privacy in the admin: the erasure audit trail, "Forget a shopper", and actions that erase.

- Erasures: a read-only list (the audit entries name nobody) with a "Forget a shopper" screen
  that finds a shopper by user id, shop customer id or session key, shows what would go, then
  erases it or downloads the export.
- Behaviour events: the action "Forget the shoppers of the selected events".
- :func:`forget_users`: an action for the shop's own user admin (deleting a user erases them
  anyway; this keeps the account)::

      from cart_recommender.admin.privacy import forget_users

      class ShopUserAdmin(UserAdmin):
          actions = [forget_users]
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from cart_recommender.admin.common import AdminMedia, AuditTrailAdmin, nav_links
from cart_recommender.models import Erasure, Event
from cart_recommender.privacy import export_shopper, find_subject, forget_shopper, user_with_pk

FORGET_PERM = "cart_recommender.forget_shopper"
EXPORT_PERM = "cart_recommender.export_shopper"
KINDS = (("user", gettext_lazy("Django user id")), ("shopper_ref", gettext_lazy("shop customer id")),
         ("session_key", gettext_lazy("session key")))


def can_forget(request: HttpRequest) -> bool:
    return request.user.is_staff and request.user.has_perm(FORGET_PERM)


def can_export(request: HttpRequest) -> bool:
    return request.user.is_staff and request.user.has_perm(EXPORT_PERM)


class ShopperForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("Find the shopper by"), choices=KINDS)
    value = forms.CharField(label=gettext_lazy("Id or key"), max_length=64, strip=True)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        if "\x00" in data["value"]:
            raise forms.ValidationError(_("The id may not hold a NUL character."))
        if data["kind"] == "user":
            user = user_with_pk(data["value"])
            if user is None:
                raise forms.ValidationError(_("No user with id %(id)s.") % {"id": data["value"]})
            data["identity"] = {"user": user}
        else:
            data["identity"] = {data["kind"]: data["value"]}
        return data


class ErasureAdmin(AuditTrailAdmin):
    list_display = ("created_at", "via", "requested_by", "events_deleted", "sessions", "shopper_refs",
                    "versions")
    list_filter = ("via",)
    readonly_fields = ("subject", "via", "requested_by", "events_deleted", "sessions", "shopper_refs",
                       "trained_versions", "created_at")
    change_list_template = "admin/cart_recommender/erasure/change_list.html"
    Media = AdminMedia

    def get_queryset(self, request: HttpRequest) -> QuerySet[Erasure]:
        queryset = super().get_queryset(request)
        return queryset.select_related("requested_by").prefetch_related("trained_versions")

    @admin.display(description=gettext_lazy("trained on it"))
    def versions(self, obj: Erasure) -> str:
        return ", ".join(f"v{v.pk}" for v in obj.trained_versions.all()) or "–"

    def get_urls(self) -> list:
        return [
            path("forget/", self.admin_site.admin_view(self.forget_view),
                 name="cart_recommender_erasure_forget"),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        context = {"cr_links": nav_links(request), "can_forget": can_forget(request) or can_export(request)}
        return super().changelist_view(request, {**context, **(extra_context or {})})

    def forget_view(self, request: HttpRequest) -> HttpResponse:
        """Find a shopper, show what the app holds on them, then erase or export it."""
        if not (can_forget(request) or can_export(request)):
            raise PermissionDenied
        form = ShopperForm(request.POST or request.GET or None)
        context: dict[str, Any] = {
            **self.admin_site.each_context(request), "opts": self.opts, "form": form,
            "title": _("Forget a shopper"), "cr_links": nav_links(request),
            "can_forget": can_forget(request), "can_export": can_export(request),
        }
        if form.is_valid():
            identity = form.cleaned_data["identity"]
            if request.method == "POST" and "export" in request.POST:
                if not can_export(request):
                    raise PermissionDenied
                return _download(export_shopper(**identity), form.cleaned_data["kind"])
            if request.method == "POST" and "erase" in request.POST:
                if not can_forget(request):
                    raise PermissionDenied
                erasure = forget_shopper(**identity, by=request.user, via=Erasure.Via.ADMIN)
                _report(request, [erasure])
                return HttpResponseRedirect(reverse("admin:cart_recommender_erasure_changelist"))
            subject = find_subject(**identity)
            context["found"] = {
                "events": subject.events().count(), "sessions": len(subject.session_keys),
                "shopper_refs": len(subject.shopper_refs), "users": len(subject.user_ids),
            }
        return TemplateResponse(request, "admin/cart_recommender/erasure/forget.html", context)


def _download(data: dict[str, Any], kind: str) -> HttpResponse:
    response = HttpResponse(json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False),
                            content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="shopper-export-{kind}.json"'
    return response


def _report(request: HttpRequest, erasures: list[Erasure]) -> None:
    events = sum(e.events_deleted for e in erasures)
    messages.success(request, ngettext(
        "Erased %(n)d shopper: %(events)d events deleted.",
        "Erased %(n)d shoppers: %(events)d events deleted.", len(erasures),
    ) % {"n": len(erasures), "events": events})
    versions = sorted({v for e in erasures for v in e.trained_versions.values_list("pk", flat=True)})
    if versions:
        messages.warning(request, _(
            "Model versions %(versions)s were trained on their data; a retrain replaces the active "
            "one within ERASURE_RETRAIN_DAYS."
        ) % {"versions": ", ".join(f"v{v}" for v in versions)})


def _identities_of(events: QuerySet[Event]) -> list[dict[str, Any]]:
    """One identity per shopper of ``events``: the user, else the customer id, else the session."""
    users = get_user_model()._default_manager.in_bulk(
        list(events.exclude(user=None).values_list("user_id", flat=True).distinct())
    )
    found: dict[tuple[str, Any], dict[str, Any]] = {}
    rows = events.order_by().values_list("user_id", "shopper_ref", "session_key").distinct()
    for user_id, ref, session in rows:
        if user_id is not None and user_id in users:
            found[("user", user_id)] = {"user": users[user_id]}
        elif ref:
            found[("ref", ref)] = {"shopper_ref": ref}
        elif session:
            found[("session", session)] = {"session_key": session}
    return list(found.values())


@admin.action(
    description=gettext_lazy("Forget the shoppers of the selected events (erase everything of theirs)"),
    permissions=["forget"],
)
def forget_event_shoppers(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Event]
) -> Any:
    identities = _identities_of(queryset)
    if "confirm" not in request.POST:
        return TemplateResponse(request, "admin/cart_recommender/erasure/confirm_action.html", {
            **modeladmin.admin_site.each_context(request), "opts": modeladmin.opts,
            "title": _("Forget these shoppers?"), "shoppers": len(identities),
            "events": sum(find_subject(**i).events().count() for i in identities),
            "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
            "action": "forget_event_shoppers",
        })
    _report(request, [forget_shopper(**i, by=request.user, via=Erasure.Via.ADMIN) for i in identities])
    return None


@admin.action(description=gettext_lazy("Forget their shopping behaviour (keep the accounts)"))
def forget_users(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> Any:
    """For the shop's user admin: erase the selected users' behaviour data (see the module docstring)."""
    if not can_forget(request):
        raise PermissionDenied
    _report(request, [forget_shopper(user=u, by=request.user, via=Erasure.Via.ADMIN) for u in queryset])
    return None
