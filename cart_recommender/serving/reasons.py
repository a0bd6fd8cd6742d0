"""Why a product is in a bundle, in the shopper's language ("Often bought with Blue mug")."""

from __future__ import annotations

from typing import Any

from django.utils.translation import get_language, gettext_noop
from django.utils.translation import gettext as _

from cart_recommender.serving.scoring import Candidate

#: The reasons a bundle item can give; translated once per language (see :func:`texts`).
REASONS = {
    "pinned": gettext_noop("Goes with %(name)s"),
    "repeat": gettext_noop("You bought this before"),
    "together": gettext_noop("Often bought with %(name)s"),
    "range": gettext_noop("Goes with your %(name)s: same range"),
    "popular": gettext_noop("Popular with other shoppers"),
    "model": gettext_noop("Picked for your cart"),
    "other": gettext_noop("You might also like"),
}
_translated: dict[str | None, dict[str, str]] = {}


def texts() -> dict[str, str]:
    """The reasons in the active language, translated once per language and process."""
    language = get_language()
    texts = _translated.get(language)
    if texts is None:
        texts = _translated[language] = {kind: _(text) for kind, text in REASONS.items()}
    return texts


def reason(cand: Candidate, source: str, names: dict[str, Any], texts: dict[str, str]) -> str:
    anchor = names.get(cand.anchor) if cand.anchor else None
    if source == "pinned" and anchor is not None:
        return texts["pinned"] % {"name": anchor.name}
    if source == "content" and anchor is not None:
        return texts["range"] % {"name": anchor.name}
    if cand.repeat or source == "personal":
        return texts["repeat"]
    if cand.same_range and anchor is not None:  # a model pick like a cart product in content
        return texts["range"] % {"name": anchor.name}
    if anchor is not None:
        return texts["together"] % {"name": anchor.name}
    if source == "popularity":
        return texts["popular"]
    if source == "model":
        return texts["model"]
    return texts["other"]
