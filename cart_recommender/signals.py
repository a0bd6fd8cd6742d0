"""Signals the app sends, for the host shop and for the app's own caches."""

from django.dispatch import Signal

#: Sent after a model version became the active one (by staff or by the activation gate).
#: kwargs: ``version`` (ModelVersion), ``previous`` (ModelVersion or None), ``user`` (or None).
model_activated = Signal()

#: Sent after a training run ended, whatever the outcome. kwargs: ``version``.
training_finished = Signal()
