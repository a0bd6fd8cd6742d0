"""The item-to-item (EASE) term: its weights against the closed form, and the model using it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from cart_recommender.ml import itemitem
from cart_recommender.ml.config import TrainingConfig
from cart_recommender.ml.features import Baskets
from cart_recommender.ml.model import SequenceModel
from tests.ml.synthetic import queries_from, synthetic_log
from tests.ml.test_model import keras_and_numpy_scores


def baskets_of(rows: list[list[int]]) -> Baskets:
    start = np.cumsum([0, *map(len, rows)]).astype(np.int64)
    item = np.concatenate([np.asarray(r, np.int32) for r in rows])
    n = len(rows)
    return Baskets(start, item, np.arange(n, dtype=np.float64), np.full(n, -1, np.int32))


def dense_ease(rows: list[list[int]], n: int, ridge: float) -> np.ndarray:
    """The textbook EASE solution, written independently of the module under test."""
    x = np.zeros((len(rows), n))
    for r, items in enumerate(rows):
        x[r, items] = 1.0
    p = np.linalg.inv(x.T @ x + ridge * np.eye(n))
    b = np.eye(n) - p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    return b


def partners(got: itemitem.ItemItem, i: int) -> np.ndarray:
    return got.item[got.row[i]]


def weights(got: itemitem.ItemItem, i: int) -> np.ndarray:
    return got.weight[got.row[i]]


def test_weights_are_the_closed_form_cut_to_the_strongest_partners_of_either_sign():
    rng = np.random.default_rng(3)
    n = 12
    rows = [sorted(rng.choice(n, size=int(rng.integers(1, 6)), replace=False).tolist()) for _ in range(200)]
    expected = dense_ease(rows, n, ridge=5.0)
    got = itemitem.fit(baskets_of(rows), n, np.arange(len(rows)), top_k=4, ridge=5.0)
    assert got.item.shape == got.weight.shape == (n + 1, 4)  # every item covered, + padding
    assert (partners(got, n) == n).all() and (weights(got, n) == 0).all()  # the padding row
    for i in range(n):
        others = np.delete(np.arange(n), i)
        best = others[np.argsort(-np.abs(expected[i, others]), kind="stable")][:4]
        kept = partners(got, i)[partners(got, i) < n]
        assert kept.tolist() == best.tolist()
        np.testing.assert_allclose(weights(got, i)[: kept.size], expected[i, best], rtol=1e-5)
        assert i not in kept
        assert (weights(got, i)[: kept.size] < 0).any() or (expected[i, best] > 0).all()


def test_default_ridge_is_the_mean_basket_count_and_rows_select_the_baskets():
    rows = [[0, 1], [0, 1], [0, 1, 2], [2, 3], [3]]
    got = itemitem.fit(baskets_of(rows), 4, np.arange(len(rows)), top_k=3)
    assert got.ridge == pytest.approx(np.mean([3, 3, 2, 2]))
    assert got.covered == 4
    # the first two baskets only: items 2 and 3 are never bought, so they have no partner
    part = itemitem.fit(baskets_of(rows), 4, np.array([0, 1]), top_k=3)
    assert part.covered == 2
    assert part.item.shape == (3, 3)  # rows for the two covered items and the padding row
    assert part.row.tolist() == [0, 1, 2, 2, 2]  # items 2, 3 and the padding code share it
    assert (partners(part, 2) == 4).all() and (partners(part, 3) == 4).all()
    assert partners(part, 0).tolist() == [1, 4, 4] and partners(part, 1).tolist() == [0, 4, 4]


def test_only_the_most_purchased_items_are_covered():
    rows = [[0, 1], [0, 1], [0, 2], [1, 2], [3, 0]]
    got = itemitem.fit(baskets_of(rows), 4, np.arange(len(rows)), top_k=3, max_items=3)
    assert got.covered == 3
    assert (partners(got, 3) == 4).all()  # item 3 (bought once) is left out, as a row ...
    assert 3 not in got.item  # ... and as a partner


def test_scores_sum_the_cart_items_weights():
    rows = [[0, 1], [0, 1], [1, 2], [0, 2, 3], [3, 4]]
    got = itemitem.fit(baskets_of(rows), 5, np.arange(len(rows)), top_k=4, ridge=1.0)
    dense = np.zeros((6, 5), np.float32)
    for i in range(6):
        for j, w in zip(partners(got, i), weights(got, i), strict=True):
            if j < 5:
                dense[i, j] += w
    cart = np.array([[0, 2, 5], [4, 5, 5]])  # 5 pads
    np.testing.assert_allclose(itemitem.scores(got, cart, 5), dense[cart].sum(axis=1), rtol=1e-6)


def test_no_data_gives_no_partners():
    got = itemitem.fit(baskets_of([[0]]), 3, np.array([], np.int64), top_k=2)
    assert got.covered == 0 and (got.item == 3).all()


@pytest.mark.slow
def test_model_chooses_alpha_on_validation_and_serves_the_term(tmp_path):
    log = synthetic_log(seed=4, n_orders=300)
    queries, _ = queries_from(log, last_orders=40)
    config = TrainingConfig(seed=3, dim=16, heads=2, max_history=8, neighbours=8, batch_size=64,
                            max_epochs=2, learning_rate=5e-3, item_item=6, item_item_max_items=30)
    model = SequenceModel(config).fit(log)
    chosen = model.history.item_item
    from cart_recommender.ml.training_loop import ALPHAS

    assert set(chosen["val_ndcg"]) == {str(a) for a in ALPHAS} and 0.0 in ALPHAS
    assert chosen["val_ndcg"][str(chosen["alpha"])] == max(chosen["val_ndcg"].values())
    # Whatever alpha won here, force the term on and check that Keras, NumPy and the artifact
    # all add the same thing.
    if not model.arch.item_item:
        pytest.skip("alpha 0 won on this data; the term is covered by the unit tests above")
    model.constants["ii_alpha"] = np.array([3.0], np.float32)
    from cart_recommender.ml.examples import query_inputs
    from cart_recommender.ml.serving import ServingModel, forward_numpy

    x = query_inputs(queries, model.arch)
    numpy_scores = forward_numpy(model.params, model.constants, x, model.arch)
    off = {**model.constants, "ii_alpha": np.zeros(1, np.float32)}
    without = forward_numpy(model.params, off, x, model.arch)
    assert np.abs(numpy_scores - without).max() > 1e-3  # the term does something
    keras_scores, numpy_again = keras_and_numpy_scores(model, queries)
    np.testing.assert_array_equal(numpy_again, numpy_scores)
    finite = keras_scores > -1e8
    np.testing.assert_allclose(keras_scores[finite], numpy_scores[finite], rtol=1e-5, atol=1e-4)
    model.export(tmp_path / "m.npz")
    served = ServingModel.load(tmp_path / "m.npz")
    assert served.arch.item_item == 6 and float(served.constants["ii_alpha"][0]) == 3.0
    np.testing.assert_allclose(served.score_batch(queries), model.score(queries), atol=1e-5)
    # an artifact in the older layout (a row for every item, no ii_row) still loads and
    # scores the same
    rows = model.constants["ii_row"]
    assert served.constants["ii_item"].shape[0] == model.arch.item_item_rows == 31 < rows.size
    model.arch = replace(model.arch, item_item_rows=0)
    model.constants = {**model.constants, "ii_item": model.constants["ii_item"][rows],
                       "ii_weight": model.constants["ii_weight"][rows]}
    del model.constants["ii_row"]
    model.export(tmp_path / "old.npz")
    old = ServingModel.load(tmp_path / "old.npz")
    assert "ii_row" not in old.constants and old.constants["ii_item"].shape[0] == rows.size
    np.testing.assert_allclose(old.score_batch(queries), served.score_batch(queries), atol=1e-6)
