"""Untrusted input at the app's HTTP boundary: JSON bodies, ids and numbers, checked once.

Every endpoint of the app reads its input through these helpers, so each class of bad input
has one answer, a 400 that says what is wrong and stores nothing:

* JSON nested deeper than :data:`MAX_JSON_DEPTH` is refused before it is parsed (Python's
  parser would recurse until ``RecursionError``); NaN and Infinity are not JSON;
* ids (product ids, client event ids) must be non-empty text of at most :data:`MAX_ID_LENGTH`
  characters that can be stored (:func:`~cart_recommender.ml.csvformat.text_problem`: no NUL,
  no lone surrogate); messages never echo a value that failed that check;
* integers are bounded (quantities by :data:`~cart_recommender.serving.cart.MAX_QUANTITY`,
  bundle sizes by ``MAX_BUNDLE_SIZE``) and booleans
  or floats are not integers.

Example::

    payload = loads(request.body)          # raises BadInput
    item = clean_id(payload["item_id"], "item_id")
"""

from __future__ import annotations

import json
import re
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from cart_recommender.ml.csvformat import text_problem

#: The deepest JSON any endpoint accepts; the app's own bodies nest 3 levels at most.
MAX_JSON_DEPTH = 20
#: Longest product or client id (``Event.shopper_ref`` and the ingest API allow 64 too).
MAX_ID_LENGTH = 64

_OUTSIDE = re.compile(rb'[\[\]{}"]')  # what matters between strings
_INSIDE = re.compile(rb'["\\]')  # what matters in a string: its end, or an escape
_OPEN, _QUOTE = frozenset(b"[{"), ord('"')


class BadInput(ValueError):
    """The request cannot be read; the message says why (safe to show)."""


def too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON text ``body`` nests arrays and objects deeper than ``limit``.

    Brackets inside strings do not count. One pass from left to right (a step per bracket,
    quote or backslash), stopping at the first level too deep: a hostile body costs no more
    than a well-formed one of its size.
    """
    depth, pos, end = 0, 0, len(body)
    while pos < end:
        found = _OUTSIDE.search(body, pos)
        if found is None:
            return False
        char, pos = body[found.start()], found.end()
        if char == _QUOTE:
            while True:  # skip the string
                inside = _INSIDE.search(body, pos)
                if inside is None:
                    return False  # unterminated: the parser will say it is not JSON
                pos = inside.end()
                if body[inside.start()] == _QUOTE:
                    break
                pos += 1  # the escaped character
        elif char in _OPEN:
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def loads(body: bytes) -> Any:
    """Parse a JSON request body, refusing what :func:`too_deep` refuses; raises BadInput."""
    if too_deep(body):
        raise BadInput(f"the JSON nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(body, parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError):
        raise BadInput("the request body is not valid JSON") from None


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser with :func:`loads`'s depth limit (and JSON only, as the schema says)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        body = stream.read() if stream is not None else b""
        try:
            return loads(body)
        except BadInput as exc:
            raise ParseError(str(exc)) from None


def id_problem(value: Any) -> str | None:
    """Why ``value`` is not an acceptable id (a string or an integer), or None."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return "must be a string or an integer"
    text = str(value).strip()
    if not text:
        return "must be a non-empty string"
    problem = text_problem(text)
    if problem:
        return problem
    if len(text) > MAX_ID_LENGTH:
        return f"is longer than {MAX_ID_LENGTH} characters"
    return None


def shown(value: Any, limit: int = 40) -> str:
    """``value`` fit to echo in an error message: itself when it is plain text, else escaped."""
    text = value if isinstance(value, str) else repr(value)
    if text_problem(text) is None and len(text) <= limit:
        return text
    return ascii(text)[: limit + 2]


def clean_id(value: Any, name: str) -> str:
    """``value`` as an id string; raises BadInput naming ``name`` (never echoing the value)."""
    problem = id_problem(value)
    if problem:
        raise BadInput(f"{name} {problem}")
    return str(value).strip()


def bounded_int(value: Any, name: str, low: int, high: int, *, text: bool = True) -> int:
    """``value`` as an int in ``low..high``; with ``text``, strings of digits count too
    (query parameters)."""
    if text and isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d{1,12}\s*", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadInput(f"{name} must be an integer from {low} to {high}")
    if not low <= value <= high:
        raise BadInput(f"{name} must be from {low} to {high}, not {value}")
    return value
