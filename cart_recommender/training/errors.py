"""What can go wrong around a training run, and the run's parameters.

Kept apart from the modules that request and run training so that both sides (the web process
asking for a run, the worker doing it) share one definition without importing each other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cart_recommender.conf import app_settings
from cart_recommender.models import ModelVersion

Status = ModelVersion.Status
#: Called with the progress dict at every update (the training command's progress bar).
ProgressCallback = Callable[[dict[str, Any]], None]
#: Runs in these states hold (or wait for) the training slot.
BUSY = (Status.QUEUED, Status.TRAINING)


class TrainingInProgress(Exception):
    """Another run is queued or training and its worker is alive."""

    def __init__(self, version: ModelVersion) -> None:
        self.version = version
        super().__init__(
            f"A training run is already {version.get_status_display()} (v{version.pk}); "
            "wait for it to finish or cancel it first."
        )


class TrainingError(Exception):
    """A run cannot produce a model (too little data, bad parameters); shown to staff as is."""


class TrainingUnavailable(TrainingError):
    """A run could not be handed to a worker (the Celery broker cannot be reached)."""


class Cancelled(Exception):
    """Raised inside a run when staff asked to cancel it."""


def training_params(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """``TRAINING`` settings with a run's own overrides on top."""
    return {**app_settings.TRAINING, **(overrides or {})}
