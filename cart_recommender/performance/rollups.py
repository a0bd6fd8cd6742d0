"""Rollups: what bundles did, per day, version, scorer, arm and shopper segment, kept up to date
incrementally.

The dashboard and the A/B results read these rows, never the events table. :func:`update`
(the ``update_performance`` task; the dashboard also counts a small backlog itself when the rows
are older than ``ROLLUP_SECONDS``) reads the events stored since its last run (by id,
:class:`~cart_recommender.models.RollupCursor`) and rebuilds:

- every day those events fall on (:class:`~cart_recommender.models.BundleDay` and
  :class:`~cart_recommender.models.ProductDay`), plus today and yesterday on every run, so an
  event whose transaction committed late is never missed;
- the per-shopper sums of the running A/B test for the shoppers those events belong to
  (:class:`~cart_recommender.models.ExperimentShopper`): every shopper who added to the cart or
  bought during the test, in the arm the assignment hash gives their key (intention to treat:
  a hold-out shopper, who saw no bundle, is counted like any other).

Rebuilding a day from its events makes a run idempotent: a retried or overlapping run (they are
serialised by a row lock on the cursor) gives the same rows. A day whose events were deleted
(retention) keeps its rows until an event of that day arrives again; aggregates hold nobody.

Example::

    from cart_recommender.performance import rollups
    rollups.update()      # UpdateReport(days=3, shoppers=120, events=5400, ...)
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Count, DecimalField, ExpressionWrapper, F, Max, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from cart_recommender import shoppers
from cart_recommender.experiments.assignment import arm_index
from cart_recommender.models import (
    BundleDay,
    Event,
    EventType,
    Experiment,
    ExperimentArm,
    ExperimentShopper,
    ProductDay,
    RollupCursor,
)
from cart_recommender.performance.attribution import ATTRIBUTED, TOUCHES

#: Shoppers recomputed per query.
_CHUNK = 300
_MONEY = DecimalField(max_digits=14, decimal_places=2)
_LINE = ExpressionWrapper(F("quantity") * F("unit_price"), output_field=_MONEY)


@dataclass
class UpdateReport:
    """What one :func:`update` did."""

    events: int = 0
    days: int = 0
    shoppers: int = 0
    last_event_id: int = 0
    seconds: float = 0.0


def update(*, full: bool = False) -> UpdateReport:
    """Bring the rollups up to date with the events stored since the last run.

    ``full`` rebuilds every day and every A/B test shopper from scratch.
    """
    started = time.monotonic()
    report = UpdateReport()
    with transaction.atomic():
        cursor, _ = RollupCursor.objects.select_for_update().get_or_create(name="performance")
        last = 0 if full else cursor.last_event_id
        newest = Event.objects.aggregate(n=Max("pk"))["n"] or 0
        new = Event.objects.filter(pk__gt=last, pk__lte=newest)
        report.events = new.count() if full else max(0, newest - last)
        days = set(
            new.filter(Q(event_type__in=TOUCHES) | Q(event_type__in=ATTRIBUTED))
            .exclude(bundle_id="")
            .annotate(day=TruncDate("timestamp"))
            .values_list("day", flat=True)
            .distinct()
            .order_by()
        )
        today = timezone.localdate()
        days |= {today, today - timedelta(days=1)}
        if full:
            BundleDay.objects.all().delete()
            ProductDay.objects.all().delete()
        for day in sorted(d for d in days if d is not None):
            rebuild_day(day)
        report.days = len(days)
        for experiment in Experiment.objects.exclude(status=Experiment.Status.DRAFT).exclude(started_at=None):
            if (
                experiment.status == Experiment.Status.STOPPED
                and not full
                and (
                    experiment.stopped_at is None
                    or experiment.stopped_at < timezone.now() - timedelta(days=2)
                )
            ):
                continue  # long over: its shoppers no longer change (a full run still rebuilds it)
            report.shoppers += update_experiment(experiment, None if full else last, newest)
        cursor.last_event_id = newest
        cursor.updated_at = timezone.now()
        cursor.save(update_fields=["last_event_id", "updated_at"])
    report.last_event_id = newest
    report.seconds = time.monotonic() - started
    return report


def pending() -> int:
    """About how many events were stored since the last update (ids are not dense: an upper bound)."""
    newest = Event.objects.aggregate(n=Max("pk"))["n"] or 0
    seen = (
        RollupCursor.objects.filter(name="performance").values_list("last_event_id", flat=True).first() or 0
    )
    return max(0, newest - seen)


def last_update() -> datetime | None:
    """When the rollups were last brought up to date (None: never)."""
    return RollupCursor.objects.filter(name="performance").values_list("updated_at", flat=True).first()


def _day_span(day: date) -> tuple[datetime, datetime]:
    tz = timezone.get_current_timezone()
    start = timezone.make_aware(datetime.combine(day, datetime.min.time()), tz)
    end = timezone.make_aware(datetime.combine(day + timedelta(days=1), datetime.min.time()), tz)
    return start, end


def rebuild_day(day: date) -> int:
    """Recount one day from its events; returns the number of rows written."""
    start, end = _day_span(day)
    events = Event.objects.filter(timestamp__gte=start, timestamp__lt=end).exclude(bundle_id="").order_by()
    BundleDay.objects.filter(day=day).delete()
    ProductDay.objects.filter(day=day).delete()
    rows: dict[tuple[str, str, Any, Any], BundleDay] = {}

    def row(served_by: str, scorer: str, arm: Any, segment: Any) -> BundleDay:
        key = (served_by, scorer, arm, segment)
        if key not in rows:
            rows[key] = BundleDay(day=day, served_by=served_by, scorer=scorer, arm_id=arm, segment=segment)
        return rows[key]

    grouped = (
        events.filter(event_type__in=(*TOUCHES, *ATTRIBUTED))
        .values("served_by", "scorer", "arm_id", "segment", "event_type")
        .annotate(
            n=Count("pk"), bundles=Count("bundle_id", distinct=True), units=Sum("quantity"), money=Sum(_LINE)
        )
    )
    for g in grouped:
        r = row(g["served_by"], g["scorer"], g["arm_id"], g["segment"])
        kind = g["event_type"]
        if kind == EventType.BUNDLE_IMPRESSION:
            r.items_shown, r.bundles_shown = g["n"], g["bundles"]
        elif kind == EventType.BUNDLE_CLICK:
            r.clicks, r.bundles_clicked = g["n"], g["bundles"]
        elif kind == EventType.ADD_TO_CART:
            r.add_to_carts = g["n"]
        elif kind == EventType.REMOVE_FROM_CART:
            r.removals = g["n"]
        elif kind == EventType.PURCHASE:
            r.units, r.revenue = g["units"] or 0, g["money"] or Decimal(0)
        elif kind == EventType.REFUND:
            r.refunded = g["money"] or Decimal(0)
    # orders: distinct order references (a purchase without one is an order of its own)
    orders = (
        events.filter(event_type=EventType.PURCHASE)
        .values("served_by", "scorer", "arm_id", "segment")
        .annotate(
            named=Count("order_ref", distinct=True, filter=~Q(order_ref="")),
            loose=Count("pk", filter=Q(order_ref="")),
        )
    )
    for g in orders:
        row(g["served_by"], g["scorer"], g["arm_id"], g["segment"]).orders = g["named"] + g["loose"]
    BundleDay.objects.bulk_create(rows.values())
    products: dict[tuple[Any, str, str, Any, Any], ProductDay] = {}
    per_product = (
        events.filter(
            event_type__in=(
                EventType.BUNDLE_IMPRESSION,
                EventType.ADD_TO_CART,
                EventType.PURCHASE,
                EventType.REFUND,
            )
        )
        .values("product_id", "served_by", "scorer", "arm_id", "segment", "event_type")
        .annotate(n=Count("pk"), units=Sum("quantity"), money=Sum(_LINE))
    )
    for g in per_product:
        key = (g["product_id"], g["served_by"], g["scorer"], g["arm_id"], g["segment"])
        p = products.get(key)
        if p is None:
            p = products[key] = ProductDay(
                day=day, product_id=key[0], served_by=key[1], scorer=key[2], arm_id=key[3], segment=key[4]
            )
        kind = g["event_type"]
        if kind == EventType.BUNDLE_IMPRESSION:
            p.items_shown = g["n"]
        elif kind == EventType.ADD_TO_CART:
            p.add_to_carts = g["n"]
        elif kind == EventType.PURCHASE:
            p.units, p.revenue = p.units + (g["units"] or 0), p.revenue + (g["money"] or Decimal(0))
        elif kind == EventType.REFUND:
            p.revenue -= g["money"] or Decimal(0)
    ProductDay.objects.bulk_create(products.values())
    return len(rows) + len(products)


# -- A/B test shoppers -------------------------------------------------------------------------

#: Events that put a shopper into a test's population (they had a cart, or bought).
POPULATION = (EventType.ADD_TO_CART, EventType.PURCHASE)
_READ = (*TOUCHES, EventType.ADD_TO_CART, EventType.PURCHASE, EventType.REFUND)


def subject_of(key: str) -> str:
    """The keyed hash an :class:`ExperimentShopper` row names a shopper by (the same in every test)."""
    return shoppers.pseudonym(key)


def _period(experiment: Experiment) -> Q:
    q = Q(timestamp__gte=experiment.started_at)
    if experiment.stopped_at is not None:
        q &= Q(timestamp__lte=experiment.stopped_at)
    return q


def update_experiment(experiment: Experiment, since: int | None, newest: int) -> int:
    """Recompute the test's rows of the shoppers with events after id ``since`` (None: all)."""
    events = Event.objects.filter(_period(experiment), event_type__in=_READ).order_by()
    touched = events.filter(pk__lte=newest)
    if since is not None:
        touched = touched.filter(pk__gt=since)
    else:
        ExperimentShopper.objects.filter(experiment=experiment).delete()
    keys = {
        shoppers.shopper_key(u, r, s)
        for u, r, s in touched.values_list("user_id", "shopper_ref", "session_key").distinct()
    }
    keys.discard("")
    if not keys:
        return 0
    arms = list(
        ExperimentArm.objects.filter(experiment=experiment)
        .order_by("position", "pk")
        .values_list("pk", "share")
    )
    arm_ids = {pk for pk, _ in arms}
    shares = [share for _, share in arms]
    done = 0
    ordered = sorted(keys)
    for start in range(0, len(ordered), _CHUNK):
        chunk = ordered[start : start + _CHUNK]
        sums = _shopper_sums(events.filter(pk__lte=newest), chunk, arm_ids)
        ExperimentShopper.objects.filter(
            experiment=experiment, subject__in=[subject_of(k) for k in chunk]
        ).delete()
        rows = []
        for key in chunk:
            s = sums.get(key)
            if s is None or not s["population"]:
                continue
            index = arm_index(experiment.pk, key, shares)
            rows.append(
                ExperimentShopper(
                    experiment=experiment,
                    arm_id=arms[index][0],
                    subject=subject_of(key),
                    bundles_shown=len(s["shown"]),
                    bundles_clicked=len(s["clicked"]),
                    orders=len(s["orders"]),
                    revenue=s["revenue"],
                    attributed_orders=len(s["credited_orders"]),
                    attributed_revenue=s["credited"],
                )
            )
        ExperimentShopper.objects.bulk_create(rows)
        done += len(rows)
    return done


def _shopper_sums(events: Any, keys: Iterable[str], arm_ids: set[int]) -> dict[str, dict[str, Any]]:
    refs = [k[2:] for k in keys if k.startswith("r:")]
    users = [k[2:] for k in keys if k.startswith("u:")]
    sessions = [k[2:] for k in keys if k.startswith("s:")]
    match = Q(pk__in=[])
    if refs:
        match |= Q(shopper_ref__in=refs)
    if users:
        match |= Q(user_id__in=users, shopper_ref="")
    if sessions:
        match |= Q(session_key__in=sessions, user__isnull=True, shopper_ref="")
    out: dict[str, dict[str, Any]] = defaultdict(
        lambda: {
            "population": False,
            "shown": set(),
            "clicked": set(),
            "orders": set(),
            "revenue": Decimal(0),
            "credited_orders": set(),
            "credited": Decimal(0),
        }
    )
    rows = events.filter(match).values_list(
        "pk",
        "user_id",
        "shopper_ref",
        "session_key",
        "event_type",
        "bundle_id",
        "arm_id",
        "order_ref",
        "quantity",
        "unit_price",
    )
    for pk, user, ref, session, kind, bundle, arm, order, quantity, price in rows:
        s = out[shoppers.shopper_key(user, ref, session)]
        ours = arm in arm_ids
        if kind == EventType.BUNDLE_IMPRESSION:
            if ours:
                s["shown"].add(bundle)
            continue
        if kind == EventType.BUNDLE_CLICK:
            if ours:
                s["clicked"].add(bundle)
            continue
        if kind in POPULATION:
            s["population"] = True
        if kind == EventType.ADD_TO_CART:
            continue
        line = Decimal(quantity) * (price or Decimal(0))
        sign = -1 if kind == EventType.REFUND else 1
        s["revenue"] += sign * line
        if kind == EventType.PURCHASE:
            s["orders"].add(order or f"#{pk}")
        if ours:
            s["credited"] += sign * line
            if kind == EventType.PURCHASE:
                s["credited_orders"].add(order or f"#{pk}")
    return out


def export(subject: Any) -> dict[str, Any]:
    """The shopper's A/B test rows, for their data export (``shopper_exported`` receiver)."""
    rows = ExperimentShopper.objects.filter(subject__in=[subject_of(k) for k in subject.keys])
    return {
        "A/B tests": [
            {
                "test": r.experiment.name,
                "arm": r.arm.name,
                "bundles_shown": r.bundles_shown,
                "bundles_clicked": r.bundles_clicked,
                "orders": r.orders,
                "revenue": str(r.revenue),
                "orders_through_bundles": r.attributed_orders,
                "revenue_through_bundles": str(r.attributed_revenue),
            }
            for r in rows.select_related("experiment", "arm")
        ]
    }


def forget(subject: Any) -> int:
    """Delete the A/B test rows of an erased shopper (``shopper_forgotten`` receiver)."""
    keys = subject.keys
    if not keys:
        return 0
    hashes = [subject_of(k) for k in keys]
    deleted, _ = ExperimentShopper.objects.filter(subject__in=hashes).delete()
    return deleted
