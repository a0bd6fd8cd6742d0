"""The Keras sequence model: a real (tiny) training run, reproducibility, cancel, parity."""

from __future__ import annotations

import numpy as np
import pytest

from cart_recommender.ml.baselines import Popularity
from cart_recommender.ml.config import TrainingConfig, TrainingStopped
from cart_recommender.ml.examples import query_inputs
from cart_recommender.ml.keras_network import build_network
from cart_recommender.ml.model import SequenceModel
from cart_recommender.ml.serving import ServingModel, forward_numpy
from tests.ml.synthetic import hit_rate, queries_from, synthetic_log

pytestmark = pytest.mark.slow

TINY = dict(dim=16, heads=2, max_history=8, neighbours=8, batch_size=64, max_epochs=4, patience=4,
            learning_rate=5e-3, targets_per_basket=3, time_budget_s=120)


def keras_and_numpy_scores(model: SequenceModel, queries: list) -> tuple[np.ndarray, np.ndarray]:
    """The fitted model's scores from a freshly built Keras network and from the NumPy pass."""
    net = build_network(model.arch, model.constants, model.config)
    for name, var in net.p.items():
        var.assign(model.params[name])
    x = query_inputs(queries, model.arch)
    return np.asarray(net.predict_on_batch(x)), forward_numpy(model.params, model.constants, x, model.arch)


@pytest.fixture(scope="module")
def data():
    log = synthetic_log(seed=1, n_orders=300)
    return log, *queries_from(log, last_orders=60)


@pytest.fixture(scope="module")
def trained(data):
    log, _, _ = data
    epochs: list[tuple] = []
    model = SequenceModel(TrainingConfig(seed=5, **TINY)).fit(
        log, progress=lambda *args: epochs.append(args)
    )
    return model, epochs


def test_training_learns_the_shop(data, trained):
    log, queries, targets = data
    model, epochs = trained
    history = model.history
    assert len(history.loss) == len(epochs) >= 2 and history.stopped in ("max_epochs", "early_stopping")
    assert history.loss[-1] < history.loss[0]
    assert [e[0] for e in epochs] == list(range(1, len(epochs) + 1))
    assert all(e[1] == TINY["max_epochs"] and e[3] > 0 for e in epochs)
    scores = model.score(queries)
    popular = Popularity().fit(log).score(queries)
    for row, q in enumerate(queries):
        popular[row, q.cart] = -np.inf
    # Pairs bought together plus each shopper's favourites: far above popularity.
    assert hit_rate(scores, targets, k=3) > hit_rate(popular, targets, k=3) + 0.2


def test_same_seed_same_model(data, trained):
    log, queries, _ = data
    again = SequenceModel(TrainingConfig(seed=5, **TINY)).fit(log)
    np.testing.assert_allclose(again.score(queries), trained[0].score(queries), atol=1e-5)
    assert again.history.loss == pytest.approx(trained[0].history.loss, abs=1e-5)


def test_keras_and_numpy_forward_passes_agree(data, trained):
    log, queries, _ = data
    model = trained[0]
    keras_scores, numpy_scores = keras_and_numpy_scores(model, queries)
    n = model.arch.n_items
    for row, q in enumerate(queries):
        keep = np.setdiff1d(np.arange(n), q.cart)
        # float32 sums in a different order: equal to ~1e-6 of the score's size
        np.testing.assert_allclose(keras_scores[row, keep], numpy_scores[row, keep], rtol=1e-5, atol=1e-4)
        top_keras = keep[np.argsort(-keras_scores[row, keep], kind="stable")[:10]]
        top_numpy = keep[np.argsort(-numpy_scores[row, keep], kind="stable")[:10]]
        assert top_keras.tolist() == top_numpy.tolist()


def test_exported_model_serves_the_trained_scores(data, trained, tmp_path):
    _, queries, _ = data
    model = trained[0]
    manifest = model.export(tmp_path / "m.npz", metrics={"ndcg@10": 0.3})
    assert manifest["training"]["history"]["loss"] == model.history.loss
    served = ServingModel.load(tmp_path / "m.npz").score_batch(queries)
    np.testing.assert_allclose(served, model.score(queries), atol=1e-5)


def test_should_stop_is_honoured(data):
    log, _, _ = data
    finished: list[int] = []
    checks_after_first_epoch: list[int] = []

    def stop_after_first_epoch() -> bool:
        if finished:
            checks_after_first_epoch.append(1)
        return bool(finished)

    model = SequenceModel(TrainingConfig(seed=2, **{**TINY, "check_every_batches": 1}))
    model.fit(log, progress=lambda epoch, *_: finished.append(epoch), should_stop=stop_after_first_epoch)
    assert model.history.stopped == "cancelled" and len(model.history.loss) == 1
    assert finished == [1] and len(checks_after_first_epoch) == 1  # checked before epoch 2 began
    with pytest.raises(TrainingStopped):
        SequenceModel(TrainingConfig(seed=2, **TINY)).fit(log, should_stop=lambda: True)


def test_sampled_softmax_for_large_catalogs(data):
    log, queries, targets = data
    model = SequenceModel(TrainingConfig(
        seed=3, **{**TINY, "full_softmax_max_items": 10, "negatives": 16, "max_epochs": 3}
    )).fit(log)
    scores = model.score(queries)
    assert np.isfinite(scores[~np.isneginf(scores)]).all()
    assert hit_rate(scores, targets, k=10) > 0.3


def test_gru_encoder_trains_and_serves_the_same_scores(data, tmp_path):
    """The GRU4Rec-style encoder the default was measured against: it learns, its Keras and
    NumPy forward passes agree, and its artifact loads with the encoder it was trained with."""
    log, queries, targets = data
    model = SequenceModel(TrainingConfig(seed=5, encoder="gru", **TINY)).fit(log)
    assert model.arch.encoder == "gru" and "gru_wh" in model.params and "b0_wq" not in model.params
    scores = model.score(queries)
    popular = Popularity().fit(log).score(queries)
    for row, q in enumerate(queries):
        popular[row, q.cart] = -np.inf
    assert hit_rate(scores, targets, k=3) > hit_rate(popular, targets, k=3) + 0.2
    keras_scores, numpy_scores = keras_and_numpy_scores(model, queries)
    finite = keras_scores > -1e8  # cart items are masked in the Keras output only
    np.testing.assert_allclose(keras_scores[finite], numpy_scores[finite], rtol=1e-5, atol=1e-4)
    model.export(tmp_path / "gru.npz")
    served = ServingModel.load(tmp_path / "gru.npz")
    assert served.arch.encoder == "gru"
    np.testing.assert_allclose(served.score_batch(queries), scores, atol=1e-5)


def test_unknown_encoder_is_refused():
    from dataclasses import replace

    from cart_recommender.ml.network import Architecture

    with pytest.raises(ValueError, match="encoder must be one of"):
        TrainingConfig(encoder="lstm")
    arch = Architecture(n_items=10, dim=8, blocks=1, heads=2, ffn=16, max_cart=4, max_history=4,
                        neighbours=3, feature_hidden=4)
    with pytest.raises(ValueError, match="encoder must be one of"):
        replace(arch, encoder="lstm")  # an artifact's manifest naming an unknown encoder
