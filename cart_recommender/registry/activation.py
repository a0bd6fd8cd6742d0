"""Which model version serves bundles: activation and rollback, with their audit trail.

Exactly one :class:`~cart_recommender.models.ModelVersion` is ``active`` at a time. Activating
another one retires the previous one and writes an :class:`~cart_recommender.models.Activation`
row (the audit trail the admin shows); rolling back is activating an older retired version.
Web processes learn about the change through the ``model_activated`` signal, sent after the
transaction commits so a listener never reads the old state.

Example::

    from cart_recommender import registry
    registry.activate(version, user=request.user, note="rollback after complaint")
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from cart_recommender.models import Activation, ModelVersion
from cart_recommender.signals import model_activated

Status = ModelVersion.Status
#: Statuses a version may be activated from.
ACTIVATABLE = (Status.READY, Status.RETIRED)


class ActivationError(ValueError):
    """The version cannot serve bundles (not trained, failed, or without an artifact)."""


def activate(
    version: ModelVersion, *, user: Any = None, note: str = "", automatic: bool = False
) -> Activation:
    """Make ``version`` the one that serves bundles and retire the previous active one.

    Raises:
        ActivationError: unless the version is ready or retired and has an artifact.
    """
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().get(pk=version.pk)
        if version.status not in ACTIVATABLE:
            raise ActivationError(
                f"v{version.pk} is {version.get_status_display()}; only a ready or retired "
                "version can be activated."
            )
        if not version.artifact:
            raise ActivationError(f"v{version.pk} has no stored artifact to serve from.")
        previous = (
            ModelVersion.objects.select_for_update()
            .filter(status=Status.ACTIVE)
            .exclude(pk=version.pk)
            .order_by("-pk")
        )
        previous_list = list(previous)
        for old in previous_list:
            old.status = Status.RETIRED
            old.save(update_fields=["status"])
        version.status = Status.ACTIVE
        version.save(update_fields=["status"])
        replaced = previous_list[0] if previous_list else None
        activation = Activation.objects.create(
            version=version,
            previous=replaced,
            user=user if getattr(user, "is_authenticated", False) else None,
            automatic=automatic,
            note=note[:255],
        )
        transaction.on_commit(
            lambda: model_activated.send(
                sender=ModelVersion, version=version, previous=replaced, user=activation.user
            )
        )
    return activation


def rollback_target(current: ModelVersion | None = None) -> ModelVersion | None:
    """The version a rollback would bring back: the one the current active version replaced.

    Falls back to the newest retired version older than the current one.
    """
    current = current or ModelVersion.objects.get_active()
    if current is None:
        return None
    last = current.activations.order_by("-created_at", "-pk").first()
    if last and last.previous_id and last.previous.status in ACTIVATABLE and last.previous.artifact:
        return last.previous
    return (
        ModelVersion.objects.filter(status=Status.RETIRED, pk__lt=current.pk)
        .exclude(artifact="")
        .order_by("-pk")
        .first()
    )
