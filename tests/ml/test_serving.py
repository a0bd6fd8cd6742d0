"""The serving side without Keras: features, the artifact format, the NumPy scorer."""

from __future__ import annotations

import io
import json
import pickle
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

from cart_recommender.ml import export
from cart_recommender.ml.config import TrainingConfig
from cart_recommender.ml.data import EventLog, History, Query
from cart_recommender.ml.examples import query_inputs
from cart_recommender.ml.export import ArtifactError, read_manifest, save_artifact
from cart_recommender.ml.features import baskets_from_log, co_purchase, history_tokens
from cart_recommender.ml.network import param_shapes
from cart_recommender.ml.preparation import prepare
from cart_recommender.ml.serving import ServingModel, forward_numpy
from tests.ml.synthetic import queries_from, synthetic_log


def random_model(log: EventLog, seed: int = 0):
    prepared = prepare(log, TrainingConfig(dim=16, max_history=8, neighbours=6))
    arch = prepared["arch"]
    rng = np.random.default_rng(seed)
    params = {
        name: (rng.standard_normal(shape) * 0.3).astype(np.float32)
        for name, (shape, _) in param_shapes(arch).items()
    }
    return arch, params, prepared["constants"]


@pytest.fixture(scope="module")
def log() -> EventLog:
    return synthetic_log(seed=3)


@pytest.fixture(scope="module")
def artifact(log, tmp_path_factory) -> Path:
    arch, params, constants = random_model(log)
    path = tmp_path_factory.mktemp("artifact") / "model.npz"
    save_artifact(path, items=log.items, arch=arch, params=params, constants=constants,
                  metrics={"hr@10": 0.5}, extras={"copurchase/neighbour_items": np.arange(3)})
    return path


def test_co_purchase_counts_pairs_within_orders():
    log = EventLog.from_records([
        (1.0, "a", "purchase", "x", "o1"), (1.0, "a", "purchase", "y", "o1"),
        (2.0, "b", "purchase", "x", "o2"), (2.0, "b", "purchase", "y", "o2"),
        (2.0, "b", "purchase", "z", "o2"), (2.0, "b", "purchase", "z", "o2"),
        (3.0, "c", "purchase", "z", "o3"),
    ])
    baskets = baskets_from_log(log)
    assert baskets.sizes().tolist() == [2, 3, 1]  # the repeated z line counts once
    co = co_purchase(baskets, log.n_items, top_n=2)
    x, y, z = (log.items.index(i) for i in "xyz")
    assert co.item_count[[x, y, z]].tolist() == [2, 2, 2]
    assert co.neighbour[x].tolist() == [y, z] and co.count[x].tolist() == [2, 1]
    assert co.neighbour[log.n_items].tolist() == [log.n_items] * 2  # the padding row


def test_history_tokens_keep_recent_distinct_items_with_counts():
    item = np.array([5, 7, 5, 9, 5])
    time = np.array([0.0, 3600.0, 7200.0, 3 * 86400.0, 10 * 86400.0])
    kind = np.array([4, 4, 4, 0, 4])
    items, age, count, kinds = history_tokens(item, time, kind, now=10 * 86400.0, length=4, pad=99)
    assert items.tolist() == [5, 9, 7, 99]
    assert count[:3].tolist() == [1, 0, 0]  # log2 buckets: 3 purchases -> 1, once -> 0
    assert age[0] == 0 and age[1] > 0 and age[2] >= age[1]
    assert kinds[:3].tolist() == [4, 0, 4]


def test_round_trip_scores_equal_the_forward_pass(log, artifact):
    model = ServingModel.load(artifact)
    arch, params, constants = random_model(log)
    assert model.items == tuple(log.items)
    assert model.item_index[log.items[4]] == 4
    assert model.manifest["format_version"] == export.FORMAT_VERSION
    assert model.manifest["metrics"] == {"hr@10": 0.5}
    assert model.extras["copurchase/neighbour_items"].tolist() == [0, 1, 2]
    queries, _ = queries_from(log, last_orders=10)
    expected = forward_numpy(params, constants, query_inputs(queries, arch), arch)
    got = model.score_batch(queries)
    for row, q in enumerate(queries):
        assert np.isneginf(got[row, q.cart]).all()
        keep = np.setdiff1d(np.arange(arch.n_items), q.cart)
        np.testing.assert_allclose(got[row, keep], expected[row, keep], rtol=1e-6, atol=1e-6)
    one = model.score(queries[0].cart, queries[0].history, queries[0].time)
    np.testing.assert_allclose(one, got[0], rtol=1e-5, atol=1e-5)  # BLAS may block batches differently
    assert model.neighbours.shape == (arch.n_items, arch.neighbours)
    assert model.neighbours.min() >= -1 and model.popularity.shape == (arch.n_items,)


def test_loads_from_an_open_file_and_writes_atomically(artifact, log, tmp_path):
    with open(artifact, "rb") as fh:
        assert ServingModel.load(fh).items == tuple(log.items)
    arch, params, constants = random_model(log)
    target = tmp_path / "deep" / "v2.npz"
    save_artifact(target, items=log.items, arch=arch, params=params, constants=constants)
    assert [p.name for p in target.parent.iterdir()] == ["v2.npz"]  # no temp file left behind
    assert read_manifest(target)["n_items"] == log.n_items


def test_unknown_cart_codes_and_empty_history_still_score(artifact):
    model = ServingModel.load(artifact)
    scores = model.score(np.array([-1, 0, 10_000]), History(), now=0.0)
    assert scores.shape == (model.n_items,) and np.isneginf(scores[0])
    assert np.isfinite(scores[1:]).all()


def test_concurrent_scoring_matches_sequential(artifact, log):
    model = ServingModel.load(artifact)
    queries, _ = queries_from(log, last_orders=20)
    expected = [model.score(q.cart, q.history, q.time) for q in queries]
    results: dict[int, list[np.ndarray]] = {}

    def work(k: int) -> None:
        results[k] = [model.score(q.cart, q.history, q.time) for q in queries]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(4):
        for a, b in zip(results[k], expected, strict=True):
            np.testing.assert_array_equal(a, b)


def _rewrite(src: Path, dst: Path, change) -> None:
    with np.load(src, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    change(arrays)
    np.savez(dst, **arrays)


def test_refuses_pickles(tmp_path):
    pickled = tmp_path / "model.npz"
    pickled.write_bytes(pickle.dumps({"items": ["a"]}))
    with pytest.raises(ArtifactError, match="pickle"):
        ServingModel.load(pickled)
    objects = tmp_path / "objects.npz"
    np.savez(objects, items=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ArtifactError, match="pickle"):
        ServingModel.load(objects)


def test_refuses_bad_manifests_and_shapes(artifact, tmp_path):
    def manifest(arrays, **changes):
        m = json.loads(str(arrays["__manifest__"]))
        m.update(changes)
        arrays["__manifest__"] = np.array(json.dumps(m))

    cases = {
        "no manifest": lambda a: a.pop("__manifest__"),
        "version": lambda a: manifest(a, format_version=99),
        "format": lambda a: manifest(a, format="something_else"),
        "shape": lambda a: a.__setitem__("param/item_emb", a["param/item_emb"][:-1]),
        "lacks": lambda a: a.pop("param/cls"),
        "range": lambda a: a.__setitem__("const/nbr_item", a["const/nbr_item"] + 1000),
    }
    for expected, change in cases.items():
        path = tmp_path / f"{expected.replace(' ', '_')}.npz"
        _rewrite(artifact, path, change)
        with pytest.raises(ArtifactError, match=expected):
            ServingModel.load(path)
    broken = tmp_path / "broken.npz"
    with zipfile.ZipFile(broken, "w") as zf:
        zf.writestr("__manifest__.npy", b"not an array")
    with pytest.raises(ArtifactError):
        ServingModel.load(broken)
    with pytest.raises(ArtifactError, match="item ids"):
        save_artifact(io.BytesIO(), items=["only-one"], **dict(zip(
            ("arch", "params", "constants"), random_model(synthetic_log(seed=3)), strict=True)))


def test_serving_never_imports_keras(artifact):
    code = (
        "import sys, numpy as np\n"
        "from cart_recommender.ml.serving import ServingModel\n"
        f"m = ServingModel.load({str(artifact)!r})\n"
        "m.score(np.array([0, 1]))\n"
        "bad = [k for k in ('keras', 'tensorflow', 'django') if k in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_queries_are_encoded_like_training_examples(log):
    arch, _, _ = random_model(log)
    q = Query(np.array([3, 3, 1], np.int32), History(), 0.0)
    x = query_inputs([q], arch)
    assert x["cart"][0, :2].tolist() == [3, 1] and (x["cart"][0, 2:] == arch.n_items).all()
    assert x["own"][0] == 0 and x["target"][0] == arch.n_items
