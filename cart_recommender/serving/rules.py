"""Merchants' bundle rules as the serving path applies them: pinned and blocked companions, for
every shopper or for one segment's, and a segment's own category cap.

Staff keep :class:`~cart_recommender.models.BundleRule` rows in the admin; each web process
reads all of them with the serving state (one query every ``MODEL_CHECK_SECONDS``, see
:mod:`cart_recommender.serving.state`) into a :class:`Rules` value, so applying them to a
bundle costs dictionary lookups and no query.

Example::

    rules = read_rules()
    rules.pinned_for(["TEA"])    # [("CAKE", "TEA")]: always offer cake with tea
    rules.blocked_for(["TEA"])   # {"COFFEE"}: never offer coffee with tea
    rules.blocked_for(["TEA"], segment=3)   # also what segment 3's own rules block
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from cart_recommender.models import BundleRule


@dataclass(frozen=True)
class Rules:
    """Pinned and blocked companions per product key, per-segment ones apart, the segments'
    category caps, and a digest naming the rule set.

    ``pins``/``blocks`` hold every shopper's rules; ``segment_pins``/``segment_blocks`` the
    rules of one segment (by segment id), which add to those for that segment's shoppers.
    """

    pins: dict[str, tuple[str, ...]] = field(default_factory=dict)
    blocks: dict[str, frozenset[str]] = field(default_factory=dict)
    segment_pins: dict[int, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    segment_blocks: dict[int, dict[str, frozenset[str]]] = field(default_factory=dict)
    caps: dict[int, int] = field(default_factory=dict)
    digest: str = ""

    def pinned_for(self, cart: Iterable[str], segment: int | None = None) -> list[tuple[str, str]]:
        """``(companion, cart product)`` of every pin of the cart's products, in cart order; a
        segment's own pins after everyone's."""
        own = self.segment_pins.get(segment, {}) if segment is not None else {}
        out = [(companion, product) for product in cart for companion in self.pins.get(product, ())]
        if own:
            out += [(companion, product) for product in cart for companion in own.get(product, ())]
        return out

    def blocked_for(self, cart: Iterable[str], segment: int | None = None) -> set[str]:
        """Every companion a rule forbids next to one of the cart's products (for this segment)."""
        own = self.segment_blocks.get(segment, {}) if segment is not None else {}
        blocked: set[str] = set()
        for product in cart:
            blocked |= self.blocks.get(product, frozenset())
            if own:
                blocked |= own.get(product, frozenset())
        return blocked

    def cap_for(self, segment: int | None, default: int | None) -> int | None:
        """The category cap for a segment's shoppers: its own, or the shop's ``default``."""
        if segment is None:
            return default
        return self.caps.get(segment, default)


def read_rules(caps: dict[int, int] | None = None) -> Rules:
    """Every rule, in one query, with the segments' own category caps (``caps``: segment id ->
    cap, as :func:`cart_recommender.serving.segments.read_segment_rows` reads them); the digest
    changes whenever any of them does (cache keys use it)."""
    rows = sorted(
        (str(p), str(c), k, seg if seg is not None else -1)
        for p, c, k, seg in BundleRule.objects.values_list("product_id", "companion_id", "kind", "segment_id")
    )
    caps = dict(sorted((caps or {}).items()))
    digest = hashlib.blake2b(digest_size=6)
    pins: dict[int, dict[str, list[str]]] = {}
    blocks: dict[int, dict[str, set[str]]] = {}
    for product, companion, kind, seg in rows:
        digest.update(f"{product}\x00{companion}\x00{kind}\x00{seg}\x01".encode())
        if kind == BundleRule.Kind.PIN:
            pins.setdefault(seg, {}).setdefault(product, []).append(companion)
        else:
            blocks.setdefault(seg, {}).setdefault(product, set()).add(companion)
    for seg, cap in caps.items():
        digest.update(f"cap\x00{seg}\x00{cap}\x01".encode())

    def frozen_pins(seg: int) -> dict[str, tuple[str, ...]]:
        return {k: tuple(v) for k, v in pins.get(seg, {}).items()}

    def frozen_blocks(seg: int) -> dict[str, frozenset[str]]:
        return {k: frozenset(v) for k, v in blocks.get(seg, {}).items()}

    return Rules(
        pins=frozen_pins(-1),
        blocks=frozen_blocks(-1),
        segment_pins={seg: frozen_pins(seg) for seg in pins if seg != -1},
        segment_blocks={seg: frozen_blocks(seg) for seg in blocks if seg != -1},
        caps={int(k): int(v) for k, v in caps.items()},
        digest=digest.hexdigest(),
    )
