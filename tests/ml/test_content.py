"""Product content: tokens, the CSV columns that carry it, cold and new items in the protocol,
the category baseline, and the content term of the model (real Keras, NumPy agreement)."""

from __future__ import annotations

import gzip
import io

import numpy as np
import pytest

from cart_recommender.ml import protocol
from cart_recommender.ml.baselines import CategoryPopularity, Popularity
from cart_recommender.ml.config import TrainingConfig
from cart_recommender.ml.content import ItemContent, build_tokens, item_tokens
from cart_recommender.ml.data import EventLog, History, Query
from cart_recommender.ml.examples import query_inputs
from cart_recommender.ml.export import ArtifactError, save_artifact
from cart_recommender.ml.keras_network import build_network
from cart_recommender.ml.loading import load_event_log
from cart_recommender.ml.model import SequenceModel
from cart_recommender.ml.network import full_scores, item_rows, param_shapes
from cart_recommender.ml.numpy_ops import NUMPY_OPS
from cart_recommender.ml.preparation import prepare
from cart_recommender.ml.serving import ServingModel, fold_content, forward_numpy

#: Content is off by default (not yet better than the baselines on cold items); these turn it on.
CONTENT = {"content_tokens": 12, "content_neighbours": 4}
RANGES = ("Kitchen > Mugs", "Kitchen > Plates", "Garden > Tools", "Garden > Seeds")
COLOURS = ("blue", "red", "green", "white")


def test_tokens_hold_every_category_level_a_price_band_and_the_words():
    tokens = item_tokens("Blue Mug, 12 OZ (art. 123456)", "Kitchen > Mugs", 4.5)
    assert tokens[:2] == ["c:kitchen", "c:kitchen>mugs"]
    assert tokens[2].startswith("p:")
    assert {"w:blue", "w:mug", "w:12", "w:oz", "w:art"} <= set(tokens)
    assert "w:123456" not in tokens  # an article number is an id, not a word
    assert item_tokens("", "", float("nan")) == []
    # neighbouring prices share a band; a price twice as high does not
    assert item_tokens("", "", 4.5)[0] == item_tokens("", "", 4.8)[0] != item_tokens("", "", 9.0)[0]


def test_vocabulary_keeps_tokens_two_items_share_and_a_known_item_has():
    content = ItemContent(
        name=["blue mug", "red mug", "green vase", "green lamp"], category=[""] * 4,
        price=np.full(4, np.nan),
    )
    tokens = build_tokens(content, known=np.array([True, True, False, False]))
    # "mug": two items, known; "green": two items but neither known; "blue": one item
    assert set(tokens.vocab) == {"w:mug"}
    assert tokens.tokens.shape == (5, 12)  # one padding item at the end
    assert tokens.weights[0].sum() == pytest.approx(1.0) and tokens.weights[2].sum() == 0
    rows, weights = tokens.encode(ItemContent(["Yellow MUG"], [""], np.array([np.nan])))
    assert rows[0, 0] == tokens.vocab["w:mug"] and weights[0, 0] == 1.0


def test_csv_names_categories_and_prices_reach_the_log(tmp_path):
    path = tmp_path / "events.csv.gz"
    with gzip.open(path, "wt") as out:
        out.write("timestamp,user_id,session_id,event,item_id,order_id,quantity,price,item_name,category\n")
        out.write("2024-01-01T10:00:00Z,u1,,purchase,A,o1,1,2.50,Blue mug,Kitchen > Mugs\n")
        out.write("2024-01-01T10:00:00Z,u1,,purchase,B,o1,1,,Seeds,\n")
        out.write("2024-01-02T10:00:00Z,u2,,view,A,,1,,,\n")  # blank values keep what is known
    log = load_event_log(path).log
    a, b = log.items.index("A"), log.items.index("B")
    assert log.content.name[a] == "Blue mug" and log.content.category[a] == "Kitchen > Mugs"
    assert log.content.price[a] == 2.5 and np.isnan(log.content.price[b])


def shop(seed: int = 0, orders: int = 600, new_from: int = 480) -> EventLog:
    """Four ranges of 12 products; every order takes three from one range. Products 10 and 11
    of each range are only sold from order ``new_from`` on (new in the test period)."""
    rng = np.random.default_rng(seed)
    content = {}
    for r, path in enumerate(RANGES):
        for i in range(12):
            noun = path.split(" > ")[1].lower().rstrip("s")
            content[f"{r}-{i}"] = (f"{COLOURS[i % 4]} {noun} no{i}", path, 2.0 + r)
    records = []
    for o in range(orders):
        r = int(rng.integers(4))
        pool = np.arange(12 if o >= new_from else 10)
        for i in rng.choice(pool, 3, replace=False):
            records.append((o * 3600.0, f"s{o % 40}", "purchase", f"{r}-{i}", f"o{o}"))
    return EventLog.from_records(records, content=content)


def test_split_codes_new_items_after_the_catalog_and_reports_cold_and_new():
    split = protocol.split(shop())
    catalog = split.catalog
    assert catalog == 40 and split.train.n_items == 48 == split.dataset["items"]
    new_ids = {split.train.items[c] for c in range(catalog, 48)}
    assert new_ids == {f"{r}-{i}" for r in range(4) for i in (10, 11)}
    assert split.train.content.category[catalog] == RANGES[int(split.train.items[catalog][0])]

    class NewFirst(Popularity):
        """Popularity, but new items above everything: the headline must not see them."""

        name = "new_first"

        def score(self, queries):
            out = super().score(queries)
            out[:, catalog:] = 1e6
            return out

    report = protocol.evaluate([Popularity().fit(split.train), NewFirst().fit(split.train)], split)
    plain, boosted = report["results"]["popularity"], report["results"]["new_first"]
    assert boosted["hr@10"] == plain["hr@10"]  # protocol v1: new items are no candidates there
    is_new = split.targets >= catalog
    assert plain["by_item_age"]["new"]["queries"] == int(is_new.sum()) > 0
    assert boosted["by_item_age"]["new"]["hr@10"] == 1.0  # 8 new items, all in the top 10
    counts = np.bincount(np.concatenate([np.unique(split.train.item[split.train.order == o])
                                         for o in np.unique(split.train.order)]), minlength=48)
    cold = ~is_new & (counts[np.minimum(split.targets, 47)] <= protocol.COLD_MAX_ORDERS)
    assert plain["by_item_age"]["cold"]["queries"] == int(cold.sum())


def test_category_popularity_ranks_the_carts_categories_first():
    log = shop()
    scorer = CategoryPopularity().fit(log)
    mug = log.items.index("0-0")
    scores = scorer.score([Query(np.array([mug]), History(), 0.0)])[0]
    top = np.argsort(-scores)[:12]
    assert {log.content.category[c] for c in top} == {"Kitchen > Mugs"}
    # without categories it is popularity
    plain = EventLog(**{**log.__dict__, "content": None})
    query = [Query(np.array([mug]), History(), 0)]
    by_category = CategoryPopularity().fit(plain).score(query)[0]
    assert np.array_equal(np.argsort(-by_category, kind="stable"),
                          np.argsort(-Popularity().fit(plain).score(query)[0], kind="stable"))


def random_params(arch, seed=0):
    rng = np.random.default_rng(seed)
    return {name: (rng.standard_normal(shape) * 0.3).astype(np.float32)
            for name, (shape, _) in param_shapes(arch).items()}


def test_an_item_nobody_bought_is_scored_by_its_content_alone():
    split = protocol.split(shop())
    prepared = prepare(split.train, TrainingConfig(dim=8, max_history=4, neighbours=4, **CONTENT))
    arch, constants = prepared["arch"], prepared["constants"]
    assert arch.content_width and arch.content_vocab
    assert constants["id_known"][: split.catalog].all() and not constants["id_known"][split.catalog:].any()
    params = random_params(arch)
    new = split.catalog
    vec, bias = item_rows(NUMPY_OPS, params, constants, np.array([new]), arch)
    tokens, weights = constants["ct_tok"][new], constants["ct_w"][new]
    expected = (params["tok_emb"][tokens] * weights[:, None]).sum(axis=0)
    assert np.allclose(vec[0], expected)
    assert np.allclose(bias[0], (params["tok_bias"][tokens] * weights).sum())
    # folding the content into one table scores exactly the same
    queries = [Query(np.array([0, new]), History(), 0.0), Query(np.array([5]), History(), 0.0)]
    x = query_inputs(queries, arch)
    folded = fold_content(params, constants, arch)
    assert folded[2].content_width == 0 and "tok_emb" not in folded[0]
    assert np.allclose(full_scores(NUMPY_OPS, params, constants, x, arch),
                       forward_numpy(*folded[:2], x, folded[2]), atol=1e-5)


@pytest.fixture(scope="module")
def trained():
    split = protocol.split(shop(seed=1))
    config = TrainingConfig(seed=3, dim=16, heads=2, max_history=8, neighbours=8, batch_size=64,
                            max_epochs=6, patience=6, learning_rate=5e-3, time_budget_s=120, **CONTENT)
    return split, SequenceModel(config).fit(split.train)


@pytest.mark.slow
def test_keras_and_numpy_agree_with_content(trained):
    split, model = trained
    queries = split.queries[:40]
    net = build_network(model.arch, model.constants, model.config)
    for name, var in net.p.items():
        var.assign(model.params[name])
    x = query_inputs(queries, model.arch)
    keras_scores = np.asarray(net.predict_on_batch(x))
    numpy_scores = model.score(queries)
    finite = np.isfinite(numpy_scores) & (keras_scores > -1e8)
    assert np.abs(keras_scores[finite] - numpy_scores[finite]).max() < 1e-4


@pytest.mark.slow
def test_exported_content_model_serves_the_trained_scores(trained, tmp_path):
    split, model = trained
    assert model.arch.content_width and model.history.content_mix  # kappa was searched
    path = tmp_path / "model.npz"
    model.export(path)
    served = ServingModel.load(path)
    assert list(served.constants["ct_vocab"]) == list(model.constants["ct_vocab"])
    new = split.catalog  # a product first sold after the fit is scored, by its content
    queries = [Query(np.array([0, 1]), History(), 0.0), split.queries[0]]
    ours, theirs = model.score(queries), served.score_batch(queries)
    finite = np.isfinite(ours)
    assert np.array_equal(finite, np.isfinite(theirs)) and finite[:, new].all()
    assert np.allclose(ours[finite], theirs[finite], atol=1e-5)


def test_content_neighbours_lift_the_siblings_of_what_the_shopper_buys():
    """The post-fit term adds kappa x similarity x decayed frequency to each repeat's nearest
    items in content, and nothing anywhere else."""
    split = protocol.split(shop())
    prepared = prepare(split.train, TrainingConfig(dim=8, max_history=4, neighbours=4, **CONTENT))
    arch, constants = prepared["arch"], prepared["constants"]
    assert arch.content_neighbours == 4
    items = split.train.items
    green = items.index("0-2")  # "green mug no2": the new "green mug no10" is its sibling
    sibling = items.index("0-10")
    assert sibling in constants["ct_nbr"][green]
    near = [j for j in constants["ct_nbr"][green] if j < len(items)]
    assert {split.train.content.category[j] for j in near} == {RANGES[0]}
    history = History(item=np.array([green, green]), time=np.array([0.0, 86400.0]),
                      kind=np.array([4, 4], np.int8), order=np.array([1, 2]))
    query = Query(np.array([items.index("2-0")]), history, 2 * 86400.0)
    params = random_params(arch)
    x = query_inputs([query], arch)

    def scores(kappa: float) -> np.ndarray:
        weighted = {**constants, "ct_kappa": np.full(1, kappa, np.float32)}
        return full_scores(NUMPY_OPS, params, weighted, x, arch)[0]

    without, lifted = scores(0.0), scores(3.0)
    slot = list(x["rp_item"][0]).index(green)
    expected = np.zeros(len(items))
    for j, sim in zip(constants["ct_nbr"][green], constants["ct_sim"][green], strict=True):
        if j < len(items):
            expected[j] += 3.0 * sim * x["rp_feat"][0, slot, 0]
    assert expected[sibling] > 0
    assert np.allclose(lifted - without, expected, atol=1e-5)


def test_artifact_refuses_content_tokens_out_of_range(tmp_path):
    split = protocol.split(shop())
    prepared = prepare(split.train, TrainingConfig(dim=8, max_history=4, neighbours=4, **CONTENT))
    arch, constants = prepared["arch"], dict(prepared["constants"])
    constants["ct_vocab"] = prepared["content_vocab"]
    params = random_params(arch)
    good = io.BytesIO()
    save_artifact(good, items=split.train.items, arch=arch, params=params, constants=constants)
    good.seek(0)
    assert ServingModel.load(good).folded[2].content_width == 0
    bad = dict(constants, ct_tok=np.full_like(constants["ct_tok"], arch.content_vocab + 5))
    path = tmp_path / "bad.npz"
    save_artifact(path, items=split.train.items, arch=arch, params=params, constants=bad)
    with pytest.raises(ArtifactError, match="ct_tok"):
        ServingModel.load(path)
