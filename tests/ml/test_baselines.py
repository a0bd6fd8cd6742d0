"""Each baseline's scores on the tiny shop (tests/ml/tiny_shop.py), and their plain-array state."""

from __future__ import annotations

import numpy as np
import pytest

from cart_recommender.ml import protocol
from cart_recommender.ml.baselines import CoPurchase, Personal, Popularity, co_purchase_counts, order_counts
from cart_recommender.ml.data import PURCHASE, EventLog, History, Query
from tests.ml.tiny_shop import tiny_log


@pytest.fixture(scope="module")
def train() -> EventLog:
    return protocol.split(tiny_log()).train


def codes(log: EventLog, items: str) -> list[int]:
    return [log.items.index(i) for i in items]


def by_item(log: EventLog, row: np.ndarray) -> dict[str, float]:
    return {item: float(row[k]) for k, item in enumerate(log.items)}


def query(cart: list[int], history: History | None = None) -> Query:
    return Query(cart=np.array(cart, np.int32), history=history or History(), time=0.0)


def test_popularity_counts_orders_not_lines(train):
    # o7 holds b twice and K5 c twice: each order counts once; x is first bought in the test
    # period, so the training data holds it with no order (the split codes it after the catalog).
    assert by_item(train, order_counts(train)) == {"a": 6, "b": 5, "c": 6, "d": 5, "v": 0, "e": 0, "x": 0}
    scores = Popularity().fit(train).score([query([]), query([0])])
    assert scores.dtype == np.float32 and scores.shape == (2, 7)
    assert by_item(train, scores[1]) == {"a": 6, "b": 5, "c": 6, "d": 5, "v": 0, "e": 0, "x": 0}


def test_copurchase_sums_conditional_counts_over_the_cart(train):
    a, b, c, d = codes(train, "abcd")
    scorer = CoPurchase().fit(train)
    # n(a,b)=2 n(a,c)=2 n(a,d)=2 n(b,c)=2 n(b,d)=1 n(c,d)=1; n(a)=6 n(b)=5 n(c)=6 n(d)=5
    rows = scorer.score([query([b]), query([a, -1]), query([c, d]), query([]), query([d, d])])
    assert by_item(train, rows[0]) == pytest.approx(
        {"a": 0.4, "b": 0, "c": 0.4, "d": 0.2, "v": 0, "e": 0, "x": 0})
    assert by_item(train, rows[1]) == pytest.approx(
        {"a": 0, "b": 1 / 3, "c": 1 / 3, "d": 1 / 3, "v": 0, "e": 0, "x": 0})
    assert by_item(train, rows[2]) == pytest.approx(
        {"a": 2 / 6 + 2 / 5, "b": 2 / 6 + 1 / 5, "c": 1 / 5, "d": 1 / 6, "v": 0, "e": 0, "x": 0})
    assert not rows[3].any()
    np.testing.assert_allclose(rows[4], scorer.score([query([d])])[0])  # a repeated item counts once


def test_copurchase_sparse_path_matches_the_dense_one(train, monkeypatch):
    from cart_recommender.ml import baselines

    carts = [[0], [0, 1], [0, 1, 2], [3], [1, 3], [], [2, -1], [0, 1, 2, 3], [1, 2, 3], [0, 2, 3]]
    monkeypatch.setattr(baselines, "_DENSE_MIN_QUERIES", 1)
    dense_scorer = CoPurchase().fit(train)
    dense = dense_scorer.score([query(c) for c in carts])
    assert dense_scorer._dense is not None
    monkeypatch.setattr(baselines, "_DENSE_CELLS", 0)
    monkeypatch.setattr(baselines, "_PAIRS_PER_CHUNK", 3)  # many small chunks while counting
    sparse_scorer = CoPurchase().fit(train)
    sparse = sparse_scorer.score([query(c) for c in carts])
    assert sparse_scorer._dense is None
    np.testing.assert_allclose(sparse, dense, rtol=1e-6)
    for row, cart in zip(sparse, carts, strict=True):  # both equal the plain sum of the rows
        expected = sum((sparse_scorer.score([query([i])])[0] for i in cart if i >= 0), np.zeros(7))
        np.testing.assert_allclose(row, expected, rtol=1e-6)


def test_co_purchase_counts_on_random_baskets_match_a_direct_count():
    rng = np.random.default_rng(3)
    records = [(float(o), "", "purchase", f"i{int(i)}", f"o{o}")
               for o in range(200) for i in rng.choice(12, size=rng.integers(1, 6), replace=False)]
    log = EventLog.from_records(records)
    indptr, indices, counts = co_purchase_counts(log)
    dense = np.zeros((log.n_items, log.n_items), int)
    for row in range(log.n_items):
        dense[row, indices[indptr[row]:indptr[row + 1]]] = counts[indptr[row]:indptr[row + 1]]
    expected = np.zeros_like(dense)
    for o in range(len(log.orders)):
        items = np.unique(log.item[log.order == o])
        for i in items:
            for j in items:
                expected[i, j] += i != j
    np.testing.assert_array_equal(dense, expected)


def test_personal_counts_earlier_orders_and_popularity_breaks_ties(train):
    a, b, c, d = codes(train, "abcd")
    history = History(
        item=np.array([a, b, b, -1, c, a], np.int32),
        time=np.arange(6, dtype=np.float64),
        kind=np.array([PURCHASE, PURCHASE, PURCHASE, PURCHASE, 0, PURCHASE], np.int8),
        order=np.array([1, 1, 1, 2, -1, 2], np.int32),
    )
    # a in orders 1 and 2, b in order 1 (twice), the view of c does not count, x (-1) is ignored.
    row = Personal().fit(train).score([query([b], history), query([])])
    assert by_item(train, row[0]) == pytest.approx(
        {"a": 2 + 6 / 7, "b": 1 + 5 / 7, "c": 6 / 7, "d": 5 / 7, "v": 0, "e": 0, "x": 0}, abs=1e-6)
    assert by_item(train, row[1]) == pytest.approx(
        {"a": 6 / 7, "b": 5 / 7, "c": 6 / 7, "d": 5 / 7, "v": 0, "e": 0, "x": 0})


def test_arrays_round_trip_and_top_n(train):
    a, b, c, d = codes(train, "abcd")
    scorer = CoPurchase().fit(train)
    arrays = scorer.to_arrays(top_n=None)
    assert set(arrays) == {"popularity", "neighbour_indptr", "neighbour_items", "neighbour_counts"}
    # a's neighbours: b, c, d twice each (ties: lower code first).
    lo, hi = arrays["neighbour_indptr"][a], arrays["neighbour_indptr"][a + 1]
    assert arrays["neighbour_items"][lo:hi].tolist() == sorted([b, c, d])
    assert arrays["neighbour_counts"][lo:hi].tolist() == [2, 2, 2]
    queries = [query([a]), query([b, d]), query([c])]
    np.testing.assert_allclose(CoPurchase.from_arrays(arrays).score(queries), scorer.score(queries))
    top1 = scorer.to_arrays(top_n=1)
    full_lengths = np.diff(arrays["neighbour_indptr"])
    assert np.diff(top1["neighbour_indptr"]).tolist() == [min(1, n) for n in full_lengths]
    # b's best neighbours are a and c (2 each): the lower code is kept.
    kept = top1["neighbour_items"][top1["neighbour_indptr"][b]]
    assert kept == min(a, c)
    np.testing.assert_array_equal(Popularity.from_arrays(Popularity().fit(train).to_arrays()).popularity,
                                  order_counts(train))
    history = History(item=np.array([d]), time=np.zeros(1), kind=np.array([PURCHASE], np.int8),
                      order=np.zeros(1, np.int32))
    personal = Personal().fit(train)
    np.testing.assert_array_equal(Personal.from_arrays(personal.to_arrays()).score([query([], history)]),
                                  personal.score([query([], history)]))
