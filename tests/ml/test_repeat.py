"""The repeat-aware baselines and the repeat/explore breakdown, on arrays alone."""

from __future__ import annotations

import numpy as np
import pytest

from cart_recommender.ml import protocol
from cart_recommender.ml.baselines import CoPurchase, Personal
from cart_recommender.ml.data import PURCHASE, EventLog, History, Query
from cart_recommender.ml.features import baskets_of, decayed_frequency
from cart_recommender.ml.repeat import RepeatDecay, TifuKNN, _UserVectors, tifu_vector
from tests.ml.synthetic import synthetic_log


def history(*orders: list[int]) -> History:
    """Purchases in the given orders, oldest first (order codes 10, 11, ...)."""
    items, codes = [], []
    for n, basket in enumerate(orders):
        items += basket
        codes += [10 + n] * len(basket)
    k = len(items)
    return History(item=np.array(items, np.int32), time=np.arange(k, dtype=np.float64),
                   kind=np.full(k, PURCHASE, np.int8), order=np.array(codes, np.int32))


def test_baskets_are_the_distinct_items_of_each_order_oldest_first():
    h = history([3, 1, 3], [2], [1, 4])
    h.item[-1] = -1  # an item the fitted log does not know is ignored
    assert [b.tolist() for b in baskets_of(h, 5)] == [[1, 3], [2], [1]]


def test_decayed_frequency_weights_each_order_by_the_orders_since():
    baskets = baskets_of(history([0, 1], [1], [2]), 4)
    got = decayed_frequency(baskets, 4, 0.5)
    weights = np.array([0.25, 0.5, 1.0])  # oldest .. newest
    expected = np.array([0.25, 0.25 + 0.5, 1.0, 0.0]) / weights.sum()
    np.testing.assert_allclose(got, expected)
    np.testing.assert_allclose(decayed_frequency(baskets, 4, 1.0), [1 / 3, 2 / 3, 1 / 3, 0])


def test_tifu_vector_groups_then_decays_within_and_across():
    baskets = baskets_of(history([0], [1], [2]), 3)
    got = tifu_vector(baskets, 3, group=2, within=0.5, across=0.1)
    first = np.array([0.5, 1.0, 0]) / 1.5  # group [b0, b1]: b0 weighs within**1
    second = np.array([0, 0, 1.0])  # group [b2]
    np.testing.assert_allclose(got, (0.1 * first + second) / 2)


def test_a_shopper_is_never_their_own_neighbour():
    records = []
    for o, (shopper, items) in enumerate([("a", ["x", "y"]), ("b", ["x", "y"]), ("c", ["z", "w"])]):
        for item in items:
            records.append((float(o), shopper, "purchase", item, f"o{o}"))
    log = EventLog.from_records(records)
    users = _UserVectors.of(log, group=7, within=1.0, across=1.0)
    a = log.shoppers.index("a")
    mine = np.zeros(log.n_items)
    mine[[log.items.index("x"), log.items.index("y")]] = 0.5
    nearest = users.neighbour_mean(mine, k=1, exclude=a)
    assert nearest[log.items.index("x")] > 0 and nearest[log.items.index("z")] == 0  # b, not a
    assert users.neighbour_mean(mine, k=1, exclude=-1)[log.items.index("x")] > 0


@pytest.fixture(scope="module")
def split() -> protocol.Split:
    return protocol.split(synthetic_log(seed=5, n_items=40, n_shoppers=30, n_orders=600))


@pytest.mark.parametrize("cls", [RepeatDecay, TifuKNN])
def test_parameters_are_chosen_on_the_training_data_alone(split, cls):
    scorer = cls().fit(split.train)
    assert set(scorer.params) >= set(cls.DEFAULTS) | {"val_ndcg@10"}
    again = cls().fit(split.train)
    assert again.params == scorer.params  # deterministic
    scores = scorer.score(split.queries[:50])
    assert scores.shape == (50, split.train.n_items) and np.isfinite(scores).all()


def test_repeat_baselines_beat_counting_on_shoppers_with_favourites(split):
    report = protocol.evaluate([s.fit(split.train) for s in (CoPurchase(), Personal(), RepeatDecay())], split)
    results = report["results"]
    assert results["repeat_decay"]["ndcg@10"] >= max(results["copurchase"]["ndcg@10"],
                                                     results["personal"]["ndcg@10"]) - 1e-9


def test_an_unknown_shopper_gets_co_purchase_then_popularity(split):
    scorer = RepeatDecay().fit(split.train)
    cart = split.queries[0].cart
    anonymous = Query(cart=cart, history=History(), time=0.0)
    scores = scorer.score([anonymous])[0]
    cop = CoPurchase().fit(split.train).score([anonymous])[0]
    popularity = Personal().fit(split.train).score([anonymous])[0] * 1e-6  # the tiebreak, scaled
    np.testing.assert_allclose(scores, scorer.params["beta"] * cop + popularity, rtol=1e-4, atol=1e-7)


def test_the_breakdown_splits_queries_into_repeat_and_explore(split):
    report = protocol.evaluate([Personal().fit(split.train)], split)
    kinds = report["results"]["personal"]["by_kind"]
    repeat = protocol.repeat_queries(split)
    assert kinds["repeat"]["queries"] == int(repeat.sum())
    assert kinds["explore"]["queries"] == int((~repeat).sum())
    assert 0 < repeat.sum() < len(repeat)
    # by hand: a repeat query's hidden item is among the shopper's earlier purchases
    row = int(np.flatnonzero(repeat)[0])
    query = split.queries[row]
    assert split.targets[row] in set(query.history.item[query.history.kind == PURCHASE].tolist())
    # counting earlier orders finds repeats and, by construction, no explore item above the rest
    assert kinds["repeat"]["hr@10"] > kinds["explore"]["hr@10"]


def test_serving_scores_repeat_decay_as_the_evaluation_does(split):
    """A version serving with repeat_decay ranks from its artifact exactly like the fitted scorer."""
    import io

    from cart_recommender.ml.export import save_artifact
    from cart_recommender.ml.features import baskets_from_log, co_purchase
    from cart_recommender.ml.serving import ServingModel
    from cart_recommender.serving.scoring import _score
    from tests.ml.test_serving import random_model

    scorer = RepeatDecay().fit(split.train)
    arch, params, constants = random_model(split.train)
    # an exported artifact counts co-purchases over every basket (as the training loop does)
    co = co_purchase(baskets_from_log(split.train), arch.n_items, arch.neighbours, 100)
    constants = {**constants, "nbr_item": co.neighbour, "nbr_count": co.count, "item_count": co.item_count}
    buffer = io.BytesIO()
    save_artifact(buffer, items=split.train.items, arch=arch, params=params, constants=constants,
                  extras={"repeat_decay/params": scorer.to_arrays()["params"]})
    buffer.seek(0)
    served = ServingModel.load(buffer)
    assert served.neighbours.shape[1] == split.train.n_items - 1  # every partner kept on a small shop
    for query in [q for q in split.queries if len(q.history.item)][:20]:
        cart = np.asarray(query.cart, np.int32)
        expected = scorer.score([query])[0]
        got = _score(served, "repeat_decay", cart, query.history, query.time)
        order = np.argsort(-expected, kind="stable")[:10]
        np.testing.assert_allclose(got[order], expected[order], rtol=1e-4, atol=1e-5)


def test_repeat_window_ranks_by_decayed_frequency_with_its_features():
    from cart_recommender.ml.features import REPEAT_FEATURES, repeat_window

    h = history([0, 1], [0, 2], [0, 3])  # item 0 in every order, 3 only in the last
    items, feats = repeat_window(h, now=float(len(h.item)) + 86400.0, length=3, n_items=5)
    assert items[0] == 0 and set(items[1:].tolist()) <= {1, 2, 3}
    assert items[1] == 3  # the most recent single purchase decays least
    assert feats.shape == (3, REPEAT_FEATURES)
    assert feats[0, 0] == pytest.approx(1.0) and feats[0, 1] == pytest.approx(1.0)  # bought every time
    assert feats[0, 3] == pytest.approx(1.0)  # in 3 of 3 orders
    assert feats[1, 4] == pytest.approx(0.0)  # item 3 was bought in the latest order
    padded, zero = repeat_window(History(), now=0.0, length=3, n_items=5)
    assert padded.tolist() == [5, 5, 5] and not zero.any()


def test_training_windows_are_the_windows_served_for_the_same_history():
    """The training walk (state before each order) and a query's window of the same earlier
    purchases must agree, or the model would learn on inputs it never sees when serving."""
    from cart_recommender.ml.config import TrainingConfig
    from cart_recommender.ml.data import Query
    from cart_recommender.ml.examples import query_inputs
    from cart_recommender.ml.preparation import prepare

    log = synthetic_log(seed=3, n_orders=200)
    data = prepare(log, TrainingConfig(repeat_window=6, max_history=4, dim=8))
    arch, baskets, train = data["arch"], data["baskets"], data["train"]
    assert arch.repeat_window == 6
    checked = 0
    for r, b in enumerate(train.rows[-40:], start=len(train.rows) - 40):
        s = baskets.shopper[b]
        before = np.flatnonzero((log.shopper == s) & (log.time < baskets.time[b]))
        past = History(item=log.item[before], time=log.time[before], kind=log.kind[before],
                       order=log.order[before])
        q = query_inputs([Query(cart=np.zeros(0, np.int32), history=past, time=baskets.time[b])], arch)
        np.testing.assert_array_equal(q["rp_item"][0], train.rp_item[r])
        np.testing.assert_allclose(q["rp_feat"][0], train.rp_feat[r], atol=1e-6)
        checked += int((train.rp_item[r] < arch.n_items).any())
    assert checked > 20  # most of these shoppers have bought before


def test_a_shop_without_returning_shoppers_gets_no_repeat_window():
    from cart_recommender.ml.config import TrainingConfig
    from cart_recommender.ml.preparation import prepare

    records = [(float(o), f"guest{o}", "purchase", item, f"o{o}")
               for o in range(30) for item in (f"a{o % 5}", f"b{o % 7}")]
    arch = prepare(EventLog.from_records(records), TrainingConfig())["arch"]
    assert arch.repeat_window == 0 and arch.max_history == 0



def test_the_state_of_a_whole_history_at_once_is_the_state_walked_order_by_order():
    from cart_recommender.ml.features import RepeatState

    rng = np.random.default_rng(5)
    baskets = [(np.unique(rng.integers(0, 40, size=rng.integers(1, 8))), float(10 * j)) for j in range(30)]
    walked = RepeatState(np.unique(np.concatenate([b for b, _t in baskets])))
    for basket, when in baskets:
        walked.add(basket, when)
    at_once = RepeatState.of(baskets)
    for name in ("items", "decayed", "weight", "count", "last_order", "last_time"):
        np.testing.assert_allclose(getattr(at_once, name), getattr(walked, name), rtol=1e-12, err_msg=name)
    assert at_once.orders == walked.orders == 30
    for length in (5, 64):
        a_items, a_feat = at_once.window(400.0, length, 40)
        w_items, w_feat = walked.window(400.0, length, 40)
        np.testing.assert_array_equal(a_items, w_items)
        np.testing.assert_allclose(a_feat, w_feat, atol=1e-6)


def test_preparing_without_a_validation_split_walks_no_repeat_windows():
    """val_fraction=0 (an artifact over every order) leaves the validation set empty; the
    repeat-window walk once failed on it (np.concatenate of nothing)."""
    from datetime import UTC, datetime, timedelta

    from cart_recommender.ml.config import TrainingConfig
    from cart_recommender.ml.data import EventLog
    from cart_recommender.ml.preparation import prepare

    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    rows = [(t0 + timedelta(hours=i), f"s{i % 7}", "purchase", f"p{(i * 3) % 11}", f"o{i // 2}")
            for i in range(200)]
    prepared = prepare(EventLog.from_records(rows), TrainingConfig(dim=8, max_history=8, val_fraction=0.0))
    assert len(prepared["train"].rows) > 0 and len(prepared["val"].rows) == 0
