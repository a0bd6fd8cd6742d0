"""Writing a run's one ``.npz`` artifact: item ids, model weights, the baselines' arrays."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from cart_recommender.ml.export import save_artifact
from cart_recommender.ml.network import param_shapes
from cart_recommender.ml.preparation import prepare
from cart_recommender.training.methods import model_config


def headline(values: dict[str, Any]) -> dict[str, Any]:
    """A method's metrics without the HR@K curve (what the artifact's manifest keeps)."""
    return {k: v for k, v in values.items() if k != "hr_curve"}


def export_artifact(path: Path, *, model: Any, baselines: list[Any], items: list[str],
                    metrics: dict[str, Any], training: dict[str, Any], train_log: Any,
                    params: dict[str, Any]) -> None:
    """Write the artifact to ``path``.

    Without a trained model (``use_model`` off, or no Keras on this worker) the artifact keeps
    the same format so serving code has one path: the co-purchase tables are computed with
    NumPy as for a model, the weights are zeros, and the manifest says ``model_trained:
    false``. Such a version never serves with "model", because the model was not evaluated.
    """
    extras: dict[str, Any] = {}
    for scorer in baselines:
        for key, value in scorer.to_arrays().items():
            if key != "popularity" or scorer.name == "popularity":
                extras[f"{scorer.name}/{key}"] = value
    if model is not None:
        arch, weights, constants = model.arch, model.params, model.constants
    else:
        arch, weights, constants = untrained_model_arrays(train_log, params)
    save_artifact(path, items=list(items), arch=arch, params=weights, constants=constants,
                  metrics=metrics, training={**training, "model_trained": model is not None},
                  extras=extras)


def untrained_model_arrays(train_log: Any, params: dict[str, Any]) -> tuple[Any, Any, Any]:
    """Architecture, zero weights and the NumPy-computed co-purchase tables (no Keras)."""
    config, _ = model_config(params)
    prepared = prepare(train_log, config)
    arch = prepared["arch"]
    weights = {name: np.zeros(shape, np.float32) for name, (shape, _) in param_shapes(arch).items()}
    return arch, weights, prepared["constants"]
