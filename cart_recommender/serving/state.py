"""The active model version inside each web process: loaded once, swapped without a restart.

Every process holds one :class:`ServingState`: the active version's NumPy serving model (see
:mod:`cart_recommender.ml.serving`; no Keras in the web process), the merchant's bundle rules
and a ``token`` naming both, used in cache keys. A process notices another active version
within ``MODEL_CHECK_SECONDS``: the first request after that interval runs a few small queries
(active version, latest activation, latest erasure, rules, segments' names and caps, the
running A/B test's arms) and loads the new artifacts if they changed, and the version's shopper
segments (:mod:`.segments`) when the version or the erasures changed; a new erasure changes the
token, so no bundle cached before it is served again. In the process that activates, the
``model_activated`` signal (and ``experiment_changed`` for an A/B test) makes the very next
request check. While no version is
active, or its artifact cannot be read, the state has no model and the bundle engine serves
from the SQL fallbacks.

Example::

    from cart_recommender.serving import state
    state.get_state().label  # "12", or "baseline" while no model serves
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

from threadpoolctl import threadpool_limits

from cart_recommender.conf import app_settings
from cart_recommender.ml.serving import ServingModel
from cart_recommender.models import Activation, Erasure, ModelVersion
from cart_recommender.registry import artifacts
from cart_recommender.serving import arms
from cart_recommender.serving.candidates import CandidateTable
from cart_recommender.serving.rules import Rules, read_rules
from cart_recommender.serving.segments import EMPTY, SegmentMap, read_segment_rows, read_segments

logger = logging.getLogger(__name__)


@dataclass
class ServingState:
    """What one process serves with right now."""

    version_id: int | None = None
    method: str = ""
    model: Any = None
    rules: Rules = field(default_factory=Rules)
    token: str = "0"
    table: Any = None  # a CandidateTable while the version serves with the model itself
    experiment: arms.ExperimentPlan | None = None  # the running A/B test, if any
    segments: SegmentMap = EMPTY  # the serving version's shopper segments
    erased: int = 0  # the newest erasure when the segments were read

    @property
    def label(self) -> str:
        """The version that serves, as shown in markup and API answers."""
        return str(self.version_id) if self.model is not None else "baseline"


def _load_model(version_id: int) -> ServingModel:
    version = ModelVersion.objects.get(pk=version_id)
    _blas_single_thread()
    return artifacts.load_serving_model(version)


def _blas_single_thread() -> None:
    """Keep BLAS at one thread: a web worker scores one cart at a time, more threads contend.

    ``OPENBLAS_NUM_THREADS=1`` in the web server's environment does the same before NumPy is
    imported; this covers servers started without it.
    """
    threadpool_limits(1)  # process-wide, kept for the worker's lifetime


class _Holder:
    """The process's state plus when it was last checked against the database."""

    def __init__(self) -> None:
        self.state = ServingState()
        self.checked_at = float("-inf")
        self.lock = threading.Lock()
        self.failed_version: int | None = None
        self.arm_models: dict[int, Any] = {}  # experiment arms' versions, loaded once

    def current(self) -> ServingState:
        if time.monotonic() - self.checked_at < app_settings.MODEL_CHECK_SECONDS:
            return self.state
        with self.lock:
            if time.monotonic() - self.checked_at >= app_settings.MODEL_CHECK_SECONDS:
                self.state = self._refresh(self.state)
                self.checked_at = time.monotonic()
        return self.state

    def _refresh(self, old: ServingState) -> ServingState:
        active = (
            ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE)
            .order_by("-pk")
            .values_list("pk", "serving_method")
            .first()
        )
        activation = Activation.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        # bundles cached before an erasure may hold the erased shopper's history: a new token
        erased = Erasure.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        segment_rows = read_segment_rows()
        rules = read_rules({pk: cap for pk, (_name, cap) in segment_rows.items() if cap is not None})
        names = {pk: name for pk, (name, _cap) in segment_rows.items()}
        version_id, method = active if active else (None, "")
        model = old.model if version_id == old.version_id else None
        if version_id is not None and model is None and self.failed_version != version_id:
            try:
                model = _load_model(version_id)
                self.failed_version = None
                logger.info("cart_recommender: serving model version %s (%s)", version_id, method)
            except Exception:
                # an unreadable artifact must not take the shop down: serve the fallbacks
                logger.exception("cart_recommender: cannot load model version %s", version_id)
                self.failed_version = version_id
        if model is None:
            version_id = None
        method = method or "model"
        table = old.table if model is old.model else None
        if old.table is not None and table is None:
            old.table.stop()
        if model is not None and method == "model" and table is None and app_settings.PRECOMPUTE_CANDIDATES:
            table = CandidateTable(model)
            table.start_filling()
        plan = self._plan(arms.running_arms(), version_id, model, method, rules, table)
        if version_id == old.segments.version_id and erased == old.erased:
            segments = replace(old.segments, names=names)
        else:
            segments = read_segments(version_id, names)
        return ServingState(
            segments=segments,
            erased=erased,
            version_id=version_id,
            method=method,
            model=model,
            table=table,
            rules=rules,
            token=f"{version_id or 0}.{activation}.{erased}.{rules.digest}"
            f".{plan.digest if plan else 0}",
            experiment=plan,
        )

    def _plan(self, rows: list[Any], active_id: int | None, active_model: Any, active_method: str,
              rules: Rules, active_table: Any) -> arms.ExperimentPlan | None:
        """The running experiment's arms, each with the state that scores its bundles.

        An arm serving the active version shares its model and candidate lists; another
        version's artifact is loaded once (and gets candidate lists of its own).
        """
        wanted = {r[4] for r in rows if r[4] is not None and r[4] != active_id and r[3] == "version"}
        for pk in [pk for pk in self.arm_models if pk not in wanted]:
            _, old_table = self.arm_models.pop(pk)
            if old_table is not None:
                old_table.stop()

        def arm_state(kind: str, version_id: int | None, method: str) -> ServingState:
            if kind == "version" and version_id == active_id and active_model is not None:
                return ServingState(version_id=active_id, method=active_method, model=active_model,
                                    table=active_table, rules=rules)
            if kind == "baseline":
                # a baseline scores from the active version's arrays (SQL fallbacks without one)
                return ServingState(version_id=active_id if active_model is not None else None,
                                    method=method, model=active_model, rules=rules)
            loaded = self.arm_models.get(version_id)
            if loaded is None:
                try:
                    model = _load_model(version_id)
                except Exception:
                    logger.exception("cart_recommender: cannot load arm version %s", version_id)
                    return ServingState(rules=rules)
                table = None
                if method == "model" and app_settings.PRECOMPUTE_CANDIDATES:
                    table = CandidateTable(model)
                    table.start_filling()
                loaded = self.arm_models[version_id] = (model, table)
            model, table = loaded
            return ServingState(version_id=version_id, method=method, model=model, table=table, rules=rules)

        return arms.build_plan(rows, arm_state)

    def mark_stale(self) -> None:
        self.checked_at = float("-inf")
        self.failed_version = None

    def reset(self) -> None:
        with self.lock:
            if self.state.table is not None:
                self.state.table.stop()
            self.state = ServingState()
            for _, table in self.arm_models.values():
                if table is not None:
                    table.stop()
            self.arm_models = {}
            self.mark_stale()


_holder = _Holder()


def get_state() -> ServingState:
    """This process's serving state, re-checked at most every ``MODEL_CHECK_SECONDS``."""
    return _holder.current()


def check_now(**kwargs: Any) -> None:
    """Make the next request re-check the active version and rules (signal receiver)."""
    _holder.mark_stale()


def reset() -> None:
    """Forget the loaded model and rules (tests, and after settings change)."""
    _holder.reset()
