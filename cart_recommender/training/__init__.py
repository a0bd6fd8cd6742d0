"""Retraining: ask for a run (the web process), and run it (a Celery worker or a command).

Example::

    from cart_recommender.training import request_retrain
    version = request_retrain(user=request.user)   # returns at once; a worker trains
"""

from cart_recommender.training.errors import (
    Cancelled,
    TrainingError,
    TrainingInProgress,
    TrainingUnavailable,
    training_params,
)
from cart_recommender.training.requests import busy_version, create_version, request_cancel, request_retrain
from cart_recommender.training.run import run_training

__all__ = [
    "Cancelled", "TrainingError", "TrainingInProgress", "TrainingUnavailable", "busy_version",
    "create_version", "request_cancel", "request_retrain", "run_training", "training_params",
]
