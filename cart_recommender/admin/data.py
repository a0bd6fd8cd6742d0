"""The behaviour-events admin: a read-only list, and the data overview screen.

The overview answers "is there enough data to train, and what does it look like?": events per
type per day, how many shoppers, orders and products, the most co-purchased pairs, and a
warning for each minimum of :data:`cart_recommender.events.health.DATA_MINIMUMS` the data falls short of.
"""

from __future__ import annotations

import json
import time
from datetime import date, datetime, timedelta
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Max
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cart_recommender.adapter import get_adapter
from cart_recommender.admin.common import AdminMedia, ReadOnlyAdmin, nav_links
from cart_recommender.admin.plots import Series, line_chart
from cart_recommender.admin.privacy import can_forget, forget_event_shoppers
from cart_recommender.conf import app_settings
from cart_recommender.events import health
from cart_recommender.models import Event, EventType
from cart_recommender.serving.cache import get_cache

#: Window choices of the overview, in days (None = all data); the default is the first.
#: The default is all data: what the next retrain reads (an imported history can be years old).
WINDOWS = {"all": None, "365": 365, "90": 90, "30": 30}
#: How long the overview's counts are reused (they take seconds on millions of events).
CACHE_SECONDS = 600
#: Counts that took longer than this are reused for CACHE_SECONDS even after new events came
#: in: a live shop records events all the time, and recounting millions of them for every
#: look at the page would make it unusable (a 100k-event shop on SQLite: about 5 s). Quicker
#: counts are redone as soon as there is a new event.
SLOW_COUNT_SECONDS = 1.0


class EventAdmin(ReadOnlyAdmin):
    list_display = ("timestamp", "event_type", "product_name", "shopper", "order_ref", "quantity", "source")
    list_filter = ("event_type", "source")
    list_select_related = ("product", "user")
    search_fields = ("order_ref", "shopper_ref", "session_key")
    date_hierarchy = "timestamp"
    show_full_result_count = False  # counting millions of rows twice per page is slow
    list_per_page = 100
    change_list_template = "admin/cart_recommender/event/change_list.html"
    actions = [forget_event_shoppers]
    Media = AdminMedia

    def has_forget_permission(self, request: HttpRequest) -> bool:
        return can_forget(request)

    @admin.display(description=gettext_lazy("product"), ordering="product")
    def product_name(self, obj: Event) -> str:
        return get_adapter().get_display(obj.product).name

    @admin.display(description=gettext_lazy("shopper"))
    def shopper(self, obj: Event) -> str:
        if obj.user_id:
            return str(obj.user)
        if obj.shopper_ref:
            return obj.shopper_ref
        return _("session %(key)s…") % {"key": obj.session_key[:8]} if obj.session_key else "–"

    def get_urls(self) -> list:
        return [
            path("overview/", self.admin_site.admin_view(self.overview_view),
                 name="cart_recommender_event_overview"),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        return super().changelist_view(request, {"cr_links": nav_links(request), **(extra_context or {})})

    def overview_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        window_key = request.GET.get("window", "all")
        if window_key not in WINDOWS:
            window_key = "all"
        first, last = health.time_span()
        days = WINDOWS[window_key]
        since = last - timedelta(days=days) if last and days else None
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Behaviour data overview"),
            "cr_links": nav_links(request),
            "windows": [(k, _("all data") if v is None else _("last %(n)d days") % {"n": v})
                        for k, v in WINDOWS.items()],
            "window": window_key,
            "first": first,
            "last": last,
            "since": since,
            "retention_days": app_settings.EVENT_RETENTION_DAYS,
        }
        if last is not None:
            data = overview_data(since, last, first, refresh="refresh" in request.GET)
            context.update(data)
            context["chart"] = line_chart(
                [Series(str(EventType(t).label), counts) for t, counts in data["per_type"].items()],
                x_values=[f"{d:%d %b %Y}" for d in data["days"]], title=_("Events per type per day"),
                y_label=_("events"), y_min=0.0, width=860, max_x_labels=7,
            )
            context["warnings"] = health.thin_data(data["facts"], data["span_days"])
            have = {**data["facts"], "days": data["span_days"]}
            context["minimums"] = [{"key": k, "need": need, "why": why, "have": have.get(k)}
                                   for k, (need, why) in health.DATA_MINIMUMS.items()]
        return TemplateResponse(request, "admin/cart_recommender/event/overview.html", context)


def overview_data(since: datetime | None, last: datetime, first: datetime | None,
                  refresh: bool = False) -> dict[str, Any]:
    """The overview's numbers, cached in ``CACHE_ALIAS`` per window (see :data:`SLOW_COUNT_SECONDS`).

    The cached numbers come with the window they were counted for (``since``, ``until``), the
    newest event id they include and whether counting them was slow.
    """
    newest = Event.objects.aggregate(n=Max("pk"))["n"]
    window = "all" if since is None else str((last - since).days)
    key = f"cart_recommender:admin-overview:{window}"
    cache = get_cache()
    if cache is not None and not refresh:
        cached = _from_json(cache.get(key))
        if cached is not None and (cached["newest"] == newest or cached["slow"]):
            return cached
    started = time.monotonic()
    days, per_type = health.events_per_type_per_day(since, last)
    found = health.top_copurchased_pairs(15, since, last)
    adapter = get_adapter()
    ids = {p for a, b, _n in found.pairs for p in (a, b)}
    products = adapter.product_queryset().in_bulk(list(ids)) if ids else {}

    def name(pk: Any) -> str:
        product = products.get(pk)
        return adapter.get_display(product).name if product is not None else str(pk)

    data = {
        "days": days,
        "per_type": per_type,
        "totals": health.totals(since, last),
        "facts": health.basket_facts(since, last),
        "span_days": (last - (since or first)).days if first else 0,
        "pairs": [{"a": name(a), "b": name(b), "orders": n} for a, b, n in found.pairs],
        "pairs_exact": found.exact,
        "pairs_among": found.among,
        "computed_at": timezone.now(),
        "since": since,
        "until": last,
        "newest": newest,
    }
    data["count_seconds"] = round(time.monotonic() - started, 1)
    data["slow"] = data["count_seconds"] > SLOW_COUNT_SECONDS
    if cache is not None:
        cache.set(key, json.dumps(data, cls=DjangoJSONEncoder), CACHE_SECONDS)
    return data


#: Values of :func:`overview_data` that JSON carries as text (see :mod:`cart_recommender.serving.cache`).
_MOMENTS = ("computed_at", "since", "until")


def _from_json(text: Any) -> dict[str, Any] | None:
    """What :func:`overview_data` cached, with its dates restored; None for anything else."""
    if not isinstance(text, str):
        return None
    try:
        data = json.loads(text)
        data["days"] = [date.fromisoformat(d) for d in data["days"]]
        for name in _MOMENTS:
            data[name] = datetime.fromisoformat(data[name]) if data[name] else None
    except (ValueError, TypeError, KeyError):
        return None
    return data
