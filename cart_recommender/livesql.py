"""The serving path's one live query, compiled once per process instead of once per request.

"Which of these few products may the shop sell right now?" is asked for every freshly built
bundle. Running it takes tens of microseconds; building it through the ORM (filters, joins,
compiling to SQL) takes several times that. So the query is built once through the adapter's
``sellable_queryset()`` for a given number of keys (rounded up to a multiple of 8, padded by
repeating a key), its SQL and parameters are kept, and later calls only swap the keys in.
The kept SQL is dropped when settings change (see :mod:`cart_recommender.receivers`).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from django.db import connections

from cart_recommender.adapter import get_adapter

STEP = 8
_compiled: dict[int, tuple[str, str, list[Any], list[int]]] = {}
_lock = threading.Lock()


def _sentinels(pk_field: Any, n: int) -> list[Any]:
    if pk_field.get_internal_type() in ("AutoField", "BigAutoField", "SmallAutoField", "IntegerField",
                                        "BigIntegerField", "PositiveIntegerField", "PositiveBigIntegerField"):
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
    for position, value in zip(positions, padded, strict=True):
        params[position] = pk_field.get_db_prep_value(value, connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {str(row[0]) for row in cursor.fetchall()}


def reset(**kwargs: Any) -> None:
    """Forget the compiled SQL (after a settings change)."""
    _compiled.clear()
