"""Ranks, ties and metrics against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cart_recommender.ml.metrics import metrics_from_ranks, target_ranks, tie_priority


def test_tie_priority_prefers_popular_items_then_ids_as_strings():
    # "10" < "9" < "b" as strings; popularity 3 beats everything.
    priority = tie_priority(np.array([1, 1, 1, 3]), ["9", "10", "b", "z"])
    assert priority.tolist() == [2, 1, 3, 0]


def test_ranks_exclude_the_cart_and_break_ties_by_priority():
    scores = np.array([
        [0.5, 0.9, 0.5, 0.1, 0.5],
        [0.5, 0.9, 0.5, 0.1, 0.5],
        [0.0, 0.0, 0.0, 0.0, 0.0],
        [1.0, np.nan, 0.0, 0.0, 0.0],
        [1.0, 2.0, 3.0, 4.0, 5.0],
    ], np.float32)
    priority = np.array([4, 3, 2, 1, 0])  # item 4 wins ties, then 3, ...
    targets = np.array([2, 2, 0, 1, -1])
    carts = [np.array([], int), np.array([1, 4, -1]), np.array([3, 3]), np.array([0]), np.array([0])]
    ranks = target_ranks(scores, targets, carts, priority)
    # row 0: 1 (0.9) and 4 (0.5, wins the tie) are ahead -> 3; row 1: both are in the cart -> 1;
    # row 2: all tie and 1, 2, 3, 4 win ties against 0, but 3 is in the cart (twice) -> 4;
    # row 3: NaN is the lowest score: 2, 3, 4 are ahead -> 4; row 4: a miss.
    assert ranks.tolist() == [3.0, 1.0, 4.0, 4.0, math.inf]


def test_metrics_by_hand():
    ranks = np.array([1, math.inf, 2, 2, 3, 11])
    got = metrics_from_ranks(ranks, ks=range(1, 4))
    assert got["hr@10"] == pytest.approx(4 / 6)
    assert got["hr@3"] == pytest.approx(4 / 6)
    assert got["mrr@10"] == pytest.approx((1 + 0.5 + 0.5 + 1 / 3) / 6)
    assert got["ndcg@10"] == pytest.approx((1 + 2 / math.log2(3) + 0.5) / 6)
    assert got["hr_curve"] == pytest.approx([1 / 6, 3 / 6, 4 / 6])


def test_metrics_of_no_query_are_zero():
    got = metrics_from_ranks(np.zeros(0))
    assert got["hr@10"] == 0.0 and got["ndcg@10"] == 0.0 and got["hr_curve"] == [0.0] * 20


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError):
        target_ranks(np.zeros((2, 3)), np.array([0]), [np.array([])], np.arange(3))
