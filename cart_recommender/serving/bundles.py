"""The serving path: a cart in, a coherent "complete your cart" bundle out.

:func:`get_bundle` asks the active model for candidates (falling back to co-purchase counts,
then popularity, then any sellable product, so a shop with sellable products never shows an
empty bundle) and then picks a *set*, not a top-k list (:mod:`.selection`): never a product
already in the cart, never one the shop cannot sell (see ``SELLABLE_REFRESH_SECONDS``), never
a companion the merchant blocked, pinned companions first, at most ``CATEGORY_CAP`` items of
one category (the rules and the cap of the shopper's segment, :mod:`.segments`, where it has
its own), a product added since the retrain in the last slot where its name and category put it
in the same range as a cart product (:mod:`.newcomers`), and, when ``FREE_SHIPPING_THRESHOLD``
is set, preferably a set that lifts the cart over it. Results are cached by cart, shopper and
serving state (model version, activation, rules, A/B test arm, segment), so activating another
version invalidates them at once.

During an A/B test (:mod:`cart_recommender.experiments`) the shopper's arm decides who scores
the bundle (a version, a baseline, or nobody: the hold-out gets an empty bundle); assigning
costs a hash, not a query. Every bundle returned carries a fresh ``bundle_id``
(:mod:`cart_recommender.performance.tags`) naming its version, scorer and arm, for attribution.

Example::

    from cart_recommender.serving.bundles import get_bundle
    bundle = get_bundle(adapter.get_cart(request), shopper=shoppers.of_request(request))
    for item in bundle.items:
        print(item.name, item.price, item.reason)
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Sequence
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from cart_recommender import shoppers
from cart_recommender.conf import app_settings
from cart_recommender.performance.tags import new_tag
from cart_recommender.serving import catalog, fallbacks, newcomers, reasons, scoring, sellable, state
from cart_recommender.serving.bundle import Bundle, BundleError, BundleItem
from cart_recommender.serving.cache import get_cache
from cart_recommender.serving.cart import Cart
from cart_recommender.serving.catalog import CatalogSnapshot
from cart_recommender.serving.history import HistoryEvent, shopper_history
from cart_recommender.serving.scoring import Candidate
from cart_recommender.serving.selection import Entry, cart_total, choose
from cart_recommender.serving.state import ServingState
from cart_recommender.shoppers import NOBODY, Shopper

CENT = Decimal("0.01")


def get_bundle(
    cart_items: Cart | Iterable[Any],
    user: Any = None,
    session_key: str | None = None,
    size: int | None = None,
    *,
    shopper: Shopper | None = None,
    personal: bool = True,
    use_cache: bool = True,
) -> Bundle:
    """Build (or fetch from the cache) the bundle that completes ``cart_items``.

    Args:
        cart_items: a :class:`~cart_recommender.serving.cart.Cart`, or what
            :meth:`Cart.of <cart_recommender.serving.cart.Cart.of>` accepts (``CartLine``
            objects, the shop's own cart lines, product instances or primary keys).
        user: the requesting user; only their own history is read (the personal signal).
        session_key: the requester's session, for an anonymous shopper's own history.
        shopper: the requester as :func:`cart_recommender.shoppers.of_request` gives it
            (instead of ``user`` and ``session_key``).
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
    cart = Cart.of(cart_items)
    if len(cart) > app_settings.MAX_CART_ITEMS:
        raise BundleError(f"a cart may hold at most {app_settings.MAX_CART_ITEMS} different items")
    if shopper is None:
        shopper = shoppers.of_user(user, session_key or "")
    serving = state.get_state()
    # the arm and the segment follow the shopper even when their history is not read (a product page)
    arm = serving.experiment.arm_for(shopper.key) if serving.experiment is not None else None
    segment = serving.segments.of(shopper.key)
    if not personal:
        shopper = NOBODY
    if arm is not None:
        if arm.state is None:  # the hold-out: no bundle, but the shopper is counted in the test
            return _empty(serving, arm.arm_id, arm.name)
        scoring_state = arm.state
    else:
        scoring_state = serving
    store = get_cache() if use_cache else None
    cache_key = None
    bundle = None
    if store is not None:
        cache_key = _cache_key(serving.token, size, shopper.key, cart, arm.arm_id if arm else 0, segment)
        bundle = Bundle.from_json(store.get(cache_key))
    if bundle is None:
        bundle = _build(scoring_state, catalog.get_snapshot(), cart, shopper, size, segment)
        if store is not None:
            store.set(cache_key, bundle.to_json(), app_settings.CACHE_TIMEOUT)
    if not bundle.items:
        return replace(bundle, arm=arm.name if arm else "", arm_id=arm.arm_id if arm else None)
    # "model" items come from the version's serving scorer: the model itself or a baseline
    scorer = scoring_state.method if bundle.method == "model" else bundle.method
    tag = new_tag(bundle.model_version, scorer, arm.arm_id if arm else None, segment)
    return replace(bundle, bundle_id=tag.bundle_id, arm=arm.name if arm else "",
                   arm_id=arm.arm_id if arm else None)


def _empty(serving: ServingState, arm_id: int, arm_name: str) -> Bundle:
    zero = Decimal("0.00")
    return Bundle(items=(), total=zero, discount_percent=Decimal(0), discount=zero,
                  total_after_discount=zero, cart_total=zero, free_shipping_threshold=None,
                  reaches_free_shipping=False, model_version=serving.label, method="holdout",
                  arm=arm_name, arm_id=arm_id)


def frequently_bought_together(product_key: Any, size: int | None = None) -> Bundle:
    """What is bought with one product, for a product page: no shopper history involved."""
    return get_bundle([product_key], size=size, personal=False)


def _cache_key(token: str, size: int, shopper: str, cart: Cart, arm_id: int, segment: int | None) -> str:
    s = app_settings
    raw = "|".join(
        (
            token,
            str(arm_id),
            str(segment),
            str(size),
            shopper,
            ",".join(sorted(cart)),
            str(s.CATEGORY_CAP),
            str(s.FREE_SHIPPING_THRESHOLD),
            str(s.BUNDLE_DISCOUNT_PERCENT),
        )
    )
    if s.FREE_SHIPPING_THRESHOLD is not None:  # quantities change the cart total
        raw += "|" + ",".join(f"{k}:{v}" for k, v in sorted(cart.items()))
    return "cart_recommender:bundle:" + hashlib.blake2b(raw.encode(), digest_size=16).hexdigest()


def _build(serving: ServingState, snap: CatalogSnapshot, cart: Cart, shopper: Shopper, size: int,
           segment: int | None = None) -> Bundle:
    keys = list(cart)
    history = shopper_history(shopper)
    blocked = serving.rules.blocked_for(keys, segment)
    cap = serving.rules.cap_for(segment, app_settings.CATEGORY_CAP)
    wanted = max(4 * size, 12)
    pool: list[Entry] = []
    seen = set(keys) | blocked
    per_category: dict[str | None, int] = {}
    recent = sellable.recent_sellable()  # None: ask the database once the pool is made

    def offer(candidates: Iterable[Candidate], source: str, into: list[Entry] | None = None) -> bool:
        """Add candidates that pass the in-memory checks to ``into`` (the pool); True once it is full."""
        target = pool if into is None else into
        for cand in candidates:
            info = snap.products.get(cand.key)
            if cand.key in seen or info is None or not info.sellable:
                continue
            if recent is not None and cand.key not in recent:
                continue
            seen.add(cand.key)
            if source not in ("pinned", "content") and cap is not None and info.category is not None:
                if per_category.get(info.category, 0) >= 2 * cap:
                    continue  # keep one spare per category slot for the threshold swap
                per_category[info.category] = per_category.get(info.category, 0) + 1
            target.append((cand, source))
            if source != "pinned" and len(target) >= wanted:
                return True
        return False

    offer((Candidate(c, 0.0, anchor=p) for c, p in serving.rules.pinned_for(keys, segment)), "pinned")
    pinned = len(pool)
    # products added since the retrain, placed by their content: kept apart for the last slot
    placed: list[Entry] = []
    fresh = newcomers.same_range(serving.model, snap, keys, app_settings.NEW_PRODUCT_SLOTS)
    if fresh:
        offer(fresh, "content", into=placed)
    model = scoring.model_candidates(serving, keys, history, time.time(), max(48, 2 * wanted))
    full = model is not None and offer(model, "model")
    if not full and model is None:
        full = offer(
            (
                Candidate(c.candidate, float(c.orders), anchor=c.anchor)
                for c in fallbacks.copurchases(keys, limit=wanted * 2)
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
    if placed:
        slot = max(size - len(placed), pinned)  # the merchant's pins keep their places
        pool = pool[:slot] + placed + pool[slot:]
    if recent is None:
        pool = _live_sellable(pool)
    chosen = choose(pool, snap, cart, size, cap)
    return _assemble(serving, snap, cart, chosen, history)


def _live_sellable(pool: list[Entry]) -> list[Entry]:
    """Drop candidates the shop stopped selling since the snapshot: one query (see :mod:`.sellable`)."""
    if not pool:
        return pool
    live = sellable.sellable_keys([cand.key for cand, _ in pool])
    return [(cand, source) for cand, source in pool if cand.key in live]


def _assemble(
    serving: ServingState,
    snap: CatalogSnapshot,
    cart: Cart,
    chosen: list[Entry],
    history: Sequence[HistoryEvent],
) -> Bundle:
    bought = {h.product for h in history if h.event_type == "purchase"}
    explained: list[Entry] = []
    unanchored = [c.key for c, s in chosen if s == "model" and c.anchor is None]
    found = scoring.anchors(serving, unanchored, list(cart))
    alike = scoring.range_anchors(serving, [key for key in unanchored if key not in found], list(cart))
    for cand, source in chosen:
        if source == "model" and cand.anchor is None:
            if cand.key in found:
                cand = Candidate(cand.key, cand.score, found[cand.key], cand.repeat)
            elif cand.key in alike:
                cand = Candidate(cand.key, cand.score, alike[cand.key], cand.repeat, same_range=True)
        if cand.key in bought and not cand.repeat:
            cand = Candidate(cand.key, cand.score, cand.anchor, repeat=True, same_range=cand.same_range)
        explained.append((cand, source))
    shown = [c.key for c, _ in explained]
    displays = snap.display([*shown, *(c.anchor for c, _ in explained if c.anchor)])
    items = []
    texts = reasons.texts()
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
                reason=reasons.reason(cand, source, displays, texts),
                source=source,
            )
        )
    total = sum((i.price for i in items if i.price is not None), Decimal(0)).quantize(CENT)
    percent = Decimal(str(app_settings.BUNDLE_DISCOUNT_PERCENT or 0))
    discount = (total * percent / 100).quantize(CENT, rounding=ROUND_HALF_UP) if items else Decimal("0.00")
    before = cart_total(cart, snap).quantize(CENT)
    threshold = app_settings.FREE_SHIPPING_THRESHOLD
    threshold = Decimal(str(threshold)) if threshold is not None else None
    sources = [s for _, s in chosen if s != "pinned"] or [s for _, s in chosen]
    return Bundle(
        items=tuple(items),
        total=total,
        discount_percent=percent,
        discount=discount,
        total_after_discount=total - discount,
        cart_total=before,
        free_shipping_threshold=threshold,
        reaches_free_shipping=threshold is not None and before + total >= threshold,
        model_version=serving.label,
        method=sources[0] if sources else "",
    )


__all__ = ["Bundle", "BundleItem", "BundleError", "Cart", "get_bundle", "frequently_bought_together"]
