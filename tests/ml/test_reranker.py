"""The second-stage reranker: its candidates and features, the reordering, and a real fit."""

from __future__ import annotations

import numpy as np
import pytest

from cart_recommender.ml import reranker
from cart_recommender.ml.features import REPEAT_FEATURES

N = 12


def batch_of(carts: list[list[int]], windows: list[list[int]], window: int = 4) -> dict[str, np.ndarray]:
    """Inputs as query_inputs makes them: padded carts, repeat windows with frequency features."""
    b = len(carts)
    cart = np.full((b, 3), N, np.int32)
    rp_item = np.full((b, window), N, np.int32)
    rp_feat = np.zeros((b, window, REPEAT_FEATURES), np.float32)
    for q, (c, w) in enumerate(zip(carts, windows, strict=True)):
        cart[q, : len(c)] = c
        rp_item[q, : len(w)] = w
        rp_feat[q, : len(w), 0] = np.linspace(1.0, 0.5, len(w)) if w else []
    return {"cart": cart, "rp_item": rp_item, "rp_feat": rp_feat}


def masked(scores: np.ndarray, carts: list[list[int]]) -> np.ndarray:
    out = scores.astype(np.float32).copy()
    for q, c in enumerate(carts):
        out[q, c] = -np.inf
    return out


def test_candidates_are_the_best_non_cart_products_with_their_window_and_category_features() -> None:
    carts = [[0, 1]]
    scores = masked(np.arange(N, dtype=np.float32)[None, :], carts)  # item 11 best
    batch = batch_of(carts, [[9, 0, 5]])
    category = np.array([0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1], np.int32)
    pop = np.log1p(np.arange(N, dtype=np.float64))
    codes, f = reranker.candidate_features(scores, batch, N, category, pop, k=4)
    assert codes.tolist() == [[11, 10, 9, 8]]
    col = {name: i for i, name in enumerate(reranker.FEATURES)}
    assert f[0, :, col["rank"]].tolist() == [0, 1, 2, 3]
    assert f[0, :, col["score_below_best"]].tolist() == [0, -1, -2, -3]
    assert f[0, :, col["in_window"]].tolist() == [0, 0, 1, 0]
    assert f[0, 2, col["window_position"]] == 0 and f[0, 0, col["window_position"]] == 4
    assert f[0, 2, col["window_feature_0"]] == pytest.approx(1.0)
    # the cart (items 0 and 1) is all category 0; item 9 is category 0 too
    assert f[0, :, col["cart_share_of_category"]].tolist() == [0.0, 0.0, 1.0, 0.0]
    # window frequencies 1.0 (item 9, cat 0), 0.75 (item 0, cat 0), 0.5 (item 5, cat 1)
    assert f[0, 2, col["window_share_of_category"]] == pytest.approx(1.75 / 2.25)
    assert f[0, 0, col["window_share_of_category"]] == pytest.approx(0.5 / 2.25)
    assert f[0, 0, col["log_popularity"]] == pytest.approx(np.log1p(11))


def test_apply_reorders_only_the_candidates_of_queries_with_a_window() -> None:
    carts = [[0], [1]]
    rng = np.random.default_rng(3)
    scores = masked(rng.normal(size=(2, N)), carts)
    batch = batch_of(carts, [[4, 7], []])  # the second shopper has no purchases
    category = np.zeros(N, np.int32)
    pop = np.zeros(N)
    # a reranker that scores candidates by their window position only: window items first
    k = reranker.CANDIDATES
    weights = {"rr_mu": np.zeros(len(reranker.FEATURES), np.float32),
               "rr_sd": np.ones(len(reranker.FEATURES), np.float32)}
    width = len(reranker.FEATURES)
    for i, hidden in enumerate(reranker.HIDDEN):
        weights[f"rr_w{i}"] = np.zeros((width, hidden), np.float32)
        weights[f"rr_b{i}"] = np.zeros(hidden, np.float32)
        width = hidden
    weights["rr_w0"][reranker.FEATURES.index("in_window"), 0] = 1.0
    weights["rr_w1"][0, 0] = 1.0
    weights["rr_out"] = np.zeros((width, 1), np.float32)
    weights["rr_out"][0, 0] = 1.0
    weights["rr_out_b"] = np.zeros(1, np.float32)
    out = reranker.apply(scores.copy(), reranker.Reranker(weights), batch, N, category, pop)
    assert k >= N  # every product is a candidate in this small catalog
    first = np.argsort(-out[0])
    assert set(first[:2].tolist()) == {4, 7}
    assert out[0, 0] == -np.inf  # the cart stays out
    np.testing.assert_array_equal(out[1], scores[1])  # no window: untouched


def pool_of(links: dict[int, list[tuple[int, float]]], extra: int, k: int = 2) -> reranker.ContentPool:
    """Content neighbours ``item -> [(neighbour, similarity)]``, padded as content_neighbours pads."""
    neighbour = np.full((N + 1, k), N, np.int32)
    similarity = np.zeros((N + 1, k), np.float32)
    for item, row in links.items():
        for slot, (other, sim) in enumerate(row):
            neighbour[item, slot], similarity[item, slot] = other, sim
    return reranker.ContentPool(neighbour, similarity, extra)


def test_products_like_the_cart_and_the_window_join_the_candidates_with_their_likeness() -> None:
    carts = [[0, 1]]
    scores = masked(np.arange(N, dtype=np.float32)[None, :], carts)  # 11 best, 2 worst outside the cart
    batch = batch_of(carts, [[9, 5]])  # window frequencies 1.0 (item 9) and 0.5 (item 5)
    # item 2 is like cart item 0; item 3 like window item 9; item 10 (a best product) like item 1
    pool = pool_of({0: [(2, 0.9)], 9: [(3, 0.6)], 1: [(10, 0.8)]}, extra=3)
    codes, f = reranker.candidate_features(scores, batch, N, np.zeros(N, np.int32), np.zeros(N), k=4,
                                           pool=pool)
    names = reranker.feature_names(content=True)
    col = {name: i for i, name in enumerate(names)}
    assert f.shape == (1, 7, len(names)) and len(names) == len(reranker.FEATURES) + 3
    assert codes[0, :4].tolist() == [11, 10, 9, 8]
    assert codes[0, 4:6].tolist() == [2, 3]  # by likeness: 0.9, then 0.6 x 1.0 / 1.5
    assert f[0, :6, col["from_content"]].tolist() == [0, 0, 0, 0, 1, 1]
    assert f[0, 4, col["content_cart"]] == pytest.approx(0.9)
    assert f[0, 5, col["content_window"]] == pytest.approx(0.6 / 1.5)
    assert f[0, 1, col["content_cart"]] == pytest.approx(0.8)  # the best products carry it too
    assert f[0, 4, col["rank"]] == 4 and f[0, 4, col["score"]] == 2.0
    assert not f[0, 6].any()  # no third product is like the query: a padding slot, all zeros


def test_the_repeat_window_joins_the_candidates_however_low_the_model_scores_it() -> None:
    carts = [[0, 1]]
    scores = masked(np.arange(N, dtype=np.float32)[None, :], carts)
    batch = batch_of(carts, [[9, 3, 1]])  # 9 is among the 4 best already, 1 is in the cart
    pool = pool_of({3: [(2, 0.5), (4, 0.4)]}, extra=2)
    codes, f = reranker.candidate_features(scores, batch, N, np.zeros(N, np.int32), np.zeros(N), k=4,
                                           pool=pool, window=4)
    col = {name: i for i, name in enumerate(reranker.feature_names(content=True))}
    assert codes.shape == (1, 4 + 4 + 2)
    real = reranker.slots(f)[0]
    assert real.tolist() == [True] * 4 + [False, True, False, False] + [True, True]
    assert codes[0, 5] == 3 and f[0, 5, col["in_window"]] == 1 and f[0, 5, col["rank"]] == 4
    assert f[0, 5, col["window_position"]] == 1 and f[0, 5, col["from_content"]] == 0
    assert not f[0, [4, 6, 7]].any()  # 9 is a candidate already, 1 is in the cart, the rest padding
    assert codes[0, 8:].tolist() == [2, 4] and f[0, 8:, col["from_content"]].tolist() == [1, 1]


def test_apply_with_content_lifts_what_the_reranker_picks_and_leaves_padding_alone() -> None:
    carts = [[0], [1]]
    rng = np.random.default_rng(4)
    scores = masked(rng.normal(size=(2, N)), carts)
    scores[0, 2] = -5.0  # far below: only its likeness to the cart makes it a candidate
    batch = batch_of(carts, [[4], []])
    names = reranker.feature_names(content=True)
    weights = {"rr_mu": np.zeros(len(names), np.float32), "rr_sd": np.ones(len(names), np.float32)}
    width = len(names)
    for i, hidden in enumerate(reranker.HIDDEN):
        weights[f"rr_w{i}"] = np.zeros((width, hidden), np.float32)
        weights[f"rr_b{i}"] = np.zeros(hidden, np.float32)
        width = hidden
    weights["rr_w0"][names.index("from_content"), 0] = 1.0  # what likeness brought comes first
    weights["rr_w1"][0, 0] = 1.0
    weights["rr_out"] = np.zeros((width, 1), np.float32)
    weights["rr_out"][0, 0] = 1.0
    weights["rr_out_b"] = np.zeros(1, np.float32)
    pool = pool_of({0: [(2, 0.9)]}, extra=2)
    out = reranker.apply(scores.copy(), reranker.Reranker(weights), batch, N, np.zeros(N, np.int32),
                         np.zeros(N), k=5, pool=pool)
    assert np.argmax(out[0]) == 2 and out[0, 0] == -np.inf
    best = set(np.argsort(-scores[0])[:5].tolist())
    rest = [j for j in range(N) if j not in best | {0, 2}]
    np.testing.assert_array_equal(out[0, rest], scores[0, rest])  # the padding slot wrote nothing
    assert out[0, sorted(best)].min() > out[0, rest].max()
    np.testing.assert_array_equal(out[1], scores[1])  # no window: untouched


def test_fit_learns_which_candidate_is_the_answer() -> None:
    pytest.importorskip("keras")
    rng = np.random.default_rng(0)
    q, k, width = 600, 10, len(reranker.FEATURES)
    features = rng.normal(size=(q, k, width)).astype(np.float32)
    target = rng.integers(0, k, size=q)
    # the answer is the candidate whose cart-category share is highest
    col = reranker.FEATURES.index("cart_share_of_category")
    features[np.arange(q), target, col] += 3.0
    target[:50] = -1  # not among the candidates: dropped from the fit
    fitted = reranker.fit(features[:500], target[:500], seed=1, epochs=20)
    held = fitted.score(features[500:])
    assert held.shape == (100, k)
    accuracy = np.mean(held.argmax(axis=1) == target[500:])
    assert accuracy > 0.7  # chance: 0.1
    with pytest.raises(ValueError):
        reranker.fit(features[:5], np.full(5, -1))


def test_best_candidates_and_the_best_score_left_out() -> None:
    scores = np.array([[0.5, 3.0, -np.inf, 2.0, 1.0], [1.0, 1.0, 0.0, 4.0, -1.0]], np.float32)
    codes, below = reranker.best_candidates(scores, k=2)
    assert codes.tolist() == [[1, 3], [3, 0]] or codes.tolist() == [[1, 3], [3, 1]]
    assert below.tolist() == [1.0, 1.0]
    codes, below = reranker.best_candidates(scores, k=9)  # more than the catalog: every product
    assert codes[0].tolist()[:4] == [1, 3, 4, 0] and np.isneginf(below).all()


def test_target_positions() -> None:
    codes = np.array([[5, 3, 9], [1, 2, 4]])
    assert reranker.target_positions(codes, np.array([9, 7])).tolist() == [2, -1]


@pytest.fixture(scope="module")
def fitted():
    """A small model fitted on shoppers with favourites, its reranker kept on this data."""
    pytest.importorskip("keras")
    from cart_recommender.ml.config import TrainingConfig
    from cart_recommender.ml.model import SequenceModel
    from tests.ml.synthetic import synthetic_log
    from tests.ml.test_model import TINY

    log = synthetic_log(seed=3, n_orders=2500, n_shoppers=40)
    return log, SequenceModel(TrainingConfig(seed=1, **TINY)).fit(log)


def test_training_fits_a_reranker_on_the_validation_lists_and_keeps_it_when_it_orders_better(fitted):
    _log, model = fitted
    report = model.history.rerank
    assert report["lists"] >= report["with_target"] >= 200
    assert report["held_out"] == report["with_target"] // 5
    assert report["kept"] and report["val_ndcg"]["reranked"] > report["val_ndcg"]["model"]
    assert model.arch.rerank == report["candidates"] == 40  # every product of this small shop
    assert set(reranker.weight_shapes()) <= set(model.params)
    assert model.constants["rr_cat"].shape == (model.arch.n_items + 1,)


def test_served_scores_are_the_reranked_scores_and_anonymous_carts_are_left_alone(fitted, tmp_path):
    from dataclasses import replace

    from cart_recommender.ml.data import History, Query
    from cart_recommender.ml.serving import ServingModel
    from tests.ml.synthetic import queries_from

    log, model = fitted
    queries, _targets = queries_from(log, last_orders=40)
    model.export(tmp_path / "m.npz")
    served = ServingModel.load(tmp_path / "m.npz")
    assert served.arch.rerank == model.arch.rerank
    np.testing.assert_allclose(served.score_batch(queries), model.score(queries), rtol=1e-5, atol=1e-5)
    # without its reranker the same model orders some shopper's top products differently
    plain = replace(model.arch, rerank=0)
    before = type(model)(model.config)
    before.arch, before.params, before.constants = plain, model.params, model.constants
    before.items = model.items
    top = np.argsort(-model.score(queries), axis=1)[:, :10]
    assert (top != np.argsort(-before.score(queries), axis=1)[:, :10]).any()
    # a cart without a history is not reranked
    anonymous = [Query(q.cart, History(), q.time) for q in queries[:20]]
    np.testing.assert_array_equal(model.score(anonymous), before.score(anonymous))


def ranges_shop(seed: int = 5, orders: int = 3000, shoppers: int = 60, new_from: int = 2700):
    """Eight ranges of ten products ("blue cup no3" in "Home > Cups"), each shopper loyal to one
    range; products 8 and 9 of every range are new from order ``new_from`` on (the validation
    orders of a fit on it all), and every order from then on takes one of them: the network
    never trained on them, their names are all that place them."""
    from cart_recommender.ml.data import EventLog

    rng = np.random.default_rng(seed)
    nouns = ("cup", "plate", "bowl", "spade", "rake", "seed", "lamp", "rug")
    colours = ("blue", "red", "green", "white", "black")
    content = {f"{r}-{i}": (f"{colours[i % 5]} {noun} no{i}", f"Home > {noun.title()}s", 2.0 + r)
               for r, noun in enumerate(nouns) for i in range(10)}
    favourite = rng.integers(len(nouns), size=shoppers)
    records = []
    for o in range(orders):
        shopper = int(rng.integers(shoppers))
        picks = list(rng.choice(8, 3 if o < new_from else 2, replace=False))
        if o >= new_from:
            picks.append(8 + int(rng.integers(2)))
        for i in picks:
            records.append((o * 3600.0, f"s{shopper}", "purchase", f"{favourite[shopper]}-{i}", f"o{o}"))
    return EventLog.from_records(records, content=content)


@pytest.fixture(scope="module")
def fitted_with_content():
    pytest.importorskip("keras")
    from cart_recommender.ml.config import TrainingConfig
    from cart_recommender.ml.model import SequenceModel
    from tests.ml.test_model import TINY

    log = ranges_shop()
    # few candidates from the scores, so that the products the network barely knows are often
    # outside them: what the likeness is for
    config = TrainingConfig(seed=2, rerank_candidates=5, rerank_content=10, rerank_window=0, **TINY)
    return log, SequenceModel(config).fit(log)


def test_with_content_the_reranker_also_weighs_the_products_most_like_the_query(fitted_with_content,
                                                                               tmp_path):
    from cart_recommender.ml.serving import ServingModel
    from tests.ml.synthetic import queries_from

    log, model = fitted_with_content
    report = model.history.rerank
    assert report["kept"] and report["by_content_candidates"] == model.arch.rerank_content > 0
    assert report["by_content"] > 0  # hidden products only their likeness made candidates
    assert model.arch.rerank_neighbours == model.config.rerank_neighbours
    assert set(reranker.weight_shapes(content=True)) <= set(model.params)
    assert model.params["rr_mu"].shape == (len(reranker.feature_names(content=True)),)
    blue_cup = log.items.index("0-0")
    near = {log.items[j] for j in model.constants["rr_nbr"][blue_cup] if j < log.n_items}
    assert near and all(item.startswith("0-") for item in near)  # its own range only
    model.export(tmp_path / "m.npz")
    served = ServingModel.load(tmp_path / "m.npz")
    assert served.arch.rerank_content == model.arch.rerank_content
    queries, _targets = queries_from(log, last_orders=40)
    np.testing.assert_allclose(served.score_batch(queries), model.score(queries), rtol=1e-5, atol=1e-5)
