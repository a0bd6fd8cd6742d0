"""Shopper segments on plain arrays, on real shop data (the Online Retail subset the demo ships):
reproducible with a seed, k chosen by the stated criterion, profiles equal to direct counts,
matching across groupings."""

from __future__ import annotations

import csv
import gzip
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from cart_recommender.ml import clustering as C
from cart_recommender.ml import segment_profiles as P
from cart_recommender.ml import segments as S
from cart_recommender.ml import shopper_features as F
from cart_recommender.ml.data import EventLog
from cart_recommender.ml.loading import load_event_log

SUBSET = Path(__file__).resolve().parents[2] / "demo_shop" / "data" / "online_retail_subset.csv.gz"


@pytest.fixture(scope="module")
def retail() -> EventLog:
    return load_event_log(SUBSET).log


@pytest.fixture(scope="module")
def grouped(retail):
    features = F.shopper_features(retail)
    return features, S.segment(features, seed=7)


def test_the_same_seed_gives_the_same_segments(retail, grouped):
    features, first = grouped
    again = S.segment(F.shopper_features(retail), seed=7)
    assert again.k == first.k and again.scores == first.scores
    assert np.array_equal(again.labels, first.labels)
    other = S.segment(features, seed=8)
    assert 3 <= other.k <= 12 and len(other.labels) == len(features)


def test_k_is_the_best_silhouette_among_groupings_without_tiny_segments(grouped):
    features, seg = grouped
    assert set(seg.scores) == set(range(3, 13))
    sizes = np.bincount(seg.labels, minlength=seg.k)
    assert sizes.min() >= S.MIN_SHARE * len(features)
    assert list(sizes) == sorted(sizes, reverse=True)  # numbered largest first
    # no other k with segments that large scores higher
    x = S.feature_matrix(features)
    for k, score in seg.scores.items():
        if score > seg.scores[seg.k]:
            labels = C.kmeans(x, k, np.random.default_rng([7, k])).labels
            assert np.bincount(labels, minlength=k).min() < S.MIN_SHARE * len(features)


def test_profiles_equal_direct_counts_from_the_csv(retail, grouped):
    features, seg = grouped
    profiles = P.profile(retail, features, seg.labels, seg.k)
    group_of = {retail.shoppers[c]: int(g) for c, g in zip(features.codes, seg.labels, strict=True)}
    revenue = defaultdict(Decimal)
    orders = defaultdict(set)
    lines = defaultdict(int)
    items = defaultdict(lambda: defaultdict(int))
    with gzip.open(SUBSET, "rt", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["event"] != "purchase" or not row["user_id"]:
                continue
            g = group_of[row["user_id"]]
            revenue[g] += int(row["quantity"]) * Decimal(row["price"])
            orders[g].add(row["order_id"])
            lines[g] += 1
            items[g][row["item_id"]] += 1
    total = sum(revenue.values())
    assert sum(p["shoppers"] for p in profiles) == len(group_of) == len(features)
    for g, p in enumerate(profiles):
        assert p["shoppers"] == sum(1 for v in group_of.values() if v == g)
        assert p["revenue"] == pytest.approx(float(revenue[g]), abs=0.05)
        assert p["revenue_share"] == pytest.approx(float(revenue[g] / total), abs=1e-4)
        assert p["orders"] == len(orders[g])
        assert p["aov"] == pytest.approx(float(revenue[g]) / len(orders[g]), abs=0.01)
        top_item, top_count = max(items[g].items(), key=lambda kv: (kv[1], -retail.items.index(kv[0])))
        assert p["top_products"][0] == [top_item, pytest.approx(top_count / lines[g], abs=1e-4)]
        assert sum(p["mix"]) == pytest.approx(1.0, abs=1e-3)


def test_repeat_share_counts_lines_bought_in_an_earlier_order():
    records = [
        (1.0, "a", "purchase", "x", "o1", 1.0), (1.0, "a", "purchase", "x", "o1", 1.0),  # same order twice
        (2.0, "a", "purchase", "x", "o2", 1.0), (2.0, "a", "purchase", "y", "o2", 1.0),
        (3.0, "a", "purchase", "y", "o3", 1.0), (3.0, "b", "purchase", "x", "o4", 1.0),
    ]
    features = F.shopper_features(EventLog.from_records(records))
    assert len(features) == 2
    # a: 5 lines, of which x in o2 and y in o3 repeat; b: 1 line, none
    assert features.repeat_share.tolist() == [pytest.approx(2 / 5), 0.0]
    assert features.orders.tolist() == [3, 1] and features.spend.tolist() == [5.0, 1.0]


def test_kmeans_finds_well_separated_groups():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [10, 0], [0, 10], [10, 10]], float)
    x = np.concatenate([c + rng.normal(size=(50, 2)) for c in centres])
    truth = np.repeat(np.arange(4), 50)
    labels = C.kmeans(x, 4, np.random.default_rng(1)).labels
    # the same partition, whatever the numbering
    assert len({(int(a), int(b)) for a, b in zip(truth, labels, strict=True)}) == 4
    scores = {k: C.silhouette(x, C.kmeans(x, k, np.random.default_rng(k)).labels) for k in (2, 3, 4, 5, 6)}
    assert max(scores, key=scores.get) == 4


def test_matching_carries_segments_over_and_counts_who_moved(grouped):
    features, seg = grouped
    keys = [f"k{i}" for i in range(len(features))]
    previous = {key: 100 + int(g) for key, g in zip(keys, seg.labels, strict=True)}
    permuted = (seg.labels + 2) % seg.k
    current = {key: int(g) for key, g in zip(keys, permuted, strict=True)}
    mapping = S.match(previous, current)
    assert mapping == {(g + 2) % seg.k: 100 + g for g in range(seg.k)}
    now = {key: mapping[g] for key, g in current.items()}
    assert S.moved_between(previous, now) == (len(keys), 0)
    # a group with none of the earlier shoppers is new
    assert S.match(previous, {"stranger": 0}) == {}


def test_names_read_the_profile(grouped, retail):
    features, seg = grouped
    profiles = P.profile(retail, features, seg.labels, seg.k)
    overall = P.overall_profile(features)
    names: list[str] = []
    for p in profiles:
        names.append(P.suggest_name(p, overall, names))
    assert len(set(names)) == len(names)
    frequent = max(range(seg.k), key=lambda g: profiles[g]["orders_per_shopper"])
    assert "regulars" in names[frequent].lower()
    once = {"orders_per_shopper": 1.0, "median_recency_days": 400.0, "aov": 1.0, "repeat_share": 0.0,
            "mix": [], "top_categories": []}
    assert P.suggest_name(once, overall) == "Lapsed one-time buyers, small orders"


def test_model_vectors_join_the_features(retail):
    features = F.shopper_features(retail)
    vectors = np.random.default_rng(0).normal(size=(len(features), 32))
    features.vectors = F.principal_components(vectors)
    assert features.vectors.shape == (len(features), F.VECTOR_COMPONENTS)
    x = S.feature_matrix(features)
    rfm, mix = 4, features.mix.shape[1]
    assert x.shape[1] == rfm + mix + F.VECTOR_COMPONENTS
    # each block weighs the same: total variance 1 per block
    blocks = [x[:, :rfm], x[:, rfm:rfm + mix], x[:, rfm + mix:]]
    for block in blocks:
        assert block.var(axis=0).sum() == pytest.approx(1.0, abs=0.3)


def test_a_large_shop_is_grouped_on_a_sample_then_everyone_joins(grouped, monkeypatch):
    features, _seg = grouped
    monkeypatch.setattr(S, "FIT_SAMPLE", 600)
    first = S.segment(features, seed=3, k=5)
    assert first.k == 5 and len(first.labels) == len(features)
    assert np.array_equal(first.labels, S.segment(features, seed=3, k=5).labels)
    # every shopper sits in the group of its nearest centroid (Lloyd's finished on all of them)
    x = S.feature_matrix(features)
    nearest = ((x[:, None, :] - first.centroids[None, :, :]) ** 2).sum(axis=2).argmin(axis=1)
    assert np.array_equal(nearest, first.labels)


def test_the_previous_k_is_kept_within_the_tolerance(grouped):
    features, seg = grouped
    close = [k for k, s in seg.scores.items() if k != seg.k and s >= seg.scores[seg.k] - S.K_TOLERANCE]
    far = [k for k, s in seg.scores.items() if s < seg.scores[seg.k] - S.K_TOLERANCE]
    if close:
        assert S.segment(features, seed=7, prefer_k=close[0]).k == close[0]
    assert far, seg.scores
    assert S.segment(features, seed=7, prefer_k=far[0]).k == seg.k
