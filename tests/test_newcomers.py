"""A product added after the retrain reaches bundles by its content: same category and name
words as a cart product, in the last slot, with the "same range" reason; nothing else changes."""

from __future__ import annotations

import pytest

from cart_recommender.serving import catalog, sellable
from cart_recommender.serving.bundles import get_bundle
from tests.bundle_data import activate_model, fresh_serving, make_shop, recommender_settings  # noqa: F401
from tests.testapp.models import Article

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_serving")]


def trained_shop():
    """The hand-made shop with an active version serving its co-purchase arrays."""
    make_shop()
    return activate_model("copurchase")


def keys(bundle):
    return [i.product_id for i in bundle.items]


def test_a_new_product_in_the_same_range_takes_the_last_slot():
    trained_shop()
    before = get_bundle(["MUG1"], size=3, use_cache=False)
    assert "MUG9" not in keys(before)
    Article.objects.create(ean="MUG9", title="Blue mug large", price_cents=900, shelf="mugs")
    catalog.reset()
    sellable.reset()  # what another process sees within SELLABLE_REFRESH_SECONDS
    after = get_bundle(["MUG1"], size=3, use_cache=False)
    assert keys(after)[:2] == keys(before)[:2]  # the version's own picks keep their places
    assert keys(after)[2] == "MUG9"
    item = after.items[2]
    assert item.reason == "Goes with your Blue mug: same range" and item.source == "content"
    # a cart with nothing of its range does not get it; nor when the shop turns the slot off
    assert "MUG9" not in keys(get_bundle(["CAKE"], size=3, use_cache=False))
    with recommender_settings(NEW_PRODUCT_SLOTS=0):
        assert "MUG9" not in keys(get_bundle(["MUG1"], size=3, use_cache=False))


def test_one_shared_word_or_another_category_is_not_the_same_range():
    trained_shop()
    Article.objects.create(ean="CUP1", title="Blue cup", price_cents=500, shelf="mugs")  # 1 word
    Article.objects.create(ean="PLATE", title="Blue mug plate", price_cents=500, shelf="plates")
    Article.objects.create(ean="GONE", title="Blue mug old", price_cents=500, shelf="mugs", available=False)
    catalog.reset()
    sellable.reset()
    assert not {"CUP1", "PLATE", "GONE"} & set(keys(get_bundle(["MUG1"], size=3, use_cache=False)))


def test_words_and_matching_are_plain():
    from cart_recommender.ml.content import name_words, same_range

    assert name_words("Blue MUG, large (12)") == {"blue", "mug", "large", "12"}
    pool = {"mugs": [("a", name_words("Blue mug large")), ("b", name_words("Blue mug")),
                     ("c", name_words("Red cup"))]}
    cart = [("mugs", name_words("Blue mug small")), ("tea", name_words("Blue mug"))]
    assert same_range(cart, pool, limit=5) == [("b", 0, 2 / 3), ("a", 0, 0.5)]


def test_a_model_pick_like_a_cart_product_in_content_says_same_range():
    """A version whose reranker keeps content neighbours explains a pick nothing in the cart was
    bought with by the cart product it is most like: the reason a content-placed product gets."""
    from dataclasses import replace

    import numpy as np

    from cart_recommender.ml.reranker import weight_shapes

    make_shop()

    def like_the_cake(arch, params, constants, items):
        n = arch.n_items
        neighbour, similarity = np.full((n + 1, 2), n, np.int32), np.zeros((n + 1, 2), np.float32)
        neighbour[items.index("CAKE"), 0], similarity[items.index("CAKE"), 0] = items.index("BISC"), 0.7
        rng = np.random.default_rng(0)
        weights = {name: rng.standard_normal(shape).astype(np.float32)
                   for name, shape in weight_shapes(True).items()}
        weights["rr_sd"] = np.abs(weights["rr_sd"]) + 1.0
        constants = {**constants, "rr_cat": np.zeros(n + 1, np.int32), "rr_nbr": neighbour,
                     "rr_sim": similarity}
        arch = replace(arch, rerank=5, rerank_neighbours=2, rerank_content=2)
        return arch, {**params, **weights}, constants

    activate_model("model", tweak=like_the_cake)
    bundle = get_bundle(["CAKE"], size=5, use_cache=False)
    reasons = {i.product_id: (i.reason, i.source) for i in bundle.items}
    assert reasons["BISC"] == ("Goes with your Lemon cake: same range", "model")
    # no other product is like the cake, and none was ever bought with it
    others = {reason for key, (reason, source) in reasons.items() if key != "BISC" and source == "model"}
    assert others == {"Picked for your cart"}
