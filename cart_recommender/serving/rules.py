"""Merchants' bundle rules as the serving path applies them: pinned and blocked companions.

Staff keep :class:`~cart_recommender.models.BundleRule` rows in the admin; each web process
reads all of them with the serving state (one query every ``MODEL_CHECK_SECONDS``, see
:mod:`cart_recommender.serving.state`) into a :class:`Rules` value, so applying them to a
bundle costs dictionary lookups and no query.

Example::

    rules = read_rules()
    rules.pinned_for(["TEA"])    # [("CAKE", "TEA")]: always offer cake with tea
    rules.blocked_for(["TEA"])   # {"COFFEE"}: never offer coffee with tea
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from cart_recommender.models import BundleRule


@dataclass(frozen=True)
class Rules:
    """Pinned and blocked companions per product key, and a digest naming the rule set."""

    pins: dict[str, tuple[str, ...]] = field(default_factory=dict)
    blocks: dict[str, frozenset[str]] = field(default_factory=dict)
    digest: str = ""

    def pinned_for(self, cart: Iterable[str]) -> list[tuple[str, str]]:
        """``(companion, cart product)`` of every pin of the cart's products, in cart order."""
        return [(companion, product) for product in cart for companion in self.pins.get(product, ())]

    def blocked_for(self, cart: Iterable[str]) -> set[str]:
        """Every companion a rule forbids next to one of the cart's products."""
        blocked: set[str] = set()
        for product in cart:
            blocked |= self.blocks.get(product, frozenset())
        return blocked


def read_rules() -> Rules:
    """Every rule, in one query; the digest changes whenever any rule does (cache keys use it)."""
    rows = sorted(
        (str(p), str(c), k)
        for p, c, k in BundleRule.objects.values_list("product_id", "companion_id", "kind")
    )
    digest = hashlib.blake2b(digest_size=6)
    pins: dict[str, list[str]] = {}
    blocks: dict[str, set[str]] = {}
    for product, companion, kind in rows:
        digest.update(f"{product}\x00{companion}\x00{kind}\x01".encode())
        if kind == BundleRule.Kind.PIN:
            pins.setdefault(product, []).append(companion)
        else:
            blocks.setdefault(product, set()).add(companion)
    return Rules(
        pins={k: tuple(v) for k, v in pins.items()},
        blocks={k: frozenset(v) for k, v in blocks.items()},
        digest=digest.hexdigest(),
    )
