"""The activation gate: whether a freshly trained version goes live by itself.

``ACTIVATION_GATE`` says how: ``auto`` compares the new version's holdout ``GATE_METRIC`` with
the active one's, ``manual`` leaves every version for staff, ``always`` activates each success.

Example::

    decision = gate_decision(version)
    decision.activate, decision.reason   # (True, "ndcg@10 0.1200 beats v3's 0.1100")
"""

from __future__ import annotations

from dataclasses import dataclass

from cart_recommender.conf import app_settings
from cart_recommender.models import ModelVersion


@dataclass
class GateDecision:
    """What the activation gate decided for a freshly trained version, and why."""

    activate: bool
    reason: str


def serving_score(version: ModelVersion, metric: str | None = None) -> float | None:
    """The holdout value of ``metric`` for the scorer the version serves with."""
    metric = metric or app_settings.GATE_METRIC
    method = version.serving_method or "model"
    value = (version.metrics or {}).get(method, {}).get(metric)
    return float(value) if value is not None else None


def gate_decision(version: ModelVersion, gate: str | None = None) -> GateDecision:
    """Apply ``ACTIVATION_GATE`` (or ``gate``) to a ready version.

    ``auto`` compares the holdout value of ``GATE_METRIC`` of each version's serving scorer,
    as recorded when each was trained: the newest data decides, so a shop whose behaviour
    drifted still gets a fresh model once it measures better than the old one did. A version
    trained after an erasure replaces an active one that still holds the erased data, whatever
    it measures: the old model may no longer be used (see :mod:`cart_recommender.privacy`).
    """
    gate = gate or app_settings.ACTIVATION_GATE
    metric = app_settings.GATE_METRIC
    if gate == "always":
        return GateDecision(True, "activation gate 'always'")
    if gate == "manual":
        return GateDecision(False, "activation gate 'manual': staff activate by hand")
    new = serving_score(version, metric)
    active = ModelVersion.objects.get_active()
    if active is None:
        return GateDecision(True, "no active version yet")
    erased = active.erasures.count()
    if erased and not version.erasures.exists():
        return GateDecision(True, f"v{active.pk} was trained on data of {erased} since-erased "
                                  f"shopper(s); v{version.pk} was not")
    old = serving_score(active, metric)
    if new is None:
        return GateDecision(False, f"no {metric} measured for v{version.pk}")
    if old is None or new > old:
        shown = "none" if old is None else f"{old:.4f}"
        return GateDecision(True, f"{metric} {new:.4f} beats v{active.pk}'s {shown}")
    return GateDecision(False, f"{metric} {new:.4f} does not beat v{active.pk}'s {old:.4f}")
