"""``manage.py cart_recommender_train``: retrain now, in this process, with a progress bar.

Runs exactly what the Celery task runs (:func:`cart_recommender.training.run_training`), so it
is also how a shop without a worker, a cron job or the demo trains its first model.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from cart_recommender import training
from cart_recommender.conf import app_settings


class ProgressPrinter:
    """Epoch x/y and loss as a tqdm bar when tqdm is installed, else as plain lines."""

    def __init__(self, stream: Any, enabled: bool = True) -> None:
        self.stream = stream
        self.enabled = enabled
        self.stage = ""
        self.epoch = 0
        self.bar: Any = None
        try:
            import tqdm  # noqa: F401  (optional: only in the demo and dev extras)

            self.tqdm = True
        except ImportError:
            self.tqdm = False

    def __call__(self, state: dict[str, Any]) -> None:
        if not self.enabled:
            return
        stage, epoch, epochs = state.get("stage"), state.get("epoch") or 0, state.get("epochs") or 0
        if stage != self.stage:
            self.close()
            self.stage = stage
            if stage not in ("ready", "failed", "cancelled"):
                self.stream.write(f"{stage} ... ({state.get('elapsed_s', 0):.0f} s)\n")
        if stage != "model" or epoch == self.epoch:
            return
        self.epoch = epoch
        loss = state.get("loss")
        if self.tqdm:
            from tqdm import tqdm

            if self.bar is None:
                self.bar = tqdm(total=epochs, desc="epochs", unit="epoch", file=sys.stderr)
            self.bar.total = epochs
            self.bar.update(epoch - self.bar.n)
            if loss is not None:
                self.bar.set_postfix(loss=f"{loss:.4f}")
        else:
            eta = state.get("eta_s")
            self.stream.write(
                f"epoch {epoch}/{epochs}  loss {loss if loss is not None else '-'}"
                + (f"  about {eta:.0f} s left" if eta else "") + "\n"
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class Command(BaseCommand):
    help = "Retrain the cart recommender now (synchronously), evaluate it and apply the activation gate."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--no-activate", action="store_true",
                            help="Keep the new version 'ready'; staff activate it in the admin.")
        parser.add_argument("--activate", choices=["auto", "always"], default=None,
                            help="Override the ACTIVATION_GATE setting for this run.")
        parser.add_argument("--epochs", type=int, help="At most this many epochs.")
        parser.add_argument("--time-budget", type=float, help="Stop training after this many seconds.")
        parser.add_argument("--seed", type=int, help="Random seed (same data + seed = same model).")
        parser.add_argument("--baselines-only", action="store_true",
                            help="Skip the Keras model; serve with the best baseline.")

    def handle(self, *args: Any, **options: Any) -> None:
        params: dict[str, Any] = {}
        if options["epochs"] is not None:
            params["max_epochs"] = options["epochs"]
        if options["time_budget"] is not None:
            params["time_budget_s"] = options["time_budget"]
        if options["seed"] is not None:
            params["seed"] = options["seed"]
        if options["baselines_only"]:
            params["use_model"] = False
        gate = "manual" if options["no_activate"] else options["activate"]
        try:
            version = training.create_version(params=params)
        except training.TrainingInProgress as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"training v{version.pk}")
        printer = ProgressPrinter(self.stdout, enabled=options["verbosity"] > 0)
        try:
            version = training.run_training(version.pk, progress=printer, gate=gate)
        finally:
            printer.close()
        if version.status in ("failed", "cancelled"):
            reason = version.error.splitlines()[0] if version.error else ""
            raise CommandError(f"v{version.pk} {version.status}: {reason}")
        self.stdout.write(self.summary(version))

    def summary(self, version: Any) -> str:
        metric = app_settings.GATE_METRIC
        scores = ", ".join(f"{m} {v.get(metric, 0):.4f}" for m, v in version.metrics.items())
        return (
            f"v{version.pk} {version.status} in {version.duration_s:.1f} s: {version.events_used} events, "
            f"serving with {version.serving_method}; holdout {metric}: {scores}"
        )
