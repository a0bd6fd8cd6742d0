"""Events from the database as an :class:`~cart_recommender.ml.data.EventLog` for the ML core.

The snapshot is taken once at the start of a training run, up to a fixed instant, so events
recorded while the model trains never leak into it halfway. It streams rows with
``values_list(...).iterator()`` (no model instances): a million events fit in a few hundred MB
for a few seconds.

Identities are mapped to the strings the ML core expects:

* item id: ``str(product pk)``, which is what serving looks products up by;
* shopper: ``"u<user id>"`` for a Django user, else ``"r:<shopper_ref>"`` (the shop's own id
  from an import or the ingest API), else ``"s:<session key>"``; ``""`` when nothing is known;
* order: the event's ``order_ref``. A purchase without one (a shop that never passes it) is
  grouped with the same shopper's purchases of the same second, or stands alone.

Bundle impressions and clicks are not behaviour the model learns from, so they are skipped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from cart_recommender.ml.data import EVENT_KINDS, EventLog
from cart_recommender.models import Event

CHUNK = 20_000


@dataclass
class Snapshot:
    """An event log plus the facts a model version records about its data."""

    log: EventLog
    until: datetime
    data_start: datetime | None = None
    data_end: datetime | None = None
    event_counts: dict[str, int] = field(default_factory=dict)

    @property
    def events_used(self) -> int:
        return len(self.log)

    @property
    def n_orders(self) -> int:
        return len(self.log.orders)


def shopper_key(user_id: int | None, shopper_ref: str, session_key: str) -> str:
    """The one string that identifies a shopper across the three ways we know them."""
    if user_id is not None:
        return f"u{user_id}"
    if shopper_ref:
        return f"r:{shopper_ref}"
    if session_key:
        return f"s:{session_key}"
    return ""


def take_snapshot(*, until: datetime | None = None, since: datetime | None = None) -> Snapshot:
    """Read every learnable event with ``since <= timestamp <= until`` into an EventLog."""
    until = until or timezone.now()
    counts: Counter[str] = Counter()
    bounds: list[datetime] = []

    def records() -> Iterator[tuple[float, str, str, str, str]]:
        qs = Event.objects.filter(event_type__in=EVENT_KINDS, timestamp__lte=until)
        if since is not None:
            qs = qs.filter(timestamp__gte=since)
        rows = qs.order_by().values_list(
            "pk", "timestamp", "user_id", "shopper_ref", "session_key", "event_type",
            "product_id", "order_ref",
        )
        first = last = None
        for pk, when, user_id, ref, session, kind, product_id, order_ref in rows.iterator(CHUNK):
            if first is None or when < first:
                first = when
            if last is None or when > last:
                last = when
            counts[kind] += 1
            shopper = shopper_key(user_id, ref, session)
            seconds = when.timestamp()
            order = ""
            if kind == "purchase":
                order = order_ref or (f"~{shopper}@{int(seconds)}" if shopper else f"~e{pk}")
            yield seconds, shopper, kind, str(product_id), order
        if first is not None:
            bounds.extend((first, last))

    log = EventLog.from_records(records())
    return Snapshot(
        log=log,
        until=until,
        data_start=bounds[0] if bounds else None,
        data_end=bounds[1] if bounds else None,
        event_counts={kind: counts[kind] for kind in EVENT_KINDS if counts[kind]},
    )
