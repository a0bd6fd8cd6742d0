"""The background-thread helper: every item, in order, consumed lazily."""

from cart_recommender.serving.background import yielding


def test_yielding_passes_every_item_in_order_and_lazily():
    consumed = []

    def source():
        for i in range(1000):
            consumed.append(i)
            yield i

    it = yielding(source(), every=7)
    assert [next(it) for _ in range(10)] == list(range(10))
    assert consumed == list(range(10))  # nothing read ahead of the consumer
    assert list(it) == list(range(10, 1000))


def test_yielding_an_empty_iterable():
    assert list(yielding([])) == []
