"""The segments stage of a retrain: group the snapshot's shoppers, carry segments over, store.

Runs in the training worker after the artifact is written (see
:mod:`cart_recommender.training.stages`); the grouping itself is :mod:`cart_recommender.ml.segments`
on plain arrays. This module adds what needs the database:

* the model's shopper vectors, from the artifact just written (NumPy, no Keras);
* matching with the previous version's segments by their shoppers, so a segment keeps its
  :class:`~cart_recommender.models.Segment` row (name, rules, category cap) across retrains;
* how bundles did for each group over the snapshot's window (impressions, clicks, attributed
  orders and revenue), from the bundle events;
* the rows: :class:`~cart_recommender.models.SegmentProfile` per segment,
  :class:`~cart_recommender.models.ShopperSegment` per shopper (a keyed hash, never the key),
  and the version's ``segmentation`` summary. Memberships are kept only for this version, the
  active one and the one matched against; older ones are deleted.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
from django.db import transaction

from cart_recommender import shoppers
from cart_recommender.conf import app_settings
from cart_recommender.ml.segment_profiles import overall_profile, profile, suggest_name
from cart_recommender.ml.segments import match, moved_between, segment
from cart_recommender.ml.serving import ServingModel
from cart_recommender.ml.shopper_features import principal_components, shopper_features, shopper_histories
from cart_recommender.models import (
    Event,
    EventType,
    ModelVersion,
    Segment,
    SegmentProfile,
    ShopperSegment,
)
from cart_recommender.segments import reports

BATCH = 5000


def options() -> dict[str, Any]:
    return dict(app_settings.SEGMENTS)


def compute_segments(version: ModelVersion, snap: Any, artifact: Path | None, *, seed: int,
                     log: Callable[[str], None] = lambda line: None) -> dict[str, Any]:
    """Group, match, profile and store; returns the summary stored on ``version.segmentation``.

    ``snap``: the run's :class:`~cart_recommender.training.snapshot.Snapshot` (its log, window
    and user links). ``artifact``: the version's artifact when it holds a trained model (its
    shopper vectors are then features too); None for recency, frequency, value and category
    mix alone.
    """
    opts = options()
    started = time.monotonic()
    if not opts.get("enabled", True):
        return _store_summary(version, {"skipped": "segments are turned off (SEGMENTS['enabled'])"})
    events = snap.log
    features = shopper_features(events, now=snap.until.timestamp())
    least = max(int(opts.get("min_shoppers") or 0), 2)
    if len(features) < least:
        return _store_summary(version, {
            "skipped": f"{len(features)} shoppers have bought; segments need at least {least}",
        })
    used = ["recency", "orders", "average order value", "repeat share"]
    if features.mix.shape[1] > 1:
        used.append("category mix")
    if artifact is not None and opts.get("model_vectors", True):
        model = ServingModel.load(artifact)
        item_map = np.asarray([model.item_index.get(item, -1) for item in events.items], np.int32)
        histories = shopper_histories(events, features.codes, item_map)
        features.vectors = principal_components(
            model.shopper_vectors(histories, snap.until.timestamp()))
        used.append("model vectors")
    fixed = opts.get("count")
    previous_version, previous, previous_k = _previous(version)
    grouping = segment(features, seed=seed, k_min=int(opts.get("min") or 3),
                       k_max=int(opts.get("max") or 12), k=int(fixed) if fixed else None,
                       prefer_k=previous_k)
    keys = [events.shoppers[c] for c in features.codes]
    subjects = [shoppers.pseudonym(key) for key in keys]
    current = {subject: int(g) for subject, g in zip(subjects, grouping.labels, strict=True)}
    matched = match(previous, current)
    profiles = profile(events, features, grouping.labels, grouping.k)
    figures = bundle_figures(dict(zip(keys, grouping.labels.tolist(), strict=True)), snap)
    for g, p in enumerate(profiles):
        p["bundles"] = figures.get(g, _no_bundles())
    overall = overall_profile(features)
    ids = _store(version, grouping.k, profiles, matched, overall, subjects, grouping.labels)
    now_in = {subject: ids[g] for subject, g in current.items()}
    common, moved = moved_between(previous, now_in)
    summary = {
        "k": grouping.k,
        "silhouette": {str(k): v for k, v in grouping.scores.items()},
        "shoppers": len(features),
        "features": used,
        "groups": features.groups,
        "previous_version": previous_version,
        "carried_over": len(matched),
        "common": common,
        "moved": moved,
        "seconds": round(time.monotonic() - started, 2),
    }
    line = (f"{grouping.k} segments of {len(features)} shoppers (silhouette "
            f"{grouping.scores.get(grouping.k, 0):.3f})")
    if previous_version:
        line += (f"; {len(matched)} carried over from v{previous_version}, {moved} of {common} "
                 "shoppers moved")
    log(line)
    return _store_summary(version, summary)


def _store_summary(version: ModelVersion, summary: dict[str, Any]) -> dict[str, Any]:
    ModelVersion.objects.filter(pk=version.pk).update(segmentation=summary)
    version.segmentation = summary
    return summary


def _previous(version: ModelVersion) -> tuple[int | None, dict[str, int], int | None]:
    """The version to match against (the screens' current one, :func:`.reports.current_version`,
    other than this): its id, its memberships and its number of segments."""
    chosen = reports.current_version(excluding=version)
    if chosen is None:
        return None, {}, None
    rows = ShopperSegment.objects.filter(version=chosen).values_list("subject", "segment_id")
    k = (chosen.segmentation or {}).get("k")
    return chosen.pk, dict(rows.iterator(chunk_size=20_000)), int(k) if isinstance(k, int) else None


def _store(version: ModelVersion, k: int, profiles: list[dict[str, Any]], matched: Mapping[int, int],
           overall: Mapping[str, Any], subjects: list[str], labels: np.ndarray) -> list[int]:
    """Segment rows (new or carried over, renamed unless staff named them), profiles, members."""
    with transaction.atomic():
        existing = {s.pk: s for s in Segment.objects.filter(pk__in=list(matched.values()))}
        staff_names = [s.name for s in existing.values() if s.name_edited]
        taken: list[str] = list(staff_names)
        ids: list[int] = []
        for g in range(k):
            suggested = suggest_name(profiles[g], overall, taken)
            seg = existing.get(matched.get(g, -1))
            if seg is None:
                seg = Segment.objects.create(name=suggested)
                taken.append(suggested)
            elif not seg.name_edited:
                if seg.name != suggested:
                    seg.name = suggested
                    seg.save(update_fields=["name"])
                taken.append(suggested)
            ids.append(seg.pk)
        SegmentProfile.objects.filter(version=version).delete()
        ShopperSegment.objects.filter(version=version).delete()
        SegmentProfile.objects.bulk_create(
            SegmentProfile(version=version, segment_id=ids[g], position=g,
                           shoppers=int(profiles[g]["shoppers"]), profile=profiles[g])
            for g in range(k)
        )
        ShopperSegment.objects.bulk_create(
            (ShopperSegment(version=version, subject=subject, segment_id=ids[int(g)])
             for subject, g in zip(subjects, labels, strict=True)),
            batch_size=BATCH,
        )
        prune_memberships(keep={version.pk})
    return ids


def prune_memberships(keep: set[int]) -> int:
    """Delete the memberships of every version but ``keep``, the active one and the newest
    other one with segments (what the next retrain matches against)."""
    keep = set(keep)
    keep.update(ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).values_list("pk", flat=True))
    newest_other = (SegmentProfile.objects.exclude(version_id__in=keep).order_by("-version_id")
                    .values_list("version_id", flat=True).first())
    if newest_other is not None:
        keep.add(newest_other)
    deleted, _ = ShopperSegment.objects.exclude(version_id__in=keep).delete()
    return deleted


def _no_bundles() -> dict[str, Any]:
    return {"shown": 0, "clicked": 0, "orders": 0, "revenue": 0.0, "click_rate": 0.0}


def bundle_figures(group_of: Mapping[str, int], snap: Any) -> dict[int, dict[str, Any]]:
    """Per group: bundles shown and clicked, orders and revenue credited to bundles, in the
    snapshot's window (refunds subtracted). One pass over the bundle events."""
    rows = (
        Event.objects.filter(timestamp__lte=snap.until)
        .exclude(bundle_id="")
        .filter(event_type__in=(EventType.BUNDLE_IMPRESSION, EventType.BUNDLE_CLICK,
                                EventType.PURCHASE, EventType.REFUND))
        .order_by()
        .values_list("user_id", "shopper_ref", "session_key", "event_type", "bundle_id", "order_ref",
                     "quantity", "unit_price", "pk")
    )
    if snap.data_start is not None:
        rows = rows.filter(timestamp__gte=snap.data_start)
    shown: dict[int, set[str]] = defaultdict(set)
    clicked: dict[int, set[str]] = defaultdict(set)
    orders: dict[int, set[str]] = defaultdict(set)
    revenue: dict[int, Decimal] = defaultdict(Decimal)
    for user_id, ref, session, kind, bundle, order, qty, price, pk in rows.iterator(chunk_size=20_000):
        g = group_of.get(shoppers.shopper_key(user_id, ref, session, snap.linked))
        if g is None:
            continue
        if kind == EventType.BUNDLE_IMPRESSION:
            shown[g].add(bundle)
        elif kind == EventType.BUNDLE_CLICK:
            clicked[g].add(bundle)
        else:
            line = Decimal(qty) * (price or Decimal(0))
            if kind == EventType.PURCHASE:
                orders[g].add(order or f"#{pk}")
                revenue[g] += line
            else:
                revenue[g] -= line
    out: dict[int, dict[str, Any]] = {}
    for g in set(shown) | set(clicked) | set(orders) | set(revenue):
        n_shown = len(shown[g])
        out[g] = {
            "shown": n_shown, "clicked": len(clicked[g]), "orders": len(orders[g]),
            "revenue": float(revenue[g]),
            "click_rate": round(len(clicked[g]) / n_shown, 4) if n_shown else 0.0,
        }
    return out
