"""Choosing a bundle from ranked candidates: a set under the category cap and free shipping.

The candidates arrive best first, each with the scorer that proposed it ("pinned" for the
merchant's pinned companions). :func:`choose` takes them greedily by rank while at most
``CATEGORY_CAP`` share a category (pinned items are exempt), then, when
``FREE_SHIPPING_THRESHOLD`` is set and not reached, makes the single swap that reaches it while
giving up the least rank.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from cart_recommender.conf import app_settings
from cart_recommender.serving.cart import Cart
from cart_recommender.serving.catalog import CatalogSnapshot, ProductInfo
from cart_recommender.serving.scoring import Candidate

#: A candidate and the scorer that proposed it.
Entry = tuple[Candidate, str]


def price_of(info: ProductInfo | None) -> Decimal:
    """A product's price for totals; unknown prices count as 0."""
    return info.price if info is not None and info.price is not None else Decimal(0)


def fits_cap(items: Sequence[Entry], snap: CatalogSnapshot, cap: int | None) -> bool:
    """Whether at most ``cap`` of the non-pinned ``items`` share any one category."""
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


def choose(
    pool: list[Entry],
    snap: CatalogSnapshot,
    cart: Cart,
    size: int,
    cap: int | None,
) -> list[Entry]:
    """Greedy by rank under the category cap; then, if a free-shipping threshold is set and
    not reached, the single swap that reaches it while giving up the least rank."""
    chosen: list[Entry] = []
    for entry in pool:
        if len(chosen) >= size:
            break
        if fits_cap([*chosen, entry], snap, cap):
            chosen.append(entry)
    threshold = app_settings.FREE_SHIPPING_THRESHOLD
    if threshold is None or not chosen:
        return chosen
    threshold = Decimal(str(threshold))
    before = cart_total(cart, snap)

    def total(items: Sequence[Entry]) -> Decimal:
        return before + sum((price_of(snap.products[c.key]) for c, _ in items), Decimal(0))

    if before >= threshold or total(chosen) >= threshold:
        return chosen
    in_set = {c.key for c, _ in chosen}
    for position in range(len(chosen) - 1, -1, -1):  # give up the lowest-ranked item first
        if chosen[position][1] == "pinned":
            continue
        for entry in pool:
            if entry[0].key in in_set:
                continue
            trial = [*chosen[:position], entry, *chosen[position + 1 :]]
            if total(trial) >= threshold and fits_cap(trial, snap, cap):
                return trial
    return chosen


def cart_total(cart: Cart, snap: CatalogSnapshot) -> Decimal:
    """The cart's value at the snapshot's prices."""
    return sum((price_of(snap.get(k)) * q for k, q in cart.items()), Decimal(0))
