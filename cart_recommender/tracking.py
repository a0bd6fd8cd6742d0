"""``record_event`` at its 0.1 path; it lives in :mod:`cart_recommender.events.recording` now."""

from cart_recommender.events.recording import record_event

__all__ = ["record_event"]
