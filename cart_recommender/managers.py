"""Query helpers for events and model versions."""

from __future__ import annotations

from django.db import models
from django.db.models import F, TextField, Value
from django.db.models.functions import Concat
from django.utils import timezone


class EventQuerySet(models.QuerySet):
    def purchases(self) -> EventQuerySet:
        return self.filter(event_type="purchase")

    def for_shopper(self, user_id=None, session_key: str = "", shopper_ref: str = "") -> EventQuerySet:
        """Events of one shopper; empty when no identity is given (never everyone's).

        A user with a ``shopper_ref`` (see the adapter's ``get_shopper_ref``) is one shopper
        with the events imported under that id.
        """
        if user_id is not None and shopper_ref:
            return self.filter(models.Q(user_id=user_id) | models.Q(shopper_ref=shopper_ref))
        if user_id is not None:
            return self.filter(user_id=user_id)
        if shopper_ref:
            return self.filter(shopper_ref=shopper_ref)
        if session_key:
            return self.filter(session_key=session_key, user__isnull=True)
        return self.none()


class ModelVersionQuerySet(models.QuerySet):
    def get_active(self):
        """The version that serves bundles now, or None."""
        return self.filter(status="active").order_by("-pk").first()

    def append_log(self, line: str) -> int:
        """Append one timestamped line to the log of these versions, in the database.

        One ``UPDATE ... SET log = log || line``: a worker and the admin appending at the same
        time both keep their lines (no read-modify-write).
        """
        stamp = timezone.now().strftime("%H:%M:%S")
        return self.update(log=Concat(F("log"), Value(f"[{stamp}] {line}\n"), output_field=TextField()))
