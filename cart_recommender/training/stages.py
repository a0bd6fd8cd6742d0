"""One training run, stage by stage, with its progress and cancel checks.

:func:`cart_recommender.training.run.run_training` takes the lock and handles the outcome;
this module does the work in between and keeps the :class:`ModelVersion` row current while it
works: ``progress`` (what the admin's progress bar polls) and ``log`` (readable lines); the
heartbeat that tells a live run from a dead worker beats from its own thread
(:class:`~cart_recommender.training.lock.Heartbeat`). Every write is a targeted ``UPDATE`` of
the fields this run owns, so a concurrent "cancel" from the admin is never overwritten.

Keras is imported only when the model stage fits the model (inside ``SequenceModel.fit``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.utils import timezone

from cart_recommender.conf import app_settings
from cart_recommender.ml import protocol
from cart_recommender.ml.config import TrainingStopped
from cart_recommender.ml.model import SequenceModel
from cart_recommender.models import ModelVersion
from cart_recommender.registry import artifacts
from cart_recommender.segments.compute import compute_segments
from cart_recommender.training import lock
from cart_recommender.training.artifact import export_artifact, headline
from cart_recommender.training.errors import Cancelled, ProgressCallback, TrainingError, training_params
from cart_recommender.training.methods import (
    choose_serving_method,
    fit_baselines,
    model_config,
    model_unavailable,
)
from cart_recommender.training.snapshot import take_snapshot

Status = ModelVersion.Status
PUSH_EVERY_S = 1.0  # progress writes at most this often
CANCEL_EVERY_S = 1.0  # cancel_requested read at most this often


class Watched:
    """A scorer that, between the protocol's batches, reports progress and honours cancel.

    Scoring 100k+ holdout queries takes minutes on a busy worker; without this the run could not
    be cancelled until the evaluation ends.
    """

    def __init__(self, scorer: Any, run: TrainingRun) -> None:
        self.scorer = scorer
        self.name = scorer.name
        self.run = run

    def fit(self, log: Any) -> Watched:
        self.scorer.fit(log)
        return self

    def score(self, queries: Any) -> Any:
        if self.run.should_stop():
            raise Cancelled()
        return self.scorer.score(queries)


class TrainingRun:
    """The body of one run for one version (see :func:`execute`)."""

    def __init__(self, version: ModelVersion, progress: ProgressCallback | None = None,
                 heartbeat: lock.Heartbeat | None = None) -> None:
        self.version = version
        self.heartbeat = heartbeat
        self.params = training_params(version.params)
        self.callback = progress
        self.t0 = time.monotonic()
        self.fit_t0: float | None = None
        self.state: dict[str, Any] = {
            "stage": "starting", "epoch": 0, "epochs": int(self.params.get("max_epochs") or 0),
            "loss": None, "elapsed_s": 0.0, "eta_s": None,
        }
        self._pushed = 0.0
        self._checked = 0.0
        self._cancelled = False
        self.stored = ""  # storage name of the artifact once stored

    # ---------------------------------------------------------------- bookkeeping

    def log(self, line: str) -> None:
        ModelVersion.objects.filter(pk=self.version.pk).append_log(line)

    def update(self, **fields: Any) -> None:
        ModelVersion.objects.filter(pk=self.version.pk).update(**fields)

    def push(self, force: bool = False) -> None:
        """Write progress (throttled); stop if the lock was taken over.

        Without a :class:`~cart_recommender.training.lock.Heartbeat` thread (a run driven by
        hand, or inside a caller's transaction) each write beats too.
        """
        now = time.monotonic()
        self.state["elapsed_s"] = round(now - self.t0, 1)
        if self.callback is not None:
            self.callback(dict(self.state))
        if not force and now - self._pushed < PUSH_EVERY_S:
            return
        self._pushed = now
        self.update(progress=dict(self.state))
        beat = self.heartbeat
        lost = beat.lost if beat is not None and beat.active else not lock.heartbeat(self.version)
        if lost:
            raise TrainingError("lost the training lock (another worker took it over)")

    def should_stop(self) -> bool:
        """True once staff asked to cancel; read from the database at most once a second."""
        self.push()  # progress through long epochs
        now = time.monotonic()
        if not self._cancelled and now - self._checked >= CANCEL_EVERY_S:
            self._checked = now
            self._cancelled = ModelVersion.objects.filter(
                pk=self.version.pk, cancel_requested=True
            ).exists()
        return self._cancelled

    def stage(self, name: str, line: str | None = None) -> None:
        """Enter a stage: log it, write progress at once, honour a pending cancel."""
        self.state["stage"] = name
        self._checked = 0.0
        if self.should_stop():
            raise Cancelled()
        if line:
            self.log(line)
        self.push(force=True)

    def on_epoch(self, epoch: int, epochs: int, loss: float | None, elapsed: float) -> None:
        """The model's progress callback: epoch x of y, loss, and an estimate of the rest."""
        eta = elapsed / epoch * (epochs - epoch) if epoch else None
        budget = self.params.get("time_budget_s")
        if eta is not None and budget:
            eta = min(eta, max(float(budget) - elapsed, 0.0))
        self.state.update(
            epoch=int(epoch), epochs=int(epochs),
            loss=None if loss is None else round(float(loss), 5),
            eta_s=None if eta is None else round(eta, 1),
        )
        self.push()

    def finish(self, status: str, message: str, *, duration: float, error: str = "") -> None:
        """Record the outcome; a run that did not succeed leaves no artifact behind."""
        if status != Status.READY and self.stored:
            artifacts.delete_artifact(self.stored)
            self.update(artifact="", artifact_size=0, artifact_sha256="")
        self.state.update(stage=str(status), eta_s=0 if status == Status.READY else None)
        self.state["elapsed_s"] = round(duration, 1)
        self.update(status=status, finished_at=timezone.now(), duration_s=round(duration, 2),
                    progress=dict(self.state), error=error, heartbeat_at=timezone.now())
        self.log(message if not error else f"{message}\n{error}")
        if self.callback is not None:
            self.callback(dict(self.state))

    # ---------------------------------------------------------------- the work

    def execute(self, workdir: Path) -> None:
        """Snapshot, split, fit, evaluate, export, store, segments. Raises on any failure."""
        if not self.update_started():
            raise Cancelled()
        self.stage("snapshot", "reading events")
        snap = take_snapshot()
        self.update(data_start=snap.data_start, data_end=snap.data_end,
                    events_used=snap.events_used, event_counts=snap.event_counts)
        counts = ", ".join(f"{n} {kind}" for kind, n in snap.event_counts.items()) or "none"
        self.log(f"{snap.events_used} events ({counts}), {snap.n_orders} orders, "
                 f"{snap.log.n_items} products")

        self.stage("split", "splitting on time (evaluation protocol v1)")
        split = protocol.split(snap.log, max_test_orders=int(self.params.get("holdout_orders") or 1000))
        self.check_enough_data(split, snap.n_orders)
        self.log("holdout: " + ", ".join(f"{k} {v}" for k, v in split.dataset.items()))

        self.stage("baselines", "fitting the baselines")
        baselines = fit_baselines(split.train)
        model, history = None, {}
        if self.params.get("use_model", True):
            missing = model_unavailable()
            if missing:
                self.log(f"model unavailable ({missing}); serving with the best baseline")
            else:
                self.stage("model", "training the model")
                model, history = self.fit_model(split.train)

        self.stage("evaluate", "evaluating every method on the holdout")
        scorers = [*baselines, *([model] if model else [])]
        result = protocol.evaluate([Watched(scorer, self) for scorer in scorers], split)
        metrics = result["results"]
        metric = app_settings.GATE_METRIC
        serving = choose_serving_method(metrics, metric)
        table = "; ".join(f"{m} {metrics[m].get(metric, 0):.4f}" for m in metrics)
        self.log(f"holdout {metric}: {table}; serving with {serving}")
        self.update(metrics=metrics, history=history, serving_method=serving,
                    params={**self.params, "dataset": result.get("dataset", {})})

        self.stage("export", "exporting the artifact")
        local = workdir / f"v{self.version.pk}.npz"
        export_artifact(
            local, model=model, baselines=baselines, items=split.train.items,
            metrics={m: headline(v) for m, v in metrics.items()}, train_log=split.train,
            training={"version": self.version.pk, "serving_method": serving,
                      "history": history, "params": self.params},
            params=self.params,
        )
        self.stored = artifacts.store_artifact(self.version, local)
        self.log(f"stored {self.stored} ({self.version.artifact_size / 1e6:.2f} MB, "
                 f"SHA-256 {self.version.artifact_sha256[:12]}…)")

        self.stage("segments", "grouping the shoppers into segments")
        self.group_shoppers(snap, local if model is not None else None)
        if self.should_stop():
            raise Cancelled()

    def group_shoppers(self, snap: Any, artifact: Path | None) -> None:
        """Shopper segments (:mod:`cart_recommender.segments`); a failure here is logged and the
        version still serves: bundles do not depend on segments."""
        try:
            compute_segments(self.version, snap, artifact, seed=int(self.params.get("seed") or 0),
                             log=self.log)
        except Exception as exc:  # noqa: BLE001 - segments must never cost the shop its new model
            self.log(f"segments skipped: {type(exc).__name__}: {exc}")
            self.update(segmentation={"skipped": f"{type(exc).__name__}: {exc}"})

    def check_enough_data(self, split: Any, n_orders: int) -> None:
        """Refuse to train when the holdout or the training part would be empty or tiny."""
        min_orders = int(self.params.get("min_orders") or 1)
        train_orders = split.dataset.get("train_orders", 0)
        if split.dataset.get("queries", 0) and train_orders >= min_orders:
            return
        raise TrainingError(
            f"too little data to train: {n_orders} orders; the holdout has "
            f"{split.dataset.get('test_orders', 0)} recent orders with 2+ distinct products and "
            f"training has {train_orders} orders (at least one holdout order and {min_orders} "
            "training orders are needed)"
        )

    def fit_model(self, train: Any) -> tuple[Any, dict[str, Any]]:
        """Train the Keras model once on the training part (early stopping inside the fit)."""
        config, ignored = model_config(self.params)
        if ignored:
            self.log(f"ignored unknown training parameters: {', '.join(ignored)}")
        self.state["epochs"] = config.max_epochs
        try:
            model = SequenceModel(config).fit(train, progress=self.on_epoch,
                                              should_stop=self.should_stop)
        except TrainingStopped:
            if self.should_stop():
                raise Cancelled() from None
            raise
        if self.should_stop():
            raise Cancelled()
        history = model.history.to_dict()
        self.log(f"model trained: {len(history.get('loss', []))} epochs in "
                 f"{history.get('seconds', 0):.1f} s (stopped: {history.get('stopped') or 'max_epochs'})")
        return model, history

    def update_started(self) -> bool:
        now = timezone.now()
        return bool(
            ModelVersion.objects.filter(pk=self.version.pk, status=Status.QUEUED).update(
                status=Status.TRAINING, started_at=now, heartbeat_at=now,
                progress=dict(self.state, stage="starting"),
            )
        )
