"""Shopper segments: the overview (sizes, value, category mix) and a page per segment.

Segments come from retrains only (nobody adds one by hand); staff rename them, give one its own
category cap, and scope bundle rules to one (the rules screen). A name staff typed survives
every retrain; an untouched one is re-suggested from the new profile.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Count, JSONField, OuterRef, Subquery
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cart_recommender.admin.common import AdminMedia, nav_links
from cart_recommender.admin.performance import product_names
from cart_recommender.admin.plots import bar_chart, stacked_bar_chart
from cart_recommender.models import BundleRule, Segment, SegmentProfile
from cart_recommender.segments import reports


def overview_charts(rows: list[SegmentProfile], groups: list[str]) -> dict[str, Any]:
    """The overview's plots: shoppers, share of revenue, average order value, category mix."""
    names = [r.segment.name for r in rows]
    p = [r.profile for r in rows]
    charts = {
        "size_chart": bar_chart(names, [float(x.get("shoppers", 0)) for x in p], title=_("Shoppers")),
        "revenue_chart": bar_chart(names, [100 * float(x.get("revenue_share", 0)) for x in p],
                                   title=_("Share of revenue (%)"), value_format="{:.1f}%"),
        "aov_chart": bar_chart(names, [float(x.get("aov", 0)) for x in p], title=_("Average order value"),
                               value_format="{:,.2f}"),
        "mix_chart": None,
    }
    if groups and len(groups) > 1:
        charts["mix_chart"] = stacked_bar_chart(
            names, [[float(v) for v in x.get("mix", [])] for x in p], groups,
            title=_("Category mix (share of each segment's spend)"))
    return charts


class SegmentAdmin(admin.ModelAdmin):
    """The changelist is the overview; the change page is the segment's profile."""

    Media = AdminMedia
    change_list_template = "admin/cart_recommender/segment/change_list.html"
    change_form_template = "admin/cart_recommender/segment/change_form.html"
    list_display = ("name", "shoppers", "revenue_share", "aov", "orders_per_shopper", "repeat_share",
                    "category_cap", "rule_count")
    fields = ("name", "category_cap", "note")
    search_fields = ("name",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # segments come from retrains

    def get_queryset(self, request: HttpRequest) -> Any:
        """The list shows the current grouping's segments, largest first; a segment a later
        retrain did not find again keeps its page (its rules and history)."""
        qs = super().get_queryset(request)
        match = getattr(request, "resolver_match", None)
        if match is None or not str(match.url_name).endswith("_changelist"):
            return qs
        version = reports.current_version()
        if version is None:
            return qs.none()
        # each row's profile and rule count in the list's one query, not a query per cell
        profile = SegmentProfile.objects.filter(version=version, segment=OuterRef("pk")).values("profile")[:1]
        return (qs.filter(profiles__version=version)
                .annotate(cr_profile=Subquery(profile, output_field=JSONField()),
                          cr_rules=Count("rules", distinct=True))
                .order_by("profiles__position"))

    def _profile(self, obj: Segment) -> dict[str, Any]:
        return getattr(obj, "cr_profile", None) or {}

    @admin.display(description=gettext_lazy("shoppers"))
    def shoppers(self, obj: Segment) -> str:
        return f"{self._profile(obj).get('shoppers', 0):,}"

    @admin.display(description=gettext_lazy("share of revenue"))
    def revenue_share(self, obj: Segment) -> str:
        return f"{100 * float(self._profile(obj).get('revenue_share', 0)):.1f}%"

    @admin.display(description=gettext_lazy("average order"))
    def aov(self, obj: Segment) -> str:
        return f"{float(self._profile(obj).get('aov', 0)):,.2f}"

    @admin.display(description=gettext_lazy("orders per shopper"))
    def orders_per_shopper(self, obj: Segment) -> str:
        return f"{float(self._profile(obj).get('orders_per_shopper', 0)):.1f}"

    @admin.display(description=gettext_lazy("bought before"))
    def repeat_share(self, obj: Segment) -> str:
        return f"{100 * float(self._profile(obj).get('repeat_share', 0)):.0f}%"

    @admin.display(description=gettext_lazy("rules"))
    def rule_count(self, obj: Segment) -> Any:
        n = getattr(obj, "cr_rules", 0)
        url = reverse("admin:cart_recommender_bundlerule_changelist") + f"?segment__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, n)

    def save_model(self, request: HttpRequest, obj: Segment, form: Any, change: bool) -> None:
        if "name" in form.changed_data:
            obj.name_edited = True  # staff's name: retrains keep it
        super().save_model(request, obj, form, change)

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        version = reports.current_version()
        rows = reports.profiles(version)
        summary = (version.segmentation if version is not None else {}) or {}
        context = {
            **(extra_context or {}),
            "cr_links": nav_links(request),
            "seg_version": version,
            "summary": summary,
            "silhouette": sorted(((int(k), v) for k, v in (summary.get("silhouette") or {}).items())),
            **overview_charts(rows, list(summary.get("groups") or [])),
        }
        return super().changelist_view(request, context)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict | None = None) -> HttpResponse:
        segment = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if segment is not None:
            version = reports.current_version()
            current = next((r for r in reports.profiles(version) if r.segment_id == segment.pk), None)
            past = reports.history(segment)
            groups = list(((version.segmentation if version else {}) or {}).get("groups") or [])
            profile = current.profile if current else {}
            top = profile.get("top_products") or []
            names = product_names([key for key, _share in top])
            context.update({
                "top_products": [(names.get(str(key), str(key)), share) for key, share in top],
                "cr_links": nav_links(request),
                "seg_version": version,
                "profile": profile,
                "bundles": profile.get("bundles") or {},
                "mix_rows": [(g, v) for g, v in zip(groups, profile.get("mix") or [], strict=False) if v],
                "mix_chart": bar_chart(groups, [100 * float(v) for v in profile.get("mix") or []],
                                       title=_("Share of spend per category (%)"), value_format="{:.1f}%")
                if groups and profile.get("mix") else None,
                "past": past,
                "size_chart": bar_chart([f"v{r.version_id}" for r in past], [float(r.shoppers) for r in past],
                                        title=_("Shoppers per model version")) if len(past) > 1 else None,
                "rules": BundleRule.objects.filter(segment=segment).select_related("product", "companion"),
                "rules_url": reverse("admin:cart_recommender_bundlerule_changelist")
                + f"?segment__id__exact={segment.pk}",
                "add_rule_url": reverse("admin:cart_recommender_bundlerule_add") + f"?segment={segment.pk}",
            })
        return super().change_view(request, object_id, form_url, context)
