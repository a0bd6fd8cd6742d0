"""Products added since the serving version was trained, offered by their content: "same range".

A product the shop adds after a retrain is in no array of the serving version: no model score,
no co-purchase count, so without help it waits for the next retrain and for data nobody can
give it, since it is never shown. Its name and category say where it belongs, though: "Blue
mug large" in "Kitchen > Mugs" is in the same range as the "Blue mug" in the cart. Each web
process keeps, per serving model and catalog snapshot, the sellable products the model does not
know, grouped by category with the words of their names (made once, on first use). A bundle
whose cart holds a product of the same category sharing at least two name words with one of
them offers the best such newcomer in its last slot (``NEW_PRODUCT_SLOTS``), with the reason
"Goes with your Blue mug: same range". The next retrain learns it like any
other product (its content included, where the model reads content).

Example::

    for cand in same_range(state.model, catalog.get_snapshot(), ["42"], limit=1):
        cand.key, cand.anchor   # ("97", "42"): product 97 is new and shares a range with 42
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cart_recommender.ml.content import name_words
from cart_recommender.ml.content import same_range as in_range
from cart_recommender.serving.catalog import CatalogSnapshot
from cart_recommender.serving.scoring import Candidate

#: At most this many unknown products are indexed (a version trained before the catalog was
#: read in whole could otherwise make every product a newcomer).
MAX_NEWCOMERS = 10_000


@dataclass(frozen=True)
class Newcomers:
    """The sellable products a model does not know, by category, each with its name words."""

    by_category: dict[str, list[tuple[str, frozenset[str]]]]


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
                category = snap.products[k].category or ""
                by_category.setdefault(category, []).append((k, name_words(display.name)))
        value = Newcomers(by_category)
        _memo.update(key=key, value=value)
        return value


def same_range(model: Any, snap: CatalogSnapshot, cart: Sequence[str], limit: int) -> list[Candidate]:
    """Up to ``limit`` newcomers in the same range as a cart product, best match first (see
    :func:`cart_recommender.ml.content.same_range`); the anchor is that cart product."""
    if limit <= 0 or model is None:
        return []
    found = newcomers_of(model, snap)
    if not found.by_category:
        return []
    keys = [k for k in cart if snap.products.get(k) is not None]
    names = snap.display(keys)
    mine = [(snap.products[k].category or "", name_words(names[k].name) if k in names else frozenset())
            for k in keys]
    return [Candidate(other, score, anchor=keys[position])
            for other, position, score in in_range(mine, found.by_category, limit + len(keys))
            if other not in cart][:limit]
