"""Products added since the serving version was trained, offered by their content: "same range".

A product the shop adds after a retrain is in no array of the serving version: no model score,
no co-purchase count, so without help it waits for the next retrain and for data nobody can
give it, since it is never shown. Its name and category say where it belongs, though: "Blue
mug large" in "Kitchen > Mugs" is in the same range as the "Blue mug" in the cart. Each web
process keeps, per serving model and catalog snapshot, the sellable products the model does not
know, grouped by category with the words of their names (made once, on first use). A bundle
whose cart holds a product of the same category sharing at least :data:`MIN_SHARED_WORDS` name
words with one of them offers the best such newcomer in its last slot (``NEW_PRODUCT_SLOTS``),
with the reason "Goes with your Blue mug: same range". The next retrain learns it like any
other product (its content included, where the model reads content).

Example::

    for cand in same_range(state.model, catalog.get_snapshot(), ["42"], limit=1):
        cand.key, cand.anchor   # ("97", "42"): product 97 is new and shares a range with 42
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cart_recommender.ml.content import item_tokens
from cart_recommender.serving.catalog import CatalogSnapshot
from cart_recommender.serving.scoring import Candidate

#: Name words a newcomer must share with a cart product of its category.
MIN_SHARED_WORDS = 2
#: At most this many unknown products are indexed (a version trained before the catalog was
#: read in whole could otherwise make every product a newcomer).
MAX_NEWCOMERS = 10_000


def words(name: str) -> frozenset[str]:
    """The distinct name words the content model reads (letters and digits, 2+ characters)."""
    return frozenset(t[2:] for t in item_tokens(name, "", math.nan) if t.startswith("w:"))


@dataclass(frozen=True)
class Newcomers:
    """The sellable products a model does not know, by category, each with its name words."""

    by_category: dict[str, list[tuple[str, frozenset[str]]]]

    def __len__(self) -> int:
        return sum(len(v) for v in self.by_category.values())


_lock = threading.Lock()
_memo: dict[str, Any] = {"key": None, "value": None}


def newcomers_of(model: Any, snap: CatalogSnapshot) -> Newcomers:
    """The newcomers of ``model`` in ``snap`` (remembered for the pair)."""
    key = (id(model), id(snap), snap.built_at)
    if _memo["key"] == key:
        return _memo["value"]
    with _lock:
        if _memo["key"] == key:
            return _memo["value"]
        known = model.item_index
        unknown = [k for k, info in snap.products.items()
                   if info.sellable and info.category and k not in known][:MAX_NEWCOMERS]
        names = snap.display(unknown)
        by_category: dict[str, list[tuple[str, frozenset[str]]]] = {}
        for k in unknown:
            display = names.get(k)
            if display is not None:
                by_category.setdefault(snap.products[k].category or "", []).append((k, words(display.name)))
        value = Newcomers(by_category)
        _memo.update(key=key, value=value)
        return value


def same_range(model: Any, snap: CatalogSnapshot, cart: Sequence[str], limit: int) -> list[Candidate]:
    """Up to ``limit`` newcomers that share a range with a cart product, best match first.

    A match shares the cart product's category and at least :data:`MIN_SHARED_WORDS` of its
    name words; the score is the share of words in common (Jaccard). The anchor is the cart
    product, for the reason.
    """
    if limit <= 0 or model is None:
        return []
    found = newcomers_of(model, snap)
    if not found.by_category:
        return []
    cart_names = snap.display([k for k in cart if snap.products.get(k) is not None])
    best: dict[str, Candidate] = {}
    for key in cart:
        info = snap.products.get(key)
        display = cart_names.get(key)
        if info is None or display is None or not info.category:
            continue
        mine = words(display.name)
        for other, theirs in found.by_category.get(info.category, ()):
            shared = len(mine & theirs)
            if shared < MIN_SHARED_WORDS or other in cart:
                continue
            score = shared / len(mine | theirs)
            if other not in best or score > best[other].score:
                best[other] = Candidate(other, score, anchor=key)
    ranked = sorted(best.values(), key=lambda c: (-c.score, c.key))
    return ranked[:limit]


def reset() -> None:
    """Forget the remembered newcomers (tests, settings changes)."""
    with _lock:
        _memo.update(key=None, value=None)
