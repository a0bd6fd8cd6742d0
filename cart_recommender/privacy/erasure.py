"""Forgetting a shopper: every event of theirs, their cached bundles, and an audit entry that names nobody.

A shopper is known by up to three kinds of identity (see :mod:`cart_recommender.shoppers`):
Django users, the shop's customer ids (``shopper_ref``) and anonymous sessions. Erasure starts
from the one it is given and takes in the others their events tie to it: a user's linked
customer id (the adapter's ``get_shopper_ref``), every customer id stored on the user's events,
and every session seen with the user or those ids. It deletes

* every event of those users and customer ids, and every anonymous event of those sessions
  (an event of the same session that names *another* user or customer id is theirs and stays);
* their cached bundles: the serving token carries the newest erasure, so every web process
  stops reading bundles cached before it within ``MODEL_CHECK_SECONDS`` (the erasing process
  at once);
* the rows other features keep per shopper (receivers of :data:`~cart_recommender.signals.shopper_forgotten`);

and writes an :class:`~cart_recommender.models.Erasure` entry: a keyed hash of the identity
asked for, counts, when and by whom. The model versions whose training data held the deleted
events are linked to it, so their pages say so until a retrain replaces them (see
:func:`retrain_if_due`). Artifacts hold no per-shopper data (item vectors, item-to-item
weights and counts only: ``tests/test_privacy.py`` checks it), so erasure never has to edit
one; serving reads history live, so an erased shopper's history is never used again.

Example::

    from cart_recommender.privacy import forget_shopper
    erasure = forget_shopper(user=user, by=request.user)
    erasure.events_deleted
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Min, Q, QuerySet
from django.utils import timezone

from cart_recommender import shoppers
from cart_recommender.conf import app_settings
from cart_recommender.models import Erasure, Event, ModelVersion
from cart_recommender.signals import shopper_forgotten
from cart_recommender.training.errors import TrainingInProgress
from cart_recommender.training.requests import request_retrain

Status = ModelVersion.Status
#: Versions that may still serve, or be activated, with what they learnt.
KEPT = (Status.TRAINING, Status.READY, Status.ACTIVE, Status.RETIRED)


@dataclass(frozen=True)
class Subject:
    """Every identity one shopper is known by, as erasure and export find them."""

    user_ids: frozenset[Any]
    shopper_refs: frozenset[str]
    session_keys: frozenset[str]
    named: str  # the identity asked for, as :func:`cart_recommender.shoppers.shopper_key` spells it

    def events(self) -> QuerySet[Event]:
        """Their events: of their users or customer ids, and the anonymous ones of their sessions."""
        match = Q(pk__in=[])
        if self.user_ids:
            match |= Q(user_id__in=self.user_ids)
        if self.shopper_refs:
            match |= Q(shopper_ref__in=self.shopper_refs)
        if self.session_keys:
            match |= Q(session_key__in=self.session_keys, user__isnull=True, shopper_ref="")
        return Event.objects.filter(match)

    @property
    def keys(self) -> list[str]:
        """Every :func:`~cart_recommender.shoppers.shopper_key` these identities can go by."""
        return ([f"u:{u}" for u in self.user_ids] + [f"r:{r}" for r in self.shopper_refs]
                + [f"s:{s}" for s in self.session_keys])

    @property
    def hashed(self) -> str:
        """The keyed hash an audit entry keeps instead of the identity."""
        return shoppers.keyed_hash("subject", self.named)


def find_subject(*, user: Any = None, shopper_ref: str = "", session_key: str = "") -> Subject:
    """The shopper named by exactly one of ``user``, ``shopper_ref`` and ``session_key``.

    Raises:
        ValueError: none or more than one is given.
    """
    given = [x for x in (user, shopper_ref, session_key) if x not in (None, "")]
    if len(given) != 1:
        raise ValueError("name the shopper by exactly one of user, shopper_ref or session_key")
    user_ids: set[Any] = set()
    refs: set[str] = set()
    sessions: set[str] = set()
    if user is not None:
        user_ids.add(user.pk)
        linked = shoppers.linked_ref(user)
        if linked:
            refs.add(linked)
        refs.update(_distinct(Event.objects.filter(user_id=user.pk), "shopper_ref"))
    elif shopper_ref:
        refs.add(shopper_ref)
    else:
        sessions.add(session_key)
    if user_ids or refs:
        seen = Q(user_id__in=user_ids) | Q(shopper_ref__in=refs)
        sessions.update(_distinct(Event.objects.filter(seen), "session_key"))
    named = shoppers.shopper_key(user.pk if user is not None else None, shopper_ref, session_key)
    return Subject(frozenset(user_ids), frozenset(refs), frozenset(sessions), named)


def user_with_pk(pk: Any) -> Any:
    """The Django user whose primary key is ``pk``, or None (also for text that is no key of the
    user model: "ann" for an integer key, a malformed UUID)."""
    try:
        return get_user_model()._default_manager.filter(pk=pk).first()
    except (ValueError, TypeError, ValidationError):
        return None


def _distinct(events: QuerySet[Event], field: str) -> set[str]:
    return set(events.exclude(**{field: ""}).order_by().values_list(field, flat=True).distinct())


def forget_shopper(
    *, user: Any = None, shopper_ref: str = "", session_key: str = "", by: Any = None,
    via: str = Erasure.Via.CODE,
) -> Erasure:
    """Erase every trace of one shopper (see the module docstring) and return the audit entry.

    One transaction: either all of it happens or nothing does. Erasing someone the app holds
    nothing on still writes the entry (with zero events), the record that it was asked.

    Args:
        user / shopper_ref / session_key: exactly one, naming the shopper.
        by: the staff user who asked (kept on the entry), or None.
        via: how it was asked (an :class:`~cart_recommender.models.Erasure.Via` value).
    """
    with transaction.atomic():
        subject = find_subject(user=user, shopper_ref=shopper_ref, session_key=session_key)
        events = subject.events()
        span = events.aggregate(first=Min("timestamp"), last=Max("timestamp"))
        versions = trained_on(span["first"], span["last"])
        deleted, _ = events.delete()
        erasure = Erasure.objects.create(
            subject=subject.hashed, via=via,
            requested_by=by if getattr(by, "is_authenticated", False) else None,
            events_deleted=deleted, sessions=len(subject.session_keys),
            shopper_refs=len(subject.shopper_refs),
        )
        erasure.trained_versions.set(versions)
        shopper_forgotten.send(sender=Erasure, erasure=erasure, subject=subject)
    return erasure


def trained_on(first: datetime | None, last: datetime | None) -> list[ModelVersion]:
    """Versions whose training window may hold events from ``first`` to ``last``.

    A run that has started counts even before its window is known (its snapshot may already
    be read); a queued one will read the data as it is after the erasure.
    """
    if first is None or last is None:
        return []
    return list(
        ModelVersion.objects.filter(status__in=KEPT, started_at__isnull=False)
        .filter(Q(data_start__isnull=True) | Q(data_start__lte=last))
        .filter(Q(data_end__isnull=True) | Q(data_end__gte=first))
    )


def erasures_of(*, user: Any = None, shopper_ref: str = "", session_key: str = "") -> QuerySet[Erasure]:
    """The audit entries of the shopper named so (matched by the keyed hash)."""
    named = shoppers.shopper_key(user.pk if user is not None else None, shopper_ref, session_key)
    return Erasure.objects.filter(subject=shoppers.keyed_hash("subject", named))


def forget_deleted_user(sender: Any, instance: Any, **kwargs: Any) -> None:
    """``pre_delete`` receiver for the user model: the user's data goes with the user.

    It runs inside the deletion's transaction, while the adapter can still read the user's
    linked customer id; a failure rolls the deletion back rather than leave their data behind.
    """
    forget_shopper(user=instance, via=Erasure.Via.USER_DELETED)


# -- the models that learnt from erased data ---------------------------------------------------

def erased_shoppers(version: ModelVersion) -> int:
    """How many since-erased shoppers' data ``version`` was trained on."""
    return version.erasures.count()


def _first_erasure_at(version: ModelVersion) -> datetime | None:
    return version.erasures.aggregate(oldest=Min("created_at"))["oldest"]


def _due_after(first_erasure: datetime) -> datetime:
    return first_erasure + timedelta(days=float(app_settings.ERASURE_RETRAIN_DAYS) / 2)


def retrain_due_at(version: ModelVersion) -> datetime | None:
    """When :func:`retrain_if_due` replaces ``version`` (half ``ERASURE_RETRAIN_DAYS`` after the
    first erasure of data it holds), or None when it holds none."""
    first = _first_erasure_at(version)
    return _due_after(first) if first is not None else None


def retrain_if_due(now: datetime | None = None) -> ModelVersion | None:
    """Queue a retrain when the active version holds data of shoppers erased long enough ago.

    Half of ``ERASURE_RETRAIN_DAYS`` is left for the run (and a retry an hour later if it
    fails), so a beat entry every hour keeps the promise. Erasures of the same half-day share
    one retrain. The activation gate then puts the new version live in place of the old one
    (see :func:`cart_recommender.registry.gate.gate_decision`); nothing is queued while a clean
    version newer than the erasures waits for staff (``ACTIVATION_GATE = "manual"``).
    """
    now = now or timezone.now()
    active = ModelVersion.objects.get_active()
    first = _first_erasure_at(active) if active is not None else None
    if first is None or now < _due_after(first):
        return None
    waiting = ModelVersion.objects.filter(status=Status.READY, created_at__gt=first, erasures=None)
    if waiting.exists():
        return None
    try:
        return request_retrain()
    except TrainingInProgress:
        return None
