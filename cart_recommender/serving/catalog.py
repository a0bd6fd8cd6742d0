"""The shop's catalog as the serving path sees it: one in-process snapshot per web process.

Building a bundle needs each candidate's category, price, and whether it may be sold. Asking
the adapter per request means loading model instances on every request; instead each process
keeps a snapshot and reuses it. When the adapter keeps the default readers (``get_price``,
``get_category``, ``is_sellable``, ``get_external_id``) the snapshot is read as plain column
values in one query (20,000 products in well under a second); an adapter that overrides one
of them is asked product by product, with instances built from the same rows. Display data
(name, URL, image) is only needed for the few products a bundle shows: it is made on first use
from the kept row (no query) and remembered with the snapshot. With the adapter's default
``get_display`` (which reads only the row) it is also made for every product in a background
thread, and a rebuilt snapshot keeps it for each product whose row did not change: making it
costs ~30 us a product (mostly ``get_absolute_url``), which requests would otherwise pay again
after every rebuild. An adapter with its own ``get_display`` may read other tables, so its
display data is made afresh, on first use, after every rebuild.

Staleness bound: a snapshot older than ``CART_RECOMMENDER["CATALOG_REFRESH_SECONDS"]`` is
rebuilt in a background thread (requests keep using the old one meanwhile), and a product
saved or deleted in this process drops the snapshot at once. Whether a bundle item may be
sold is in addition checked against a set of sellable products at most
``SELLABLE_REFRESH_SECONDS`` old, or live in SQL when that setting is None (see
:mod:`cart_recommender.serving.sellable`); a cached bundle may be up to ``CACHE_TIMEOUT`` seconds old,
and a name or price up to the refresh interval.

Keys are ``str(pk)``: the same ids the trained model uses for database-trained versions.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import connections, models
from django.db.models.signals import post_delete, post_save
from django.urls import get_script_prefix, set_script_prefix
from django.utils import translation

from cart_recommender.adapter import DefaultShopAdapter, ProductDisplay, get_adapter
from cart_recommender.conf import app_settings, get_product_model
from cart_recommender.serving import fallbacks, sellable
from cart_recommender.serving.background import yielding

logger = logging.getLogger(__name__)
CENT = Decimal("0.01")
#: Adapter methods the snapshot can replace by reading plain column values.
COLUMN_READERS = ("get_price", "get_category", "is_sellable", "get_external_id")


@dataclass(frozen=True, slots=True)
class ProductInfo:
    """What the serving path needs to know about one product to choose it."""

    key: str  # str(pk)
    external_id: str
    price: Decimal | None
    category: str | None
    sellable: bool


@dataclass
class CatalogSnapshot:
    """All products of the shop, plus the most popular ones in order (for fallbacks)."""

    products: dict[str, ProductInfo]
    by_external_id: dict[str, str]
    popular: list[str] = field(default_factory=list)
    built_at: float = 0.0
    displays: dict[str, ProductDisplay] = field(default_factory=dict)
    #: Column values per product (see :func:`row_fields`): display data is made from these.
    rows: dict[str, tuple] = field(default_factory=dict)
    row_fields: tuple[str, ...] = ()

    def get(self, key: Any) -> ProductInfo | None:
        return self.products.get(str(key))

    def key_for_external_id(self, external_id: str) -> str | None:
        return self.by_external_id.get(str(external_id))

    def display(self, keys: Iterable[str]) -> dict[str, ProductDisplay]:
        """Names, URLs and images of ``keys``, made on first use from the kept column values.

        No query: the adapter's ``get_display`` gets a product instance built from the row
        the snapshot read (fields it did not keep, such as long texts, load on access).
        """
        out: dict[str, ProductDisplay] = {}
        for key in keys:
            display = self.displays.get(key)
            if display is None:
                display = self._make_display(key)
                if display is None:
                    continue
            out[key] = display
        return out

    def _make_display(self, key: str) -> ProductDisplay | None:
        row = self.rows.get(key)
        if row is None:
            return None
        adapter = get_adapter()
        queryset = adapter.product_queryset()
        product = queryset.model.from_db(queryset.db, self.row_fields, row)
        display = self.displays[key] = adapter.get_display(product)
        return display

    @property
    def displays_complete(self) -> bool:
        return len(self.displays) >= len(self.rows)

    def keep_displays(self, previous: CatalogSnapshot) -> None:
        """Reuse ``previous``'s display data for every product whose row is unchanged."""
        if previous.row_fields != self.row_fields:
            return
        old_rows, rows = previous.rows, self.rows
        for key, display in yielding(list(previous.displays.items())):
            row = rows.get(key)
            if row is not None and old_rows.get(key) == row:
                self.displays.setdefault(key, display)

    def make_all_displays(self) -> None:
        """Make the display data of every product not made yet (a background thread's job)."""
        for key in yielding(list(self.rows)):
            if key not in self.displays:
                self._make_display(key)


def _default_display(adapter: DefaultShopAdapter) -> bool:
    """Whether the adapter's display data comes from the product's row alone."""
    return type(adapter).get_display is DefaultShopAdapter.get_display


def _money(value: Decimal | None) -> Decimal | None:
    if value is None:
        return None
    try:
        value = Decimal(str(value))
    except InvalidOperation:
        return None
    return value.quantize(CENT) if value.is_finite() else None


def _uses_column_readers(adapter: DefaultShopAdapter) -> bool:
    cls = type(adapter)
    return all(getattr(cls, name) is getattr(DefaultShopAdapter, name) for name in COLUMN_READERS)


def row_fields(model: type) -> tuple[str, ...]:
    """The columns kept per product: every concrete field except long texts and binary data."""
    skip = (models.TextField, models.BinaryField, models.JSONField)
    return tuple(f.attname for f in model._meta.concrete_fields if not isinstance(f, skip))


def _read_columns(
    adapter: DefaultShopAdapter, rows: Iterable[tuple], fields: tuple[str, ...]
) -> Iterable[ProductInfo]:
    names = app_settings.PRODUCT_FIELDS
    pk_name = adapter.product_queryset().model._meta.pk.attname
    position = {name: i for i, name in enumerate(fields)}

    def column(key: str) -> int | None:
        name = names.get(key)
        if not name:
            return None
        if name == "pk":
            name = pk_name
        return position.get(name)

    pk_at = position[pk_name]
    price_at, category_at, active_at, stock_at = (column(k) for k in ("price", "category", "active", "stock"))
    ext_at = column("external_id")
    ext_at = pk_at if ext_at is None else ext_at
    for row in rows:
        category = row[category_at] if category_at is not None else None
        active = row[active_at] if active_at is not None else True
        stock = row[stock_at] if stock_at is not None else 1
        yield ProductInfo(
            key=str(row[pk_at]),
            external_id=str(row[ext_at]),
            price=_money(row[price_at]) if price_at is not None else None,
            category=str(category) if category not in (None, "") else None,
            sellable=bool(active) and (stock or 0) > 0,
        )


def _read_instances(adapter: DefaultShopAdapter, products: Iterable[models.Model]) -> Iterable[ProductInfo]:
    for product in products:
        yield ProductInfo(
            key=str(product.pk),
            external_id=adapter.get_external_id(product),
            price=_money(adapter.get_price(product)),
            category=adapter.get_category(product),
            sellable=bool(adapter.is_sellable(product)),
        )


def build_snapshot() -> CatalogSnapshot:
    """Read every product's columns in one query and the popularity order in another.

    With the default readers the adapter's answers are computed from the columns directly.
    An adapter that overrides one of them is asked product by product, over its
    ``catalog_queryset()`` in chunks: its ``select_related``/``prefetch_related`` keep a rebuild
    to a few queries per 2,000 products, whatever the readers look at.
    """
    adapter = get_adapter()
    queryset = adapter.product_queryset()
    fields = row_fields(queryset.model)
    if _uses_column_readers(adapter):
        rows = list(yielding(queryset.values_list(*fields).iterator(chunk_size=5000)))
        infos: Iterable[ProductInfo] = _read_columns(adapter, yielding(rows), fields)
    else:
        instances = list(yielding(adapter.catalog_queryset().iterator(chunk_size=2000)))
        rows = [tuple(getattr(p, f) for f in fields) for p in instances]
        infos = _read_instances(adapter, yielding(instances))
    products: dict[str, ProductInfo] = {}
    by_external: dict[str, str] = {}
    kept: dict[str, tuple] = {}
    for info, row in zip(infos, rows, strict=True):
        products[info.key] = info
        by_external[info.external_id] = info.key
        kept[info.key] = row
    popular = [key for key in fallbacks.popular_product_keys() if key in products]
    return CatalogSnapshot(products, by_external, popular, time.monotonic(), rows=kept, row_fields=fields)


class _Holder:
    """Builds the first snapshot in the request that needs it; later ones in the background.

    A stale snapshot keeps serving while a thread builds its successor, so no request waits
    for a rebuild (a large catalog takes a fraction of a second of CPU). The same thread then
    carries display data over and makes the rest (default ``get_display`` only).
    """

    def __init__(self) -> None:
        self.snapshot: CatalogSnapshot | None = None
        self.previous: CatalogSnapshot | None = None  # dropped by clear(): displays to reuse
        self.lock = threading.Lock()
        self.rebuilding = False

    def current(self) -> CatalogSnapshot:
        snap = self.snapshot
        if snap is not None:
            if time.monotonic() - snap.built_at >= app_settings.CATALOG_REFRESH_SECONDS:
                self._in_background(self._rebuild)
            return snap
        with self.lock:
            built = self.snapshot is None
            if built:
                self.snapshot = build_snapshot()
                previous, self.previous = self.previous, None
            snap = self.snapshot
        if built and _default_display(get_adapter()):
            self._in_background(self._displays, snap, previous)
        return snap

    def _in_background(self, work: Any, *args: Any) -> None:
        with self.lock:
            if self.rebuilding:
                return
            self.rebuilding = True
        # URLs are made there as in this request: same script prefix, same language
        context = (get_script_prefix(), translation.get_language())
        threading.Thread(
            target=self._run, args=(context, work, *args), name="cart-recommender-catalog", daemon=True
        ).start()

    def _run(self, context: tuple[str, str | None], work: Any, *args: Any) -> None:
        prefix, language = context
        set_script_prefix(prefix)
        try:
            with translation.override(language):
                work(*args)
        except Exception:  # keep serving the old snapshot; the next request tries again
            logger.exception("cart_recommender: rebuilding the catalog snapshot failed")
        finally:
            self.rebuilding = False
            connections.close_all()  # this thread's own connections

    def _rebuild(self) -> None:
        previous = self.snapshot
        self.snapshot = snap = build_snapshot()
        if _default_display(get_adapter()):
            self._displays(snap, previous)

    @staticmethod
    def _displays(snap: CatalogSnapshot, previous: CatalogSnapshot | None) -> None:
        if previous is not None:
            snap.keep_displays(previous)
        snap.make_all_displays()

    def clear(self, keep_displays: bool = True) -> None:
        self.previous = self.snapshot if keep_displays and self.snapshot is not None else None
        self.snapshot = None


_holder = _Holder()


def get_snapshot() -> CatalogSnapshot:
    """The process's catalog snapshot, rebuilt when older than ``CATALOG_REFRESH_SECONDS``."""
    return _holder.current()


def clear_snapshot(**kwargs: Any) -> None:
    """Forget the snapshot; the next request rebuilds it (connected to product saves)."""
    _holder.clear()
    sellable.reset()


def reset() -> None:
    """Forget the snapshot and its display data (settings changed: another adapter, say)."""
    _holder.clear(keep_displays=False)
    sellable.reset()


def lookup_external_ids(ids: Iterable[str]) -> tuple[dict[str, str], list[str]]:
    """Map external ids to snapshot keys; ids missing from the snapshot are asked of the DB.

    Returns ``(found, unknown)``: a product created after the snapshot was built is found
    (and the snapshot rebuilt), an id of no product at all is reported as unknown.
    """
    snap = get_snapshot()
    found: dict[str, str] = {}
    missing: list[str] = []
    for one in ids:
        key = snap.key_for_external_id(one)
        if key is None:
            missing.append(one)
        else:
            found[one] = key
    if missing:
        from_db = get_adapter().get_products_by_external_ids(missing)
        if from_db:
            clear_snapshot()
            for ext, product in from_db.items():
                found[ext] = str(product.pk)
        missing = [one for one in missing if one not in from_db]
    return found, missing


def connect_product_signals() -> None:
    """Rebuild the snapshot after a product is saved or deleted in this process."""
    model = get_product_model()
    post_save.connect(clear_snapshot, sender=model, dispatch_uid="cart_recommender_catalog_save")
    post_delete.connect(clear_snapshot, sender=model, dispatch_uid="cart_recommender_catalog_delete")
