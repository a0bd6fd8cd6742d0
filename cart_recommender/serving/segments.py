"""Which segment a shopper is in, answered in memory: no query on the serving path.

The serving version's memberships (:class:`~cart_recommender.models.ShopperSegment` rows, one
per shopper who had bought when the version was trained) are read once with the serving state
(see :mod:`cart_recommender.serving.state`) into two sorted arrays: 8 bytes of each shopper's
keyed hash and their segment id, 16 bytes a shopper (1.6 MB for 100,000). A lookup is one HMAC
and a binary search: about 20 us on the 2-core machine, against the 20-50 ms of a keyed
shopper's bundle. A shopper who first bought after the retrain is in no segment until the next one; so is
a visitor without consent (they are nobody).

Example::

    segments = read_segments(12, names={3: "Recent regulars, big orders"})
    segments.of("u:42")      # Segment id, or None
    segments.name_of(3)      # "Recent regulars, big orders"
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cart_recommender import shoppers
from cart_recommender.models import Segment, ShopperSegment


@dataclass(frozen=True)
class SegmentLabel:
    """A shopper's segment as templates see it: ``{{ segment.id }}``, ``{{ segment.name }}``."""

    id: int
    name: str

    def __str__(self) -> str:
        return self.name


def _prefix(subject: str) -> int:
    return int(subject[:16], 16)


@dataclass(frozen=True)
class SegmentMap:
    """Segment ids by shopper, and the segments' names, of one model version."""

    version_id: int | None = None
    hashes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))
    segments: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    names: dict[int, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.hashes.shape[0])

    def of(self, key: str) -> int | None:
        """The segment id of the shopper with this key (:func:`cart_recommender.shoppers.shopper_key`)."""
        if not key or not len(self.hashes):
            return None
        h = np.uint64(_prefix(shoppers.pseudonym(key)))
        i = int(np.searchsorted(self.hashes, h))
        if i < len(self.hashes) and self.hashes[i] == h:
            return int(self.segments[i])
        return None

    def name_of(self, segment: int | None) -> str:
        return self.names.get(segment, "") if segment is not None else ""

    def label_of(self, key: str) -> SegmentLabel | None:
        """The shopper's segment with its name, or None."""
        segment = self.of(key)
        return SegmentLabel(segment, self.name_of(segment)) if segment is not None else None


EMPTY = SegmentMap()


def read_segment_rows() -> dict[int, tuple[str, int | None]]:
    """Every segment's name and own category cap, by id: one small query (staff edit both)."""
    return {pk: (name, cap) for pk, name, cap in Segment.objects.values_list("pk", "name", "category_cap")}


def read_segments(version_id: int | None, names: dict[int, str]) -> SegmentMap:
    """The memberships of a version, in one query (empty for none), with the segments' names."""
    if version_id is None:
        return EMPTY
    rows = ShopperSegment.objects.filter(version_id=version_id).values_list("subject", "segment_id")
    pairs = [(_prefix(subject), seg) for subject, seg in rows.iterator(chunk_size=20_000)]
    if not pairs:
        return SegmentMap(version_id=version_id, names=names)
    hashes = np.fromiter((p for p, _ in pairs), np.uint64, len(pairs))
    segs = np.fromiter((s for _, s in pairs), np.int64, len(pairs))
    order = np.argsort(hashes, kind="stable")
    return SegmentMap(version_id=version_id, hashes=hashes[order], segments=segs[order], names=names)
