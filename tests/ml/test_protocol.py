"""Evaluation protocol v1 on hand-made data: the split, the queries and hand-computed ranks."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from cart_recommender.ml import protocol
from cart_recommender.ml.baselines import CoPurchase, Personal, Popularity
from cart_recommender.ml.data import PURCHASE, EventLog
from tests.ml.tiny_shop import HOUR, START, tiny_log


@pytest.fixture(scope="module")
def split() -> protocol.Split:
    return protocol.split(tiny_log())


def code(split: protocol.Split, item: str) -> int:
    return split.train.items.index(item)


def test_test_orders_follow_the_20_percent_and_two_items_rules(split):
    # The last 3 of 15 orders sorted by (time, id as a string) are K5, o14, o15: K40 sorts
    # before K5 although it is written later, and K5 (c twice) has one distinct item.
    assert split.test_orders == ["o14", "o15"]
    assert split.cutoff == START + 12 * HOUR
    assert split.dataset == {"orders": 15, "train_orders": 13, "test_orders": 2, "queries": 5, "catalog": 6,
                             "items": 7}
    assert split.catalog == 6


def test_training_data_keeps_other_orders_and_earlier_non_purchase_events(split):
    train = split.train
    assert sorted(train.orders) == sorted(["o1", "o2", "o3", "o4", "o5", "o6", "o7", "o8", "o9",
                                           "o10", "o11", "K40", "K5"])
    # v and e are only known from a view and an add_to_cart before the cutoff; x only from a test
    # order: it is outside the catalog, coded after it (no training event holds it)
    assert sorted(train.items[:6]) == ["a", "b", "c", "d", "e", "v"] and train.items[6] == "x"
    assert not (train.item == 6).any()
    others = train.kind != PURCHASE
    assert sorted(train.time[others] - START) == [6.5 * HOUR, 11.5 * HOUR]
    assert (train.order[others] == -1).all()
    assert np.all(np.diff(train.time) >= 0)
    assert set(np.unique(train.order[~others])) == set(range(13))


def test_queries_leave_one_item_out_with_the_owners_earlier_purchases(split):
    a, b, c, d, x = (code(split, i) for i in "abcdx")
    carts = [sorted(q.cart.tolist()) for q in split.queries]
    assert x == split.catalog  # outside the catalog: a miss in the headline metrics, a "new" query
    assert split.targets.tolist() == [a, x, b, c, d]
    assert carts == [sorted([x, b]), [a, b], sorted([a, x]), [d], [c]]
    assert split.query_order.tolist() == [0, 0, 0, 1, 1]
    # o14's history: alice's o1, o3, o7 (b twice) and K5 (c twice), not o14 itself.
    first = split.queries[0].history
    assert sorted(first.item.tolist()) == sorted([a, b, a, b, c, b, b, c, c])
    assert (first.kind == PURCHASE).all() and (first.time < START + 12 * HOUR).all()
    assert len(np.unique(first.order)) == 4
    assert split.queries[1].history is first
    # o15's history also holds the earlier test order o14, x included.
    later = split.queries[3].history
    assert sorted(later.item.tolist()) == sorted(first.item.tolist() + [a, x, b])
    assert split.queries[3].time == START + 13 * HOUR


def test_ranks_by_hand_for_each_baseline(split):
    # Ranks worked out in tests/ml/tiny_shop.py's terms; x (query 2) is always a miss.
    scorers = [Popularity(), CoPurchase(), Personal()]
    protocol.fit_all(scorers, split)
    report = protocol.evaluate(scorers, split, ks=[1, 2, 3])
    expected_ranks = {
        "popularity": [1, 2, 2, 3],  # a 6 beats c 6 on the id; c beats b; a beats c; a, b beat d
        "copurchase": [1, 2, 2, 3],  # cart b: a=c=.4; cart a: b=c=d=1/3; cart d: a .4; cart c
        "personal": [1, 1, 3, 3],  # alice bought b 3x, a 2x, c 2x (3x, 4x, 2x after o14)
    }
    for name, ranks in expected_ranks.items():
        ranks = np.array(ranks, float)
        got = report["results"][name]
        assert got["hr@10"] == pytest.approx(4 / 5)
        assert got["hr@3"] == pytest.approx(np.sum(ranks <= 3) / 5)
        assert got["mrr@10"] == pytest.approx(np.sum(1 / ranks) / 5)
        assert got["ndcg@10"] == pytest.approx(np.sum(1 / np.log2(ranks + 1)) / 5)
        assert got["hr_curve"] == pytest.approx([np.sum(ranks <= k) / 5 for k in (1, 2, 3)])
    assert report["dataset"]["queries"] == 5


def test_anonymous_owner_has_an_empty_history():
    log = EventLog.from_records(
        [(float(t), "" if t == 5 else "s", "purchase", item, f"o{t}") for t in range(1, 6) for item in "ab"]
    )
    split = protocol.split(log)  # 5 orders: the last one (anonymous) is the test order
    assert split.test_orders == ["o5"]
    assert [len(q.history.item) for q in split.queries] == [0, 0]


def test_at_most_5000_test_orders_the_latest_ones():
    n_orders = 26_000  # 20% = 5,200 candidates, all with two items
    records = [(float(o), f"s{o % 97}", "purchase", f"i{(o + k) % 50}", f"o{o:05d}")
               for o in range(n_orders) for k in (0, 1)]
    split = protocol.split(EventLog.from_records(records))
    assert split.dataset["test_orders"] == 5000
    assert split.test_orders[0] == "o21000" and split.test_orders[-1] == "o25999"
    assert split.dataset["train_orders"] == 21_000
    assert split.dataset["queries"] == 10_000
    # The 200 older candidates are ordinary training orders.
    assert "o20999" in split.train.orders and "o20800" in split.train.orders


@pytest.mark.parametrize("records", [
    [],
    [(1.0, "s", "view", "a", "")],
    [(1.0, "s", "purchase", "a", "o1"), (1.0, "s", "purchase", "b", "o1")],
    [(float(t), "s", "purchase", "a", f"o{t}") for t in range(10)],  # one item per order
])
def test_tiny_data_gives_no_queries_and_keeps_everything_for_training(records):
    log = EventLog.from_records(records)
    split = protocol.split(log)
    assert split.queries == [] and len(split.targets) == 0 and split.cutoff is None
    assert len(split.train) == len(log)
    report = protocol.evaluate([Popularity().fit(split.train)], split)
    assert report["results"]["popularity"]["hr@10"] == 0.0
    assert report["dataset"]["queries"] == 0


def test_a_scorer_with_the_wrong_width_is_refused(split):
    scorer = Popularity().fit(EventLog.from_records([(0.0, "", "purchase", "a", "o1")]))  # 1 item, not 7
    with pytest.raises(ValueError, match="expected"):
        protocol.evaluate([scorer], split)


def test_the_ml_core_imports_neither_django_nor_keras():
    code = (
        "import sys\n"
        "import cart_recommender.ml.protocol, cart_recommender.ml.quality, cart_recommender.ml.loading\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'keras', 'tensorflow'))\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_unsorted_log_splits_like_the_sorted_one(split):
    log = tiny_log()
    reverse = np.arange(len(log))[::-1]
    shuffled = EventLog(time=log.time[reverse], shopper=log.shopper[reverse], kind=log.kind[reverse],
                        item=log.item[reverse], order=log.order[reverse], items=log.items,
                        shoppers=log.shoppers, orders=log.orders)
    again = protocol.split(shuffled)
    assert again.test_orders == split.test_orders and again.dataset == split.dataset
    # Lines of one order share a time, so only the order of its queries may differ.
    def seen(s: protocol.Split) -> list:
        return sorted((int(t), sorted(q.cart.tolist()), sorted(q.history.item.tolist()))
                      for t, q in zip(s.targets, s.queries, strict=True))

    assert seen(again) == seen(split)
