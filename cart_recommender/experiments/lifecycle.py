"""Starting, stopping and promoting A/B tests, with the checks that keep them honest.

Only staff holding ``cart_recommender.manage_experiment`` start or stop a test; promoting the
winning arm's version also needs ``cart_recommender.activate_modelversion`` and goes through
:func:`cart_recommender.registry.activate`, so it lands in the activation audit trail like any
other activation. Every web process picks the change up at its next state check
(``MODEL_CHECK_SECONDS``), the one that made it at once (``experiment_changed``).

Example::

    from cart_recommender.experiments import lifecycle
    lifecycle.start(experiment, user=request.user)
    ...
    lifecycle.stop(experiment, user=request.user)
    lifecycle.promote(experiment, arm, user=request.user)
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from cart_recommender import registry
from cart_recommender.models import Activation, Experiment, ExperimentArm, ModelVersion
from cart_recommender.signals import experiment_changed

MANAGE_PERM = "cart_recommender.manage_experiment"
ACTIVATE_PERM = "cart_recommender.activate_modelversion"
#: Versions an arm may serve: trained, with an artifact.
SERVABLE = (ModelVersion.Status.READY, ModelVersion.Status.ACTIVE, ModelVersion.Status.RETIRED)
#: Most arms one test may have (each version arm is one more model in every web process).
MAX_ARMS = 4


class ExperimentError(ValueError):
    """The test cannot be started, stopped or promoted as asked (the message says why)."""


def can_manage(user: Any) -> bool:
    return bool(getattr(user, "is_staff", False) and user.has_perm(MANAGE_PERM))


def can_promote(user: Any) -> bool:
    return can_manage(user) and user.has_perm(ACTIVATE_PERM)


def problems(experiment: Experiment) -> list[str]:
    """Why the test could not start as it is set up (empty: it can)."""
    arms = list(experiment.arms.select_related("version"))
    found = []
    if len(arms) < 2:
        found.append("A test needs at least two arms.")
    if len(arms) > MAX_ARMS:
        found.append(f"A test may have at most {MAX_ARMS} arms.")
    total = sum(a.share for a in arms)
    if arms and total != 100:
        found.append(f"The arms' traffic shares add up to {total} %, not 100 %.")
    if any(a.share == 0 for a in arms):
        found.append("Every arm needs a traffic share above 0 %.")
    for arm in arms:
        if arm.kind == ExperimentArm.Kind.VERSION:
            if arm.version is None:
                found.append(f"Arm {arm.name} serves a model version but names none.")
            elif arm.version.status not in SERVABLE or not arm.version.artifact:
                found.append(
                    f"Arm {arm.name}: v{arm.version_id} is {arm.version.get_status_display()}; "
                    "only a trained version with an artifact can serve."
                )
        elif arm.kind == ExperimentArm.Kind.BASELINE and not arm.scorer:
            found.append(f"Arm {arm.name} serves a baseline but names no scorer.")
    if sum(a.kind == ExperimentArm.Kind.HOLDOUT for a in arms) > 1:
        found.append("A test may have one hold-out arm.")
    return found


def start(experiment: Experiment, *, user: Any = None) -> Experiment:
    """Start a draft test; raises :class:`ExperimentError` if it is not ready or another runs."""
    with transaction.atomic():
        experiment = Experiment.objects.select_for_update().get(pk=experiment.pk)
        if experiment.status != Experiment.Status.DRAFT:
            raise ExperimentError(
                f"“{experiment}” is {experiment.get_status_display()}; only a draft starts."
            )
        found = problems(experiment)
        if found:
            raise ExperimentError(" ".join(found))
        running = Experiment.objects.filter(status=Experiment.Status.RUNNING).first()
        if running is not None:
            raise ExperimentError(f"“{running}” is running; stop it first (one test at a time).")
        experiment.status = Experiment.Status.RUNNING
        experiment.started_at = timezone.now()
        experiment.started_by = user if getattr(user, "is_authenticated", False) else None
        try:
            with transaction.atomic():
                experiment.save(update_fields=["status", "started_at", "started_by"])
        except IntegrityError:  # another one started meanwhile
            raise ExperimentError("Another test started meanwhile; stop it first.") from None
        transaction.on_commit(
            lambda: experiment_changed.send(sender=Experiment, experiment=experiment, user=user)
        )
    return experiment


def stop(experiment: Experiment, *, user: Any = None) -> Experiment:
    """Stop a running test: every shopper gets the active version again."""
    with transaction.atomic():
        experiment = Experiment.objects.select_for_update().get(pk=experiment.pk)
        if experiment.status != Experiment.Status.RUNNING:
            raise ExperimentError(f"“{experiment}” is not running.")
        experiment.status = Experiment.Status.STOPPED
        experiment.stopped_at = timezone.now()
        experiment.stopped_by = user if getattr(user, "is_authenticated", False) else None
        experiment.save(update_fields=["status", "stopped_at", "stopped_by"])
        transaction.on_commit(
            lambda: experiment_changed.send(sender=Experiment, experiment=experiment, user=user)
        )
    return experiment


def promote(experiment: Experiment, arm: ExperimentArm, *, user: Any = None) -> Activation:
    """Activate the version ``arm`` served, stopping the test if it still runs.

    Only a version arm can be promoted (a baseline or the hold-out is not a version); the
    activation's note names the test, so the audit trail says why it happened.
    """
    if arm.experiment_id != experiment.pk:
        raise ExperimentError("That arm belongs to another test.")
    if arm.kind != ExperimentArm.Kind.VERSION or arm.version is None:
        raise ExperimentError(f"Arm {arm.name} serves {arm.serves}, not a model version: nothing to promote.")
    with transaction.atomic():
        if experiment.status == Experiment.Status.RUNNING:
            experiment = stop(experiment, user=user)
        version = arm.version
        if version.status == ModelVersion.Status.ACTIVE:
            activation = Activation.objects.create(
                version=version,
                previous=version,
                user=user if getattr(user, "is_authenticated", False) else None,
                note=f"A/B test “{experiment}”: arm {arm.name} won; v{version.pk} stays active"[:255],
            )
        else:
            try:
                activation = registry.activate(
                    version, user=user, note=f"A/B test “{experiment}”: arm {arm.name} won"[:255]
                )
            except registry.ActivationError as exc:
                raise ExperimentError(str(exc)) from exc
        Experiment.objects.filter(pk=experiment.pk).update(promoted_arm=arm)
    return activation
