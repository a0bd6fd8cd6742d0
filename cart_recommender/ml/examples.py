"""Training examples made exactly like the evaluation queries, and queries made into inputs.

A training example is one purchase order with one item held out: the cart is the order's
other items (an unordered set, shuffled before truncation), the history is what the shopper
did before the order, the label is the held-out item. Each epoch draws fresh held-out items,
so a large order yields many different examples over the epochs without blowing up one epoch.

No Keras, no Django.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cart_recommender.ml.data import EventLog, History, Query
from cart_recommender.ml.features import (
    REPEAT_FEATURES,
    Baskets,
    RepeatState,
    cart_tokens,
    history_tokens,
    repeat_window,
)
from cart_recommender.ml.network import Architecture


class BasketHistories:
    """Per-basket history tokens and repeat windows, computed once per training run (they do
    not change)."""

    def __init__(self, log: EventLog, baskets: Baskets, arch: Architecture, rows: np.ndarray) -> None:
        n, length = arch.n_items, arch.max_history
        self.rows = rows
        self.item = np.full((rows.size, length), n, np.int32)
        self.age = np.zeros((rows.size, length), np.int32)
        self.count = np.zeros((rows.size, length), np.int32)
        self.kind = np.zeros((rows.size, length), np.int32)
        window = arch.repeat_window
        self.rp_item = np.full((rows.size, window), n, np.int32)
        self.rp_feat = np.zeros((rows.size, window, REPEAT_FEATURES), np.float32)
        if window:
            self._repeat_windows(baskets, rows, window, n)
        if length == 0:
            return
        known = log.shopper >= 0
        ev = np.flatnonzero(known)
        ev = ev[np.lexsort((log.time[ev], log.shopper[ev]))]
        ev_shopper, ev_time = log.shopper[ev], log.time[ev]
        for r, b in enumerate(rows):
            s = baskets.shopper[b]
            if s < 0:
                continue
            lo = np.searchsorted(ev_shopper, s, side="left")
            hi = np.searchsorted(ev_shopper, s, side="right")
            end = lo + np.searchsorted(ev_time[lo:hi], baskets.time[b], side="left")
            prior = ev[max(lo, end - 20 * length) : end]
            if prior.size:
                tok = history_tokens(
                    log.item[prior], log.time[prior], log.kind[prior], baskets.time[b], length, n
                )
                self.item[r], self.age[r], self.count[r], self.kind[r] = tok

    def _repeat_windows(self, baskets: Baskets, rows: np.ndarray, window: int, n: int) -> None:
        """Walk each shopper's orders once: the window of order ``j`` is the state after the
        orders before it (the same summary :func:`repeat_window` makes of a served history)."""
        slot = {int(b): r for r, b in enumerate(rows)}
        wanted = np.unique(baskets.shopper[rows])
        mine = np.flatnonzero(np.isin(baskets.shopper, wanted[wanted >= 0]))
        if not mine.size:  # no example of a known shopper (e.g. no validation split): nothing to walk
            return
        mine = mine[np.lexsort((mine, baskets.shopper[mine]))]  # by shopper, then time
        bounds = np.flatnonzero(np.r_[True, np.diff(baskets.shopper[mine]) != 0, True])
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            orders = mine[lo:hi]
            parts = [baskets.item[baskets.start[b] : baskets.start[b + 1]] for b in orders]
            state = RepeatState(np.unique(np.concatenate(parts)))
            for b, items in zip(orders, parts, strict=True):
                r = slot.get(int(b))
                if r is not None:
                    self.rp_item[r], self.rp_feat[r] = state.window(baskets.time[b], window, n)
                state.add(items, baskets.time[b])


def draw_examples(
    baskets: Baskets,
    hist: BasketHistories,
    arch: Architecture,
    rng: np.random.Generator,
    per_basket: int,
    counted: np.ndarray,
    limit: int | None = None,
) -> dict[str, np.ndarray]:
    """Leave-one-out examples: up to ``per_basket`` held-out items from each basket in ``hist``.

    ``counted[b]`` says whether basket ``b`` was included in the co-purchase counts (then the
    model removes its own contribution, so an example never sees itself in the features).
    """
    c_len, ii_len = arch.max_cart, arch.item_item_cart
    carts, ii_carts, targets, rows = [], [], [], []
    for r, b in enumerate(hist.rows):
        items = baskets.item[baskets.start[b] : baskets.start[b + 1]]
        k = items.size
        m = min(per_basket, k)
        picks = rng.choice(k, size=m, replace=False)
        for t in picks:
            others = np.delete(items, t)
            rng.shuffle(others)
            cart, ii_cart = cart_windows(others, arch)
            carts.append(cart)
            if ii_cart is not None:
                ii_carts.append(ii_cart)
            targets.append(items[t])
            rows.append(r)
    order = rng.permutation(len(targets))
    if limit is not None:
        order = order[:limit]
    rows_a = np.asarray(rows, np.int64)[order]
    out = {
        "cart": np.asarray(carts, np.int32).reshape(-1, c_len)[order],
        "hist_item": hist.item[rows_a],
        "hist_age": hist.age[rows_a],
        "hist_count": hist.count[rows_a],
        "hist_kind": hist.kind[rows_a],
        "target": np.asarray(targets, np.int32)[order],
        "own": counted[hist.rows[rows_a]].astype(np.float32),
    }
    if arch.repeat_window:
        out["rp_item"], out["rp_feat"] = hist.rp_item[rows_a], hist.rp_feat[rows_a]
    if arch.item_item:
        out["ii_cart"] = np.asarray(ii_carts, np.int32).reshape(-1, ii_len)[order]
    return out


def cart_windows(cart: np.ndarray, arch: Architecture) -> tuple[np.ndarray, np.ndarray | None]:
    """The encoder's cart tokens and, with an item-to-item term, that term's wider window.

    Both are prefixes of the same distinct items, so one pass makes both.
    """
    if not arch.item_item:
        return cart_tokens(cart, arch.max_cart, arch.n_items), None
    wide = cart_tokens(cart, max(arch.max_cart, arch.item_item_cart), arch.n_items)
    return wide[: arch.max_cart], wide[: arch.item_item_cart]


def query_inputs(queries: Sequence[Query], arch: Architecture) -> dict[str, np.ndarray]:
    """Encode serving/evaluation queries (no label, nothing to remove from the counts)."""
    n, q = arch.n_items, len(queries)
    out = {
        "cart": np.full((q, arch.max_cart), n, np.int32),
        "hist_item": np.full((q, arch.max_history), n, np.int32),
        "hist_age": np.zeros((q, arch.max_history), np.int32),
        "hist_count": np.zeros((q, arch.max_history), np.int32),
        "hist_kind": np.zeros((q, arch.max_history), np.int32),
        "target": np.full(q, n, np.int32),
        "own": np.zeros(q, np.float32),
    }
    if arch.item_item:
        out["ii_cart"] = np.full((q, arch.item_item_cart), n, np.int32)
    if arch.repeat_window:
        out["rp_item"] = np.full((q, arch.repeat_window), n, np.int32)
        out["rp_feat"] = np.zeros((q, arch.repeat_window, REPEAT_FEATURES), np.float32)
    windows: dict[tuple[int, float], tuple[np.ndarray, np.ndarray]] = {}
    for i, query in enumerate(queries):
        cart = np.asarray(query.cart)
        out["cart"][i], ii_cart = cart_windows(cart[(cart >= 0) & (cart < n)], arch)
        if ii_cart is not None:
            out["ii_cart"][i] = ii_cart
        h = query.history
        keep = (h.item >= 0) & (h.item < n) & (h.time <= query.time)
        if keep.any() and arch.max_history:
            tok = history_tokens(h.item[keep], h.time[keep], h.kind[keep], query.time, arch.max_history, n)
            out["hist_item"][i], out["hist_age"][i], out["hist_count"][i], out["hist_kind"][i] = tok
        if arch.repeat_window:
            # an order's leave-one-out queries share one history: summarise it once
            key = (id(h), query.time)
            if key not in windows:
                past = History(item=h.item[keep], time=h.time[keep], kind=h.kind[keep],
                               order=h.order[keep] if len(h.order) == len(h.item) else h.order)
                windows[key] = repeat_window(past, query.time, arch.repeat_window, n)
            out["rp_item"][i], out["rp_feat"][i] = windows[key]
    return out
