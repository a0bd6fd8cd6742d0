"""Work that web processes do in background threads, kept from stalling requests.

The catalog snapshot and the sellable set are rebuilt in a thread of each web worker while
requests go on. A thread that runs pure Python keeps the GIL for up to the interpreter's
switch interval (5 ms) each time a request thread asks for it, and a request asks after
every socket or database call: a 200 ms rebuild could add tens of milliseconds to the
requests served meanwhile. :func:`yielding` hands the GIL over every few hundred items.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

#: Items between hand-overs: about 0.1-0.3 ms of Python work in the rebuild loops.
EVERY = 256


def yielding(items: Iterable[T], every: int = EVERY) -> Iterator[T]:
    """``items``, handing the GIL to any waiting thread every ``every`` items."""
    for n, item in enumerate(items, 1):
        yield item
        if n % every == 0:
            time.sleep(0)  # releases the GIL; a waiting request thread runs first
