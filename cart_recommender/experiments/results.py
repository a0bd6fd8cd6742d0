"""An A/B test's result: each arm's numbers, each arm against the control, and the verdict.

Read from the rollups only (:mod:`cart_recommender.performance.rollups`): one grouped query over
the test's shopper rows, one over its daily rows. The first arm is the control; every other arm
is compared with it, at ``EXPERIMENT_CONFIDENCE`` with a Bonferroni correction for more than one
comparison. A winner is declared only when the test has run its minimum duration, every arm has
``EXPERIMENT_MIN_SHOPPERS`` shoppers, and the primary metric differs beyond noise; until then
the result says what it is waiting for. "Winner" is never said on a point estimate alone.

Metrics (per shopper: every shopper who added to the cart or bought during the test, in the arm
their key hashes to):

- ``revenue_per_shopper``: all their purchases minus refunds (Welch's t-test). The true lift of
  showing bundles at all, when one arm is the hold-out.
- ``attributed_revenue_per_shopper``: what they bought through a bundle (Welch's t-test).
- ``conversion``: the share of shoppers who placed an order (two-proportion z-test).
- ``ctr``: bundles clicked / bundles shown (two-proportion z-test; bundles as the unit).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, FloatField, Q, Sum
from django.db.models.functions import Cast
from django.utils import timezone

from cart_recommender.conf import app_settings
from cart_recommender.experiments import stats
from cart_recommender.models import BundleDay, Experiment, ExperimentArm, ExperimentShopper

METRICS = {m.value: m.label for m in Experiment.Metric}


@dataclass
class ArmNumbers:
    """One arm's totals."""

    arm: ExperimentArm
    shoppers: int = 0
    ordering: int = 0  # shoppers who placed an order
    revenue: stats.Moments = field(default_factory=lambda: stats.Moments(0, 0.0, 0.0))
    attributed: stats.Moments = field(default_factory=lambda: stats.Moments(0, 0.0, 0.0))
    bundles_shown: int = 0
    bundles_clicked: int = 0

    def value(self, metric: str) -> float | None:
        if metric == "revenue_per_shopper":
            return self.revenue.mean if self.shoppers else None
        if metric == "attributed_revenue_per_shopper":
            return self.attributed.mean if self.shoppers else None
        if metric == "conversion":
            return self.ordering / self.shoppers if self.shoppers else None
        return self.bundles_clicked / self.bundles_shown if self.bundles_shown else None


@dataclass
class Result:
    """The whole result: arms, comparisons with the control, and the verdict in words."""

    experiment: Experiment
    arms: list[ArmNumbers]
    comparisons: dict[int, dict[str, stats.Comparison | None]]  # arm pk -> metric -> vs control
    alpha: float
    waiting_for: list[str]
    winner: ExperimentArm | None
    verdict: str
    days: float

    @property
    def control(self) -> ArmNumbers | None:
        return self.arms[0] if self.arms else None


def compare(
    metric: str, control: ArmNumbers, other: ArmNumbers, confidence: float
) -> stats.Comparison | None:
    if metric == "revenue_per_shopper":
        return stats.means(control.revenue, other.revenue, confidence)
    if metric == "attributed_revenue_per_shopper":
        return stats.means(control.attributed, other.attributed, confidence)
    if metric == "conversion":
        return stats.rates(control.ordering, control.shoppers, other.ordering, other.shoppers, confidence)
    return stats.rates(
        control.bundles_clicked, control.bundles_shown, other.bundles_clicked, other.bundles_shown, confidence
    )


def arm_numbers(experiment: Experiment, subjects: Any = None) -> list[ArmNumbers]:
    """Each arm's totals, from the rollups (two grouped queries).

    ``subjects``: only these shoppers (keyed hashes; a list or a subquery, e.g. one segment's
    members). Bundles shown and clicked then come from those shoppers' own rows.
    """
    arms = list(experiment.arms.select_related("version").order_by("position", "pk"))
    numbers = {a.pk: ArmNumbers(a) for a in arms}
    revenue = Cast("revenue", FloatField())
    credited = Cast("attributed_revenue", FloatField())
    rows = ExperimentShopper.objects.filter(experiment=experiment)
    if subjects is not None:
        rows = rows.filter(subject__in=subjects)
    per_arm = (
        rows
        .values("arm_id")
        .order_by()
        .annotate(
            n=Count("pk"),
            ordering=Count("pk", filter=Q(orders__gt=0)),
            rev=Sum(revenue),
            rev2=Sum(revenue * revenue),
            att=Sum(credited),
            att2=Sum(credited * credited),
            shown=Sum("bundles_shown"),
            clicked=Sum("bundles_clicked"),
        )
    )
    for g in per_arm:
        n = numbers.get(g["arm_id"])
        if n is None:
            continue
        n.shoppers, n.ordering = g["n"], g["ordering"]
        n.revenue = stats.Moments(g["n"], float(g["rev"] or 0), float(g["rev2"] or 0))
        n.attributed = stats.Moments(g["n"], float(g["att"] or 0), float(g["att2"] or 0))
        if subjects is not None:
            n.bundles_shown, n.bundles_clicked = g["shown"] or 0, g["clicked"] or 0
    if subjects is not None:
        return [numbers[a.pk] for a in arms]
    shown = (
        BundleDay.objects.filter(arm__experiment=experiment)
        .values("arm_id")
        .order_by()
        .annotate(shown=Sum("bundles_shown"), clicked=Sum("bundles_clicked"))
    )
    for g in shown:
        n = numbers.get(g["arm_id"])
        if n is not None:
            n.bundles_shown, n.bundles_clicked = g["shown"] or 0, g["clicked"] or 0
    return [numbers[a.pk] for a in arms]


def result(experiment: Experiment, subjects: Any = None) -> Result:
    """The test's result as the admin and the REST API show it (``subjects``: see :func:`arm_numbers`)."""
    arms = arm_numbers(experiment, subjects)
    confidence = float(app_settings.EXPERIMENT_CONFIDENCE)
    others = max(1, len(arms) - 1)
    alpha = (1 - confidence) / others  # Bonferroni: each comparison at a stricter level
    corrected = 1 - alpha
    comparisons: dict[int, dict[str, stats.Comparison | None]] = {}
    if arms:
        for other in arms[1:]:
            comparisons[other.arm.pk] = {m: compare(m, arms[0], other, corrected) for m in METRICS}
    end = experiment.stopped_at or timezone.now()
    days = (end - experiment.started_at).total_seconds() / 86400 if experiment.started_at else 0.0
    waiting = []
    if experiment.started_at is None:
        waiting.append("the test has not started")
    elif days < experiment.min_days:
        waiting.append(f"its minimum duration ({experiment.min_days} days; {days:.1f} so far)")
    least = app_settings.EXPERIMENT_MIN_SHOPPERS
    small = [a.arm.name for a in arms if a.shoppers < least]
    if small:
        waiting.append(f"{least:,} shoppers in every arm ({', '.join(small)} below)")
    metric = experiment.primary_metric
    winner, verdict = _verdict(arms, comparisons, metric, alpha, waiting)
    return Result(experiment, arms, comparisons, alpha, waiting, winner, verdict, days)


def _verdict(
    arms: list[ArmNumbers],
    comparisons: dict[int, dict[str, Any]],
    metric: str,
    alpha: float,
    waiting: list[str],
) -> tuple[ExperimentArm | None, str]:
    name = METRICS[metric]
    if len(arms) < 2:
        return None, "The test has fewer than two arms."
    if waiting:
        return None, "Too early to call: waiting for " + "; ".join(waiting) + "."
    better = [(comparisons[a.arm.pk][metric], a) for a in arms[1:]]
    significant = [(c, a) for c, a in better if c is not None and c.significant(alpha)]
    ups = [(c, a) for c, a in significant if c.difference > 0]
    if ups:
        c, a = max(ups, key=lambda ca: ca[0].value)
        return a.arm, (
            f"{a.arm.name} beats the control {arms[0].arm.name} on {name} "
            f"(p = {c.p_value:.3g}, below {alpha:.3g})."
        )
    if len(significant) == len(better) and all(c.difference < 0 for c, _ in significant):
        return arms[0].arm, (f"The control {arms[0].arm.name} beats every other arm on {name}.")
    return None, (f"No arm differs from the control on {name} beyond noise at this sample size; no winner.")


def to_dict(res: Result) -> dict[str, Any]:
    """The result as JSON-ready data (the REST endpoint and the simulation benchmark)."""

    def comparison(c: stats.Comparison | None) -> dict[str, Any] | None:
        if c is None:
            return None
        return {
            "control": c.control,
            "value": c.value,
            "difference": c.difference,
            "interval": [c.low, c.high],
            "lift": c.lift,
            "lift_interval": [c.lift_low, c.lift_high] if c.lift is not None else None,
            "p_value": c.p_value,
            "test": c.test,
        }

    return {
        "experiment": res.experiment.pk,
        "name": res.experiment.name,
        "status": res.experiment.status,
        "primary_metric": res.experiment.primary_metric,
        "days": round(res.days, 2),
        "alpha": res.alpha,
        "arms": [
            {
                "id": a.arm.pk,
                "name": a.arm.name,
                "serves": a.arm.serves,
                "share": a.arm.share,
                "shoppers": a.shoppers,
                "ordering": a.ordering,
                "revenue_per_shopper": a.revenue.mean,
                "attributed_revenue_per_shopper": a.attributed.mean,
                "conversion": a.value("conversion"),
                "bundles_shown": a.bundles_shown,
                "bundles_clicked": a.bundles_clicked,
                "ctr": a.value("ctr"),
                "vs_control": {m: comparison(c) for m, c in res.comparisons.get(a.arm.pk, {}).items()},
            }
            for a in res.arms
        ],
        "waiting_for": res.waiting_for,
        "winner": res.winner.name if res.winner else None,
        "verdict": res.verdict,
    }


__all__ = ["METRICS", "ArmNumbers", "Result", "arm_numbers", "result", "to_dict"]
