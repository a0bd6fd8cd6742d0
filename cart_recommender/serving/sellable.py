"""Whether candidates may be sold right now: a live query compiled once, or a recent set.

By default (``SELLABLE_REFRESH_SECONDS`` a number) each process keeps the keys of all sellable
products, re-read in the background when older than that: no query per request, and a product
that stops being sellable is no longer offered by freshly computed bundles within that many
seconds. With ``None`` every freshly computed bundle asks the database about its candidates.
That query takes tens of microseconds to run and several times that to build through the ORM
(filters, joins, compiling to SQL), so it is built once through the adapter's
``sellable_queryset()`` for a given number of keys (rounded up to a multiple of 8, padded by
repeating a key), its SQL and parameters are kept, and later calls only swap the keys in.
The kept SQL is dropped when settings change (see :mod:`cart_recommender.receivers`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from django.db import connections

from cart_recommender.adapter import get_adapter
from cart_recommender.conf import app_settings
from cart_recommender.serving.background import yielding

logger = logging.getLogger(__name__)

STEP = 8
#: Primary key types whose Python value is already what the database driver wants.
PLAIN_TYPES = frozenset({"AutoField", "BigAutoField", "SmallAutoField", "IntegerField", "BigIntegerField",
                         "PositiveIntegerField", "PositiveBigIntegerField", "SmallIntegerField", "CharField"})
_compiled: dict[int, tuple[str, str, list[Any], list[int]]] = {}
_lock = threading.Lock()


def _sentinels(pk_field: Any, n: int) -> list[Any]:
    if pk_field.get_internal_type() in PLAIN_TYPES - {"CharField"}:
        return [-(10**15) - i for i in range(n)]
    return [f"\x00cr-sentinel-{i}" for i in range(n)]


def _compile(n: int) -> tuple[str, str, list[Any], list[int]]:
    queryset = get_adapter().sellable_queryset()
    pk_field = queryset.model._meta.pk
    sentinels = _sentinels(pk_field, n)
    query = queryset.filter(pk__in=sentinels).order_by().values_list("pk", flat=True)
    sql, params = query.query.sql_with_params()
    params = list(params)
    prepared = [pk_field.get_db_prep_value(s, connections[query.db]) for s in sentinels]
    positions = [params.index(value) for value in prepared]
    return query.db, sql, params, positions


def sellable_keys(keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` (``str(pk)``) are in the adapter's ``sellable_queryset()`` now."""
    if not keys:
        return set()
    adapter = get_adapter()
    pk_field = adapter.product_queryset().model._meta.pk
    values = []
    for key in keys:
        try:
            values.append(pk_field.to_python(key))
        except Exception:  # not a valid pk: cannot be sold
            continue
    if not values:
        return set()
    size = -(-len(values) // STEP) * STEP
    compiled = _compiled.get(size)
    if compiled is None:
        with _lock:
            compiled = _compiled.get(size) or _compile(size)
            _compiled[size] = compiled
    alias, sql, template, positions = compiled
    params = list(template)
    padded = values + [values[-1]] * (size - len(values))
    connection = connections[alias]
    plain = pk_field.get_internal_type() in PLAIN_TYPES  # the driver takes these as they are
    for position, value in zip(positions, padded, strict=True):
        params[position] = value if plain else pk_field.get_db_prep_value(value, connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {str(row[0]) for row in cursor.fetchall()}


class _SellableSet:
    """The keys of every sellable product, re-read in the background when older than allowed."""

    def __init__(self) -> None:
        self.keys: frozenset[str] | None = None
        self.read_at = 0.0
        self.lock = threading.Lock()
        self.reading = False

    def current(self, max_age: float) -> frozenset[str]:
        keys = self.keys
        if keys is None:
            with self.lock:
                if self.keys is None:
                    self.keys, self.read_at = _read_sellable(), time.monotonic()
                return self.keys
        if time.monotonic() - self.read_at >= max_age:
            with self.lock:
                start, self.reading = not self.reading, True
            if start:
                threading.Thread(target=self._reread, name="cart-recommender-sellable", daemon=True).start()
        return keys

    def _reread(self) -> None:
        try:
            self.keys, self.read_at = _read_sellable(), time.monotonic()
        except Exception:  # keep the previous set; the next request tries again
            logger.exception("cart_recommender: re-reading the sellable products failed")
        finally:
            self.reading = False
            connections.close_all()

    def clear(self) -> None:
        self.keys = None


def _read_sellable() -> frozenset[str]:
    queryset = get_adapter().sellable_queryset().order_by().values_list("pk", flat=True)
    return frozenset(str(pk) for pk in yielding(queryset.iterator(chunk_size=10000)))


_sellable = _SellableSet()


def recent_sellable() -> frozenset[str] | None:
    """Every sellable product's key, at most ``SELLABLE_REFRESH_SECONDS`` old, or None.

    None when ``SELLABLE_REFRESH_SECONDS = None``: then each bundle asks the database about
    its candidates (:func:`sellable_keys`). The set is re-read in a background thread, one
    query, so a request costs none.
    """
    max_age = app_settings.SELLABLE_REFRESH_SECONDS
    return None if max_age is None else _sellable.current(max_age)


def reset(**kwargs: Any) -> None:
    """Forget the compiled SQL and the sellable set (settings or products changed)."""
    _compiled.clear()
    _sellable.clear()
