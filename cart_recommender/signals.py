"""Signals the app sends, for the host shop and for the app's own caches."""

from django.dispatch import Signal

#: Sent after a model version became the active one (by staff or by the activation gate).
#: kwargs: ``version`` (ModelVersion), ``previous`` (ModelVersion or None), ``user`` (or None).
model_activated = Signal()

#: Sent after a training run ended, whatever the outcome. kwargs: ``version``.
training_finished = Signal()

#: Sent inside the erasure's transaction when a shopper is forgotten
#: (:func:`cart_recommender.privacy.forget_shopper`): ``erasure`` (the audit entry) and
#: ``subject`` (a :class:`~cart_recommender.privacy.Subject`: every user id, shop customer id
#: and session key the shopper was known by). Delete your own per-shopper rows here.
shopper_forgotten = Signal()

#: Sent by :func:`cart_recommender.privacy.export_shopper` with ``subject``; each receiver
#: returns ``{"section name": JSON-serialisable data}`` to add to the shopper's export.
shopper_exported = Signal()

#: Sent after an A/B test started or stopped (:mod:`cart_recommender.experiments.lifecycle`).
#: kwargs: ``experiment``, ``user`` (or None).
experiment_changed = Signal()
