"""The serving path: a cart in, a coherent "complete your cart" bundle out.

:func:`get_bundle` asks the active model for candidates (falling back to co-purchase counts,
then popularity, then any sellable product, so a shop with sellable products never shows an
empty bundle) and then picks a *set*, not a top-k list: never a product already in the cart,
never one the shop cannot sell (see ``SELLABLE_REFRESH_SECONDS``), never a companion the
merchant blocked, pinned companions first, at most ``CATEGORY_CAP`` items of one category,
and, when ``FREE_SHIPPING_THRESHOLD`` is set, preferably a set that lifts the cart over it.
Results are cached by cart, shopper and serving state (model version, activation, rules), so
activating another version invalidates them at once.

Example::

    from cart_recommender.bundles import get_bundle
    bundle = get_bundle(adapter.get_cart(request), user=request.user,
                        session_key=request.session.session_key)
    for item in bundle.items:
        print(item.name, item.price, item.reason)
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.cache import caches
from django.utils.translation import get_language, gettext_noop
from django.utils.translation import gettext as _

from cart_recommender import catalog, livesql, scoring, stats
from cart_recommender.adapter import CartLine
from cart_recommender.catalog import CatalogSnapshot, ProductInfo
from cart_recommender.conf import app_settings
from cart_recommender.scoring import Candidate, ServingState
from cart_recommender.tracking import linked_ref

CENT = Decimal("0.01")


@dataclass(frozen=True)
class BundleItem:
    """One product of a bundle, with why it is there."""

    product_id: str
    external_id: str
    name: str
    url: str
    image_url: str
    price: Decimal | None
    category: str | None
    score: float
    reason: str
    source: str


@dataclass(frozen=True)
class Bundle:
    """A set of products that completes a cart, its price, and who chose it.

    ``model_version`` is the serving version's id as a string, or ``"baseline"`` when no
    trained model served (the SQL fallbacks did).
    """

    items: tuple[BundleItem, ...]
    total: Decimal
    discount_percent: Decimal
    discount: Decimal
    total_after_discount: Decimal
    cart_total: Decimal
    free_shipping_threshold: Decimal | None
    reaches_free_shipping: bool
    model_version: str
    method: str

    def __len__(self) -> int:
        return len(self.items)

    @property
    def product_ids(self) -> list[str]:
        return [item.product_id for item in self.items]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (decimals as strings), the REST API's answer."""

        def money(value: Decimal | None) -> str | None:
            return None if value is None else str(value)

        return {
            "items": [
                {
                    "id": i.external_id,
                    "name": i.name,
                    "url": i.url,
                    "image_url": i.image_url,
                    "price": money(i.price),
                    "category": i.category,
                    "score": round(i.score, 6),
                    "reason": i.reason,
                    "source": i.source,
                }
                for i in self.items
            ],
            "total": money(self.total),
            "discount_percent": money(self.discount_percent),
            "discount": money(self.discount),
            "total_after_discount": money(self.total_after_discount),
            "cart_total": money(self.cart_total),
            "free_shipping_threshold": money(self.free_shipping_threshold),
            "reaches_free_shipping": self.reaches_free_shipping,
            "model_version": self.model_version,
            "method": self.method,
        }


class BundleError(ValueError):
    """The request cannot be answered as asked (bad size, too many items)."""


# --------------------------------------------------------------------------- public API


def get_bundle(
    cart_items: Iterable[Any],
    user: Any = None,
    session_key: str | None = None,
    size: int | None = None,
    *,
    personal: bool = True,
    use_cache: bool = True,
) -> Bundle:
    """Build (or fetch from the cache) the bundle that completes ``cart_items``.

    Args:
        cart_items: :class:`~cart_recommender.adapter.CartLine` objects, the shop's own
            cart lines (anything with ``.product`` and ``.quantity``), product instances or
            primary keys.
        user: the requesting user; only their own history is read (the personal signal).
        session_key: the requester's session, for an anonymous shopper's own history.
        size: number of items; ``BUNDLE_SIZE`` by default, at most ``MAX_BUNDLE_SIZE``.
        personal: False ignores the shopper's history (e.g. "frequently bought together").
        use_cache: False always computes afresh (and stores nothing).

    Returns:
        A :class:`Bundle`; it is empty only when the shop has no sellable product to offer.

    Raises:
        BundleError: for a size out of range or a cart larger than ``MAX_CART_ITEMS``.
    """
    size = app_settings.BUNDLE_SIZE if size is None else size
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= app_settings.MAX_BUNDLE_SIZE:
        raise BundleError(f"size must be an integer from 1 to {app_settings.MAX_BUNDLE_SIZE}")
    quantities = _normalise_cart(cart_items)
    if len(quantities) > app_settings.MAX_CART_ITEMS:
        raise BundleError(f"a cart may hold at most {app_settings.MAX_CART_ITEMS} different items")
    user_id = user.pk if user is not None and getattr(user, "is_authenticated", False) else None
    if not personal:
        user_id, session_key = None, ""
    state = scoring.get_state()
    alias = app_settings.CACHE_ALIAS if use_cache else None
    cache_key = None
    if alias:
        shopper = f"u{user_id}" if user_id is not None else (f"s{session_key}" if session_key else "-")
        cache_key = _cache_key(state.token, size, shopper, quantities)
        cached = caches[alias].get(cache_key)
        if cached is not None:
            return cached
    shopper_ref = linked_ref(user) if user_id is not None else ""
    bundle = _build(state, catalog.get_snapshot(), quantities, user_id, shopper_ref, session_key or "", size)
    if cache_key is not None:
        caches[alias].set(cache_key, bundle, app_settings.CACHE_TIMEOUT)
    return bundle


def frequently_bought_together(product_key: Any, size: int | None = None) -> Bundle:
    """What is bought with one product, for a product page: no shopper history involved."""
    return get_bundle([product_key], size=size, personal=False)


# --------------------------------------------------------------------------- internals


def _normalise_cart(cart_items: Iterable[Any]) -> dict[str, int]:
    quantities: dict[str, int] = {}
    for entry in cart_items:
        if isinstance(entry, CartLine):
            key, qty = str(entry.product_id), entry.quantity
        elif hasattr(entry, "_meta") and hasattr(entry, "pk"):
            key, qty = str(entry.pk), 1
        elif hasattr(entry, "product") and hasattr(entry, "quantity"):  # a shop's cart line
            product = entry.product
            key, qty = str(getattr(product, "pk", product)), entry.quantity
        else:
            key, qty = str(entry), 1
        quantities[key] = quantities.get(key, 0) + max(int(qty), 1)
    return quantities


def _cache_key(token: str, size: int, shopper: str, quantities: dict[str, int]) -> str:
    s = app_settings
    raw = "|".join(
        (
            token,
            str(size),
            shopper,
            ",".join(sorted(quantities)),
            str(s.CATEGORY_CAP),
            str(s.FREE_SHIPPING_THRESHOLD),
            str(s.BUNDLE_DISCOUNT_PERCENT),
        )
    )
    if s.FREE_SHIPPING_THRESHOLD is not None:  # quantities change the cart total
        raw += "|" + ",".join(f"{k}:{v}" for k, v in sorted(quantities.items()))
    return "cart_recommender:bundle:" + hashlib.blake2b(raw.encode(), digest_size=16).hexdigest()


def _build(
    state: ServingState,
    snap: CatalogSnapshot,
    quantities: dict[str, int],
    user_id: Any,
    shopper_ref: str,
    session_key: str,
    size: int,
) -> Bundle:
    cart = list(quantities)
    history = (
        stats.shopper_history(user_id, session_key, shopper_ref=shopper_ref)
        if (user_id is not None or session_key) else []
    )
    blocked: set[str] = set()
    for key in cart:
        blocked |= state.blocks.get(key, frozenset())
    cap = app_settings.CATEGORY_CAP
    wanted = max(4 * size, 12)
    pool: list[tuple[Candidate, str]] = []
    seen = set(cart) | blocked
    per_category: dict[str | None, int] = {}
    recent = livesql.recent_sellable()  # None: ask the database once the pool is made

    def offer(candidates: Iterable[Candidate], source: str) -> bool:
        """Add candidates that pass the in-memory checks; True once the pool is full."""
        for cand in candidates:
            info = snap.products.get(cand.key)
            if cand.key in seen or info is None or not info.sellable:
                continue
            if recent is not None and cand.key not in recent:
                continue
            seen.add(cand.key)
            if source != "pinned" and cap is not None and info.category is not None:
                if per_category.get(info.category, 0) >= 2 * cap:
                    continue  # keep one spare per category slot for the threshold swap
                per_category[info.category] = per_category.get(info.category, 0) + 1
            pool.append((cand, source))
            if source != "pinned" and len(pool) >= wanted:
                return True
        return False

    offer((Candidate(c, 0.0, anchor=p) for p in cart for c in state.pins.get(p, ())), "pinned")
    model = scoring.model_candidates(state, cart, history, time.time(), max(48, 2 * wanted))
    full = model is not None and offer(model, "model")
    if not full and model is None:
        full = offer(
            (
                Candidate(c.candidate, float(c.orders), anchor=c.anchor)
                for c in stats.copurchases(cart, limit=wanted * 2)
            ),
            "copurchase",
        )
    if not full and history:
        bought = [h.product for h in reversed(history) if h.event_type == "purchase"]
        full = offer((Candidate(k, 0.0, repeat=True) for k in dict.fromkeys(bought)), "personal")
    if not full:
        n = len(snap.popular)
        full = offer((Candidate(k, (n - i) / n) for i, k in enumerate(snap.popular)), "popularity")
    if not full:
        offer((Candidate(k, 0.0) for k in snap.products), "catalog")
    if recent is None:
        pool = _live_sellable(pool)
    chosen = _choose(pool, snap, quantities, size, cap)
    return _assemble(state, snap, quantities, chosen, history)


def _live_sellable(pool: list[tuple[Candidate, str]]) -> list[tuple[Candidate, str]]:
    """Drop candidates the shop stopped selling since the snapshot: one query (see :mod:`.livesql`)."""
    if not pool:
        return pool
    live = livesql.sellable_keys([cand.key for cand, _ in pool])
    return [(cand, source) for cand, source in pool if cand.key in live]


def sellable_keys(keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` the adapter's ``sellable_queryset()`` holds right now.

    The query's SQL is compiled once per process and number of keys (see :mod:`.livesql`):
    building it through the ORM on every request would cost more than running it.
    """
    return livesql.sellable_keys(keys)


def _price(info: ProductInfo | None) -> Decimal:
    return info.price if info is not None and info.price is not None else Decimal(0)


def _fits_cap(items: Sequence[tuple[Candidate, str]], snap: CatalogSnapshot, cap: int | None) -> bool:
    if cap is None:
        return True
    counts: dict[str, int] = {}
    for cand, source in items:
        category = snap.products[cand.key].category
        if category is None or source == "pinned":
            continue
        counts[category] = counts.get(category, 0) + 1
        if counts[category] > cap:
            return False
    return True


def _choose(
    pool: list[tuple[Candidate, str]],
    snap: CatalogSnapshot,
    quantities: dict[str, int],
    size: int,
    cap: int | None,
) -> list[tuple[Candidate, str]]:
    """Greedy by rank under the category cap; then, if a free-shipping threshold is set and
    not reached, the single swap that reaches it while giving up the least rank."""
    chosen: list[tuple[Candidate, str]] = []
    for entry in pool:
        if len(chosen) >= size:
            break
        if _fits_cap([*chosen, entry], snap, cap):
            chosen.append(entry)
    threshold = app_settings.FREE_SHIPPING_THRESHOLD
    if threshold is None or not chosen:
        return chosen
    threshold = Decimal(str(threshold))
    cart_total = sum((_price(snap.get(k)) * q for k, q in quantities.items()), Decimal(0))

    def total(items: Sequence[tuple[Candidate, str]]) -> Decimal:
        return cart_total + sum((_price(snap.products[c.key]) for c, _ in items), Decimal(0))

    if cart_total >= threshold or total(chosen) >= threshold:
        return chosen
    in_set = {c.key for c, _ in chosen}
    for position in range(len(chosen) - 1, -1, -1):  # give up the lowest-ranked item first
        if chosen[position][1] == "pinned":
            continue
        for entry in pool:
            if entry[0].key in in_set:
                continue
            trial = [*chosen[:position], entry, *chosen[position + 1 :]]
            if total(trial) >= threshold and _fits_cap(trial, snap, cap):
                return trial
    return chosen


#: The reasons a bundle item can give; translated once per language (see :func:`_texts`).
REASONS = {
    "pinned": gettext_noop("Goes with %(name)s"),
    "repeat": gettext_noop("You bought this before"),
    "together": gettext_noop("Often bought with %(name)s"),
    "popular": gettext_noop("Popular with other shoppers"),
    "model": gettext_noop("Picked for your cart"),
    "other": gettext_noop("You might also like"),
}
_translated: dict[str | None, dict[str, str]] = {}


def _texts() -> dict[str, str]:
    """The reasons in the active language, translated once per language and process."""
    language = get_language()
    texts = _translated.get(language)
    if texts is None:
        texts = _translated[language] = {kind: _(text) for kind, text in REASONS.items()}
    return texts


def _reason(cand: Candidate, source: str, names: dict[str, Any], texts: dict[str, str]) -> str:
    anchor = names.get(cand.anchor) if cand.anchor else None
    if source == "pinned" and anchor is not None:
        return texts["pinned"] % {"name": anchor.name}
    if cand.repeat or source == "personal":
        return texts["repeat"]
    if anchor is not None:
        return texts["together"] % {"name": anchor.name}
    if source == "popularity":
        return texts["popular"]
    if source == "model":
        return texts["model"]
    return texts["other"]


def _assemble(
    state: ServingState,
    snap: CatalogSnapshot,
    quantities: dict[str, int],
    chosen: list[tuple[Candidate, str]],
    history: Sequence[Any],
) -> Bundle:
    bought = {h.product for h in history if h.event_type == "purchase"}
    cart = list(quantities)
    explained: list[tuple[Candidate, str]] = []
    found = scoring.anchors(state, [c.key for c, s in chosen if s == "model" and c.anchor is None], cart)
    for cand, source in chosen:
        if source == "model" and cand.anchor is None:
            cand = Candidate(cand.key, cand.score, found.get(cand.key), cand.repeat)
        if cand.key in bought and not cand.repeat:
            cand = Candidate(cand.key, cand.score, cand.anchor, repeat=True)
        explained.append((cand, source))
    shown = [c.key for c, _ in explained]
    displays = snap.display([*shown, *(c.anchor for c, _ in explained if c.anchor)])
    items = []
    texts = _texts()
    for cand, source in explained:
        info = snap.products[cand.key]
        display = displays.get(cand.key)
        if display is None:  # deleted since the snapshot was built
            continue
        items.append(
            BundleItem(
                product_id=info.key,
                external_id=info.external_id,
                name=display.name,
                url=display.url,
                image_url=display.image_url,
                price=info.price,
                category=info.category,
                score=cand.score,
                reason=_reason(cand, source, displays, texts),
                source=source,
            )
        )
    total = sum((i.price for i in items if i.price is not None), Decimal(0)).quantize(CENT)
    percent = Decimal(str(app_settings.BUNDLE_DISCOUNT_PERCENT or 0))
    discount = (total * percent / 100).quantize(CENT, rounding=ROUND_HALF_UP) if items else Decimal("0.00")
    cart_total = sum((_price(snap.get(k)) * q for k, q in quantities.items()), Decimal(0)).quantize(CENT)
    threshold = app_settings.FREE_SHIPPING_THRESHOLD
    threshold = Decimal(str(threshold)) if threshold is not None else None
    sources = [s for _, s in chosen if s != "pinned"] or [s for _, s in chosen]
    return Bundle(
        items=tuple(items),
        total=total,
        discount_percent=percent,
        discount=discount,
        total_after_discount=total - discount,
        cart_total=cart_total,
        free_shipping_threshold=threshold,
        reaches_free_shipping=threshold is not None and cart_total + total >= threshold,
        model_version=state.label,
        method=sources[0] if sources else "",
    )


__all__ = ["Bundle", "BundleItem", "BundleError", "get_bundle", "frequently_bought_together"]
