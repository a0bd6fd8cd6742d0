"""Model versions that can serve: activation, rollback, the activation gate, their artifacts.

Example::

    from cart_recommender import registry
    registry.activate(version, user=request.user, note="rollback after complaint")
"""

from cart_recommender.registry.activation import ACTIVATABLE, ActivationError, activate, rollback_target
from cart_recommender.registry.gate import GateDecision, gate_decision, serving_score

__all__ = [
    "ACTIVATABLE", "ActivationError", "GateDecision", "activate", "gate_decision", "rollback_target",
    "serving_score",
]
