"""What a shop says about its products (name, category path, price), as tokens the model embeds.

Behaviour says nothing about a product nobody has bought yet; its content does. Every product
becomes a short bag of tokens: the words of its name (and description, where the shop gives
one), every level of its category path (``Dairy``, ``Dairy > Milk``) and a price band, so an
item with no purchases still gets a vector, and a rare one borrows from the items that share
its words, range and price. Plain Python and NumPy: serving tokenises a product added after the
last retrain with this same code.

Example::

    content = ItemContent(name=["Blue mug", "Red mug"], category=["Kitchen > Mugs"] * 2,
                          price=np.array([4.5, 4.5]))
    tokens = build_tokens(content, known=np.array([True, False]))
    tokens.encode(ItemContent(["Green mug"], ["Kitchen > Mugs"], np.array([5.0])))
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: The levels of a category path are joined by this, in the CSV format and in ``Product.category``.
CATEGORY_SEPARATOR = " > "
#: Price bands: log-spaced, each a factor of this wide (about 1.6x: 1, 1.6, 2.5, 4, 6.3, 10, ...).
PRICE_BAND_RATIO = 10 ** 0.2
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


@dataclass
class ItemContent:
    """Per item code: its name (with any description appended), category path and unit price.

    ``""`` and NaN mean unknown; an item with nothing known gets no content tokens.
    """

    name: list[str]
    category: list[str]
    price: np.ndarray  # float64

    def __len__(self) -> int:
        return len(self.name)

    @classmethod
    def empty(cls, n: int) -> ItemContent:
        return cls([""] * n, [""] * n, np.full(n, np.nan))

    @classmethod
    def of(cls, items: Sequence[str], known: Mapping[str, tuple[str, str, float]]) -> ItemContent:
        """The content of ``items`` (ids, in code order) from ``id -> (name, category, price)``;
        an id ``known`` lacks gets nothing."""
        rows = [known.get(item, ("", "", math.nan)) for item in items]
        return cls(name=[name for name, _c, _p in rows], category=[category for _n, category, _p in rows],
                   price=np.asarray([price for _n, _c, price in rows], np.float64))

    def take(self, codes: Sequence[int] | np.ndarray) -> ItemContent:
        """The content of ``codes``, in that order (a code of -1 gives an unknown item)."""
        codes = [int(c) for c in codes]
        return ItemContent(
            name=[self.name[c] if c >= 0 else "" for c in codes],
            category=[self.category[c] if c >= 0 else "" for c in codes],
            price=np.asarray([self.price[c] if c >= 0 else np.nan for c in codes], np.float64),
        )

    def has_any(self) -> bool:
        return any(self.name) or any(self.category) or bool(np.isfinite(self.price).any())


def item_tokens(name: str, category: str, price: float) -> list[str]:
    """The distinct tokens of one product, in a stable order (category, price, then words).

    Words are lower-cased runs of letters and digits of two or more characters; a token that is
    only digits is kept only when it is short (a size like "12", not an article number).
    """
    out: list[str] = []
    split = category.split(CATEGORY_SEPARATOR.strip()) if category else []
    levels = [level.strip().lower() for level in split]
    path = ""
    for level in levels:
        if not level:
            break
        path = f"{path}>{level}" if path else level
        out.append("c:" + path)
    if price is not None and math.isfinite(price) and price > 0:
        out.append(f"p:{math.floor(math.log(price, PRICE_BAND_RATIO) + 0.5)}")
    for word in _WORD.findall(name.lower()):
        if len(word) >= 2 and not (word.isdigit() and len(word) > 3):
            out.append("w:" + word)
    return list(dict.fromkeys(out))


@dataclass
class ContentTokens:
    """The vocabulary and every item's tokens as a padded matrix (what the network reads).

    Attributes:
        vocab: token -> row of the model's token embedding (``len(vocab)`` is the padding row).
        tokens: int32 ``(n_items + 1, width)`` token rows per item, padded with ``len(vocab)``
            (the extra last item is the network's padding item and has none).
        weights: float32, same shape: 1 / (tokens the item has) for each token, 0 for padding,
            so an item's content vector is the mean of its tokens' vectors.
    """

    vocab: dict[str, int]
    tokens: np.ndarray
    weights: np.ndarray

    @property
    def width(self) -> int:
        return int(self.tokens.shape[1])

    def encode(self, content: ItemContent) -> tuple[np.ndarray, np.ndarray]:
        """Token rows and weights ``(len(content), width)`` of items the vocabulary never saw."""
        return _matrix(
            [_known(item_tokens(n, c, p), self.vocab) for n, c, p in
             zip(content.name, content.category, content.price, strict=True)],
            len(self.vocab), self.width,
        )


def _known(tokens: list[str], vocab: dict[str, int]) -> list[int]:
    return [vocab[t] for t in tokens if t in vocab]


def _matrix(rows: list[list[int]], pad: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    tokens = np.full((len(rows), width), pad, np.int32)
    weights = np.zeros((len(rows), width), np.float32)
    for i, row in enumerate(rows):
        row = row[:width]
        if row:
            tokens[i, : len(row)] = row
            weights[i, : len(row)] = 1.0 / len(row)
    return tokens, weights


def build_tokens(content: ItemContent, known: np.ndarray, max_vocab: int = 20_000,
                 width: int = 12) -> ContentTokens:
    """The vocabulary of a catalog and every item's token rows.

    A token joins the vocabulary when at least two items carry it and at least one of them is
    ``known`` (has training data): a token only one item has is just another id, and one no
    known item has can never be trained. The ``max_vocab`` most frequent tokens are kept.
    Each item keeps at most ``width`` tokens, category and price first.
    """
    per_item = [item_tokens(n, c, p) for n, c, p in
                zip(content.name, content.category, content.price, strict=True)]
    df: Counter[str] = Counter()
    df_known: Counter[str] = Counter()
    for tokens, is_known in zip(per_item, np.asarray(known, bool).tolist(), strict=True):
        df.update(tokens)
        if is_known:
            df_known.update(tokens)
    eligible = [t for t, count in df.items() if count >= 2 and df_known[t] >= 1]
    eligible.sort(key=lambda t: (-df[t], t))
    vocab = {t: i for i, t in enumerate(eligible[:max_vocab])}
    tokens, weights = _matrix([_known(t, vocab) for t in per_item] + [[]], len(vocab), width)
    return ContentTokens(vocab=vocab, tokens=tokens, weights=weights)


def content_neighbours(content: ItemContent, k: int = 8, max_df: int = 300) -> tuple[np.ndarray, np.ndarray]:
    """Every item's ``k`` nearest items in content: ``(neighbour (n + 1, k) int32, similarity
    (n + 1, k) float32)``, padded with ``n`` / 0 (the last row is the padding item's).

    Similarity is the cosine of IDF-weighted name words within the item's own category (its
    full path; the whole catalog where there are none): "Choice beef 2 lb" and "Choice beef
    5 lb" in "Meat > Beef" are close, a beef and a mug never. Words more than ``max_df`` items of
    a category share ("national", "the") say nothing about closeness and are skipped, which also
    bounds the pairs counted to ``max_df`` per word and item. NumPy only.
    """
    n = len(content)
    keys: dict[str, int] = {}
    item_of: list[int] = []
    token_of: list[int] = []
    for item, (name, category) in enumerate(zip(content.name, content.category, strict=True)):
        for token in item_tokens(name, "", float("nan")):
            item_of.append(item)
            token_of.append(keys.setdefault(f"{category}\x1f{token}", len(keys)))
    neighbour = np.full((n + 1, k), n, np.int32)
    similarity = np.zeros((n + 1, k), np.float32)
    if not item_of or k == 0:
        return neighbour, similarity
    items = np.asarray(item_of, np.int64)
    tokens = np.asarray(token_of, np.int64)
    df = np.bincount(tokens, minlength=len(keys))
    idf = np.log((1.0 + n) / df).astype(np.float64)
    weight = idf[tokens] ** 2
    norm = np.sqrt(np.bincount(items, weights=weight, minlength=n))
    usable = (df[tokens] >= 2) & (df[tokens] <= max_df)
    items, tokens, weight = items[usable], tokens[usable], weight[usable]
    order = np.argsort(tokens, kind="stable")
    items, tokens, weight = items[order], tokens[order], weight[order]
    starts = np.flatnonzero(np.r_[True, tokens[1:] != tokens[:-1]]) if len(tokens) else np.zeros(0, np.int64)
    sizes = np.diff(np.r_[starts, len(tokens)])
    # every ordered pair of items sharing a word: for each entry, pair it with its posting list
    left = np.repeat(np.arange(len(tokens)), np.repeat(sizes, sizes))
    first = np.repeat(np.repeat(starts, sizes), np.repeat(sizes, sizes))
    offset = np.arange(len(left)) - np.repeat(np.cumsum(np.repeat(sizes, sizes)) - np.repeat(sizes, sizes),
                                              np.repeat(sizes, sizes))
    right = first + offset
    keep = left != right
    left, right = left[keep], right[keep]
    pair = items[left] * n + items[right]
    uniq, inverse = np.unique(pair, return_inverse=True)
    score = np.bincount(inverse, weights=weight[left]).astype(np.float64)
    a, b = uniq // n, uniq % n
    score = score / np.maximum(norm[a] * norm[b], 1e-12)
    ranked = np.lexsort((b, -score, a))
    a, b, score = a[ranked], b[ranked], score[ranked]
    row_start = np.searchsorted(a, np.arange(n))
    rank = np.arange(len(a)) - row_start[a]
    top = rank < k
    neighbour[a[top], rank[top]] = b[top]
    similarity[a[top], rank[top]] = score[top]
    return neighbour, similarity


#: Name words a product must share with a cart product of its category to be in its range.
RANGE_MIN_SHARED_WORDS = 2


def name_words(name: str) -> frozenset[str]:
    """The distinct words of a name as :func:`item_tokens` reads them (lower case, 2+ characters)."""
    return frozenset(t[2:] for t in item_tokens(name, "", math.nan) if t.startswith("w:"))


def same_range(cart: Sequence[tuple[str, frozenset[str]]],
               pool: Mapping[str, Sequence[tuple[Any, frozenset[str]]]],
               limit: int = 1, min_shared: int = RANGE_MIN_SHARED_WORDS) -> list[tuple[Any, int, float]]:
    """The ``pool`` products in the same range as a cart product, best first, at most ``limit``.

    ``cart``: ``(category, name words)`` per cart product; ``pool``: category -> ``(product,
    name words)``. A product is in a cart product's range when it shares its category and at
    least ``min_shared`` name words ("Blue mug large" and "Blue mug" in "Kitchen > Mugs"); its
    score is the Jaccard overlap of the words. Returns ``(product, cart position, score)``, each
    product once (with its best cart product). Serving offers products added since the retrain
    this way (``serving/newcomers.py``); ``benchmarks/new_products.py`` measures it.
    """
    best: dict[Any, tuple[Any, int, float]] = {}
    for position, (category, mine) in enumerate(cart):
        if not category or not mine:
            continue
        for product, theirs in pool.get(category, ()):
            shared = len(mine & theirs)
            if shared < min_shared:
                continue
            score = shared / len(mine | theirs)
            if product not in best or score > best[product][2]:
                best[product] = (product, position, score)
    return sorted(best.values(), key=lambda t: (-t[2], str(t[0])))[:limit]
