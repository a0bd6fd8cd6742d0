"""The running A/B test as each web process serves it: the arms, what each serves, who is where.

Built with the serving state (:mod:`.state`) in the same periodic check, from one query, so a
bundle request assigns its shopper (:mod:`cart_recommender.experiments.assignment`, a hash) and
picks the arm's model without touching the database. A version arm serves that version's
artifact (loaded once per process; the active version's model is shared), a baseline arm
serves the baseline from the active version's arrays, a hold-out arm serves no bundle.

Example::

    plan = state.get_state().experiment
    arm = plan.arm_for("u:12") if plan else None    # ArmPlan or None (nobody, or no test)
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cart_recommender.experiments.assignment import bounds, bucket, index_of
from cart_recommender.models import Experiment, ExperimentArm


@dataclass(frozen=True)
class ArmPlan:
    """One arm: its id and name, and the scoring state of its shoppers (None: hold-out)."""

    arm_id: int
    name: str
    kind: str
    state: Any  # a ServingState, or None for the hold-out


@dataclass(frozen=True)
class ExperimentPlan:
    """The running experiment's arms and their bucket bounds."""

    experiment_id: int
    arms: tuple[ArmPlan, ...]
    upper: tuple[int, ...]
    digest: str

    def arm_for(self, key: str) -> ArmPlan | None:
        """The arm of the shopper with this key; None for nobody (no key, so no stable arm)."""
        if not key:
            return None
        return self.arms[index_of(bucket(self.experiment_id, key), self.upper)]


def running_arms() -> list[tuple[Any, ...]]:
    """The running experiment's arms as plain rows (one query; empty when none runs)."""
    return list(
        ExperimentArm.objects.filter(experiment__status=Experiment.Status.RUNNING)
        .order_by("position", "pk")
        .values_list(
            "pk", "experiment_id", "name", "kind", "version_id", "version__serving_method", "scorer", "share"
        )
    )


def build_plan(rows: list[tuple[Any, ...]], arm_state: Callable[..., Any]) -> ExperimentPlan | None:
    """The plan of ``rows`` (from :func:`running_arms`); ``arm_state(kind, version_id, method)``
    gives each serving arm's scoring state."""
    if not rows:
        return None
    arms = []
    for pk, _, name, kind, version_id, version_method, scorer, _share in rows:
        if kind == ExperimentArm.Kind.HOLDOUT:
            arms.append(ArmPlan(pk, name, kind, None))
        elif kind == ExperimentArm.Kind.BASELINE:
            arms.append(ArmPlan(pk, name, kind, arm_state(kind, None, scorer)))
        else:
            arms.append(ArmPlan(pk, name, kind, arm_state(kind, version_id, version_method or "model")))
    digest = hashlib.blake2b(repr(rows).encode(), digest_size=6).hexdigest()
    return ExperimentPlan(rows[0][1], tuple(arms), tuple(bounds([r[7] for r in rows])), digest)
