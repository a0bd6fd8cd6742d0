"""The bundle funnel read back from the rollups: per day, per version and scorer, per arm.

Every number here comes from :class:`~cart_recommender.models.BundleDay` and
:class:`~cart_recommender.models.ProductDay` rows (a few per day), so the dashboard, its CSV and
the REST endpoint cost a handful of small queries however many events the shop has.

Example::

    from cart_recommender.performance import report
    totals = report.totals(report.Period.last_days(30))
    totals.ctr, totals.revenue_per_1000
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from cart_recommender.models import BundleDay, ProductDay

COUNTS = (
    "bundles_shown",
    "items_shown",
    "bundles_clicked",
    "clicks",
    "add_to_carts",
    "removals",
    "orders",
    "units",
)
MONEY = ("revenue", "refunded")
CENT = Decimal("0.01")


@dataclass
class Funnel:
    """Summed counts of some rollup rows, and the rates a shop owner asks about."""

    bundles_shown: int = 0
    items_shown: int = 0
    bundles_clicked: int = 0
    clicks: int = 0
    add_to_carts: int = 0
    removals: int = 0
    orders: int = 0
    units: int = 0
    revenue: Decimal = Decimal(0)
    refunded: Decimal = Decimal(0)

    @property
    def net_revenue(self) -> Decimal:
        """Attributed revenue: purchases credited to bundles, minus their refunds."""
        return self.revenue - self.refunded

    @property
    def ctr(self) -> float | None:
        """Share of bundles shown that were clicked."""
        return self.bundles_clicked / self.bundles_shown if self.bundles_shown else None

    @property
    def conversion(self) -> float | None:
        """Orders holding a bundle item per bundle shown."""
        return self.orders / self.bundles_shown if self.bundles_shown else None

    @property
    def revenue_per_1000(self) -> Decimal | None:
        """Attributed revenue per 1,000 bundles shown."""
        if not self.bundles_shown:
            return None
        return (self.net_revenue * 1000 / self.bundles_shown).quantize(Decimal("0.01"))

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in MONEY:
            out[name] = str(out[name])
        out["net_revenue"] = str(self.net_revenue)
        out["ctr"] = self.ctr
        out["conversion"] = self.conversion
        per = self.revenue_per_1000
        out["revenue_per_1000_bundles"] = None if per is None else str(per)
        return out


def _sum(values: dict[str, Any]) -> Funnel:
    f = Funnel()
    for name in COUNTS:
        setattr(f, name, values.get(name) or 0)
    for name in MONEY:
        setattr(f, name, Decimal(values.get(name) or 0).quantize(CENT))
    return f


_SUMS = {name: Sum(name) for name in (*COUNTS, *MONEY)}


@dataclass(frozen=True)
class Period:
    """An inclusive range of days, with the optional filters of the dashboard."""

    start: date
    end: date
    served_by: str = ""
    arm_id: int | None = None
    experiment_id: int | None = None
    segment: int | None = None  # bundles served to this segment's shoppers only

    @classmethod
    def last_days(cls, days: int, **filters: Any) -> Period:
        today = timezone.localdate()
        return cls(today - timedelta(days=days - 1), today, **filters)

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    def rows(self, model: type = BundleDay) -> QuerySet:
        qs = model.objects.filter(day__gte=self.start, day__lte=self.end)
        if self.served_by:
            qs = qs.filter(served_by=self.served_by)
        if self.arm_id is not None:
            qs = qs.filter(arm_id=self.arm_id)
        if self.experiment_id is not None:
            qs = qs.filter(arm__experiment_id=self.experiment_id)
        if self.segment is not None:
            qs = qs.filter(segment=self.segment)
        return qs.order_by()


def totals(period: Period) -> Funnel:
    return _sum(period.rows().aggregate(**_SUMS))


def by_day(period: Period) -> list[tuple[date, Funnel]]:
    found = {g["day"]: _sum(g) for g in period.rows().values("day").annotate(**_SUMS)}
    return [(d, found.get(d, Funnel())) for d in period.days()]


def by_server(period: Period) -> list[tuple[str, str, Funnel]]:
    """Per serving version and scorer, most bundles shown first."""
    rows = [
        (g["served_by"], g["scorer"], _sum(g))
        for g in period.rows().values("served_by", "scorer").annotate(**_SUMS)
    ]
    return sorted(rows, key=lambda r: (-r[2].bundles_shown, r[0], r[1]))


def by_arm(period: Period) -> list[tuple[int | None, str, Funnel]]:
    """Per experiment arm (None: bundles shown outside any test)."""
    rows = [
        (g["arm_id"], g["arm__name"] or "", _sum(g))
        for g in period.rows().values("arm_id", "arm__name").annotate(**_SUMS)
    ]
    return sorted(rows, key=lambda r: (r[0] is None, r[0] or 0))


@dataclass(frozen=True)
class ProductLine:
    product_id: Any
    times_shown: int
    add_to_carts: int
    units: int
    revenue: Decimal


def top_products(period: Period, limit: int = 10) -> list[ProductLine]:
    """The products that earned the most through bundles in the period (shown only: left out)."""
    rows = (
        period.rows(ProductDay)
        .values("product_id")
        .annotate(
            shown=Sum("items_shown"), adds=Sum("add_to_carts"), units=Sum("units"), money=Sum("revenue")
        )
        .filter(Q(adds__gt=0) | Q(units__gt=0))
        .order_by("-money", "-adds", "product_id")[:limit]
    )
    return [
        ProductLine(
            g["product_id"],
            g["shown"] or 0,
            g["adds"] or 0,
            g["units"] or 0,
            Decimal(g["money"] or 0).quantize(CENT),
        )
        for g in rows
    ]


def servers(period: Period) -> list[str]:
    """The serving versions that showed bundles in the period (for the filter)."""
    return sorted(
        set(
            BundleDay.objects.filter(day__gte=period.start, day__lte=period.end).values_list(
                "served_by", flat=True
            )
        ),
        key=lambda s: (s == "baseline", s),
    )
