"""The scorers a run fits (the baselines and the model) and the one that serves.

Only the model needs Keras; :func:`model_unavailable` says when a worker cannot train it, and the
run then serves with the best baseline.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from cart_recommender.ml.config import TrainingConfig
from cart_recommender.ml.quality import BASELINES
from cart_recommender.training.errors import TrainingError

#: The scorers a version can serve with, from its artifact's arrays. Ties on the gate metric go
#: to the first of these (the simpler scorer after the model). TIFU-KNN and category popularity
#: are measured but never serve: TIFU-KNN reads every other shopper's history vector, which no
#: artifact holds, and category popularity is the reference for new and cold products (the
#: version page's breakdown), not a way to rank a whole catalog.
METHOD_ORDER = ("model", "repeat_decay", "copurchase", "personal", "popularity")
#: ``TRAINING`` keys the glue reads itself (the rest configure the model).
GLUE_PARAMS = {"min_orders", "use_model", "dataset", "holdout_orders"}


def choose_serving_method(metrics: dict[str, dict[str, Any]], metric: str) -> str:
    """The servable method with the best holdout ``metric``; ties go by :data:`METHOD_ORDER`."""
    ranked = [m for m in METHOD_ORDER if m in metrics]
    if not ranked:
        raise TrainingError("no method could be evaluated")
    return max(ranked, key=lambda m: (float(metrics[m].get(metric) or 0.0), -ranked.index(m)))


def fit_baselines(train: Any) -> list[Any]:
    """The baselines the evaluate command measures, fitted on the training part of the split
    (the repeat-aware ones choose their parameters on a validation split of it)."""
    return [cls().fit(train) for cls in BASELINES]


def model_unavailable() -> str:
    """Why the Keras model cannot be trained here ("" when it can)."""
    try:
        if importlib.util.find_spec("keras") is None:
            return "keras is not installed"
    except ImportError as exc:
        return str(exc)
    return ""


def model_config(params: dict[str, Any]) -> tuple[TrainingConfig, list[str]]:
    """The model's :class:`TrainingConfig` from a run's parameters, and the unknown keys.

    Keys the glue reads itself (:data:`GLUE_PARAMS`) are neither passed on nor reported.
    """
    known = TrainingConfig.__dataclass_fields__
    ignored = sorted(set(params) - set(known) - GLUE_PARAMS)
    return TrainingConfig.from_dict({k: v for k, v in params.items() if k in known}), ignored
