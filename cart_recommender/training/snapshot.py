"""Events from the database as an :class:`~cart_recommender.ml.data.EventLog` for the ML core.

The snapshot is taken once at the start of a training run, up to a fixed instant, so events
recorded while the model trains never leak into it halfway. It streams rows with
``values_list(...).iterator()`` (no model instances): a million events fit in a few hundred MB
for a few seconds.

Identities are mapped to the strings the ML core expects:

* item id: ``str(product pk)``, which is what serving looks products up by;
* shopper: :func:`cart_recommender.shoppers.shopper_key` (the shop's own id first, then the
  Django user, then the session). A user's events from before the shop linked them to a ref
  count under that ref too, so a link joins the whole history;
* order: the event's ``order_ref``. A purchase without one (a shop that never passes it) is
  grouped with the same shopper's purchases of the same second, or stands alone.

Bundle impressions and clicks are not behaviour the model learns from, so they are skipped.
A purchase carries its value (quantity x unit price, where the price was recorded), which
shopper segments read.

The log also carries what the shop says about its products (the adapter's ``get_text``,
``get_category`` and ``get_price``), and ends with the sellable products no event names yet:
the model places those by their content, so a product nobody has bought can still be offered.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connections
from django.db.models import F, FloatField, Func, Max, Min
from django.utils import timezone

from cart_recommender.adapter import get_adapter
from cart_recommender.ml.content import ItemContent
from cart_recommender.ml.data import EVENT_KINDS, EventLog
from cart_recommender.models import Event
from cart_recommender.shoppers import shopper_key

CHUNK = 20_000


@dataclass
class Snapshot:
    """An event log plus the facts a model version records about its data."""

    log: EventLog
    until: datetime
    data_start: datetime | None = None
    data_end: datetime | None = None
    event_counts: dict[str, int] = field(default_factory=dict)
    #: user id -> the shop's customer id their events count under (see :func:`take_snapshot`)
    linked: dict[Any, str] = field(default_factory=dict)

    @property
    def events_used(self) -> int:
        return len(self.log)

    @property
    def n_orders(self) -> int:
        return len(self.log.orders)


class EpochSeconds(Func):
    """``timestamp`` as float seconds since the epoch, computed by the database.

    Parsing a million datetimes in Python is most of a snapshot's time; the database does it
    for free. Backends without a rule here return the datetime, converted in Python.
    """

    output_field = FloatField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="EXTRACT(EPOCH FROM %(expressions)s)::float8",
                           **extra)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection,
                           template="((julianday(%(expressions)s) - 2440587.5) * 86400.0)", **extra)

    def as_mysql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="UNIX_TIMESTAMP(%(expressions)s)", **extra)


def _epoch_expression() -> Any:
    vendor = connections[Event.objects.db].vendor
    return EpochSeconds("timestamp") if vendor in ("postgresql", "sqlite", "mysql") else F("timestamp")


def catalog_content(items: list[str]) -> tuple[list[str], ItemContent]:
    """The sellable products not in ``items`` (ids), and the content of ``items`` plus those.

    One pass over the adapter's ``catalog_queryset()`` in chunks; a product the adapter cannot
    describe (an exception in an override) keeps no content rather than failing the retrain.
    """
    adapter = get_adapter()
    known = set(items)
    found: dict[str, tuple[str, str, float]] = {}
    extra: list[str] = []
    for product in adapter.catalog_queryset().order_by("pk").iterator(chunk_size=2000):
        key = str(product.pk)
        try:
            if key not in known and not adapter.is_sellable(product):
                continue
            price = adapter.get_price(product)
            found[key] = (adapter.get_text(product), adapter.get_category(product) or "",
                          float(price) if price is not None else float("nan"))
        except Exception:  # noqa: BLE001 - a shop's override must not stop a retrain
            continue
        if key not in known:
            extra.append(key)
    return extra, ItemContent.of(items + extra, found)


def take_snapshot(*, until: datetime | None = None, since: datetime | None = None,
                  content: bool = True) -> Snapshot:
    """Read every learnable event with ``since <= timestamp <= until`` into an EventLog.

    ``content``: also read the products' content and add the sellable products no event names.
    """
    until = until or timezone.now()
    qs = Event.objects.filter(event_type__in=EVENT_KINDS, timestamp__lte=until).order_by()
    if since is not None:
        qs = qs.filter(timestamp__gte=since)
    counts: Counter[str] = Counter()
    # Linked users' events without a ref count under the user's ref (normally one per user;
    # a user whose link changed: the greatest, so the choice does not depend on row order).
    linked: dict[int, str] = dict(
        qs.filter(user__isnull=False).exclude(shopper_ref="").values("user_id")
        .annotate(ref=Max("shopper_ref")).values_list("user_id", "ref")
    )

    def records() -> Iterator[tuple[float, str, str, str, str, float]]:
        rows = qs.annotate(seconds=_epoch_expression()).values_list(
            "pk", "seconds", "user_id", "shopper_ref", "session_key", "event_type",
            "product_id", "order_ref", "quantity", "unit_price",
        )
        nan = float("nan")
        for row in rows.iterator(CHUNK):
            pk, seconds, user_id, ref, session, kind, product_id, order_ref, qty, price = row
            if isinstance(seconds, datetime):
                seconds = seconds.timestamp()
            counts[kind] += 1
            shopper = shopper_key(user_id, ref, session, linked)
            order = ""
            value = nan
            if kind == "purchase":
                order = order_ref or (f"~{shopper}@{int(seconds)}" if shopper else f"~e{pk}")
                if price is not None:
                    value = float(qty * price)
            yield seconds, shopper, kind, str(product_id), order, value

    log = EventLog.from_records(records())
    if content:
        extra, log.content = catalog_content(log.items)
        log.items.extend(extra)
    bounds = qs.aggregate(start=Min("timestamp"), end=Max("timestamp"))
    return Snapshot(
        log=log,
        until=until,
        linked=linked,
        data_start=bounds["start"],
        data_end=bounds["end"],
        event_counts={kind: counts[kind] for kind in EVENT_KINDS if counts[kind]},
    )
