"""Which arm of an A/B test a shopper is in: a stable hash of the shopper's key, no storage.

The same key always lands in the same arm of the same test (sticky across visits; a logged-in
shopper's key is their user or customer id, so they keep their arm across devices), different
tests split independently, and nothing is written or read to decide it: assignment costs a hash
on the serving path and no query. The analysis recomputes the arm of every shopper from the
same function (intention to treat), so a hold-out arm that was never shown anything is counted
as exactly as the others. Plain Python, no Django.

Example::

    arm_index(experiment_id=3, key="u:12", shares=[50, 50])   # 0 or 1, the same every time
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

#: Buckets a key hashes into; shares are whole percentages, so 10,000 keeps them exact.
BUCKETS = 10_000


def bucket(experiment_id: int, key: str) -> int:
    """The shopper's bucket in ``0 .. BUCKETS - 1`` for this experiment."""
    digest = hashlib.blake2b(
        f"{experiment_id}\x1f{key}".encode("utf-8", "surrogatepass"), digest_size=8
    ).digest()
    return int.from_bytes(digest, "big") % BUCKETS


def bounds(shares: Sequence[int]) -> list[int]:
    """Cumulative upper bucket bounds of arms with these percentage shares (adding up to 100)."""
    total = sum(shares)
    if total <= 0:
        raise ValueError("the arms' shares must add up to more than 0")
    out, running = [], 0
    for share in shares:
        running += share
        out.append(running * BUCKETS // total)
    return out


def arm_index(experiment_id: int, key: str, shares: Sequence[int]) -> int | None:
    """The index of the arm ``key`` belongs to; None for nobody (an empty key is in no arm)."""
    if not key:
        return None
    return index_of(bucket(experiment_id, key), bounds(shares))


def index_of(value: int, upper: Sequence[int]) -> int:
    """The first arm whose upper bound lies above ``value``."""
    for index, bound in enumerate(upper):
        if value < bound:
            return index
    return len(upper) - 1
