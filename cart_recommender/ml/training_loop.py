"""One training run: fresh leave-one-out examples each epoch, early stopping, budgets, cancel.

The run trains once. The most recent ``val_fraction`` of orders is held out (a time-based
split) and ranked against the full catalog after every epoch; the weights of the best epoch by
validation NDCG@10 are kept. The run stops early when validation stops improving for
``patience`` epochs, when the time budget is spent, or when ``should_stop()`` says so (checked
every few batches, so a cancel from the admin takes effect within seconds). The first epoch
always completes unless cancelled (``max_examples_per_epoch`` bounds its length), so a tight
budget on a busy machine still yields a model. After the fit, the weight of the item-to-item
term (:mod:`cart_recommender.ml.itemitem`) and an extra weight of the repeat window's decayed
frequency are chosen on the same validation split.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import numpy as np

from cart_recommender.ml import itemitem, reranker
from cart_recommender.ml.config import EpochCallback, TrainingConfig, TrainingHistory, TrainingStopped
from cart_recommender.ml.data import EventLog
from cart_recommender.ml.examples import draw_examples
from cart_recommender.ml.features import co_purchase
from cart_recommender.ml.keras_network import build_network, load_keras
from cart_recommender.ml.metrics import metrics_from_ranks
from cart_recommender.ml.network import NEIGHBOUR_CONSTANTS, Architecture
from cart_recommender.ml.numpy_ops import NUMPY_OPS
from cart_recommender.ml.preparation import prepare
from cart_recommender.ml.serving import fold_content, forward_numpy

#: Weights of the item-to-item term tried on the validation split (0: leave it out).
ALPHAS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0)
#: Extra weights of the repeat window's decayed purchase frequency tried on the same split.
GAMMAS = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0)
#: Weights of the content-neighbour term (repeats' siblings in content) tried on the same split.
KAPPAS = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)


Mix = tuple[float, float, float]


def _parts(
    params: dict[str, np.ndarray], arch: Architecture, constants: dict[str, np.ndarray],
    x: dict[str, np.ndarray], item_item: itemitem.ItemItem | None, mixes: tuple[Mix, ...], step: int = 512,
) -> Iterator[tuple[dict[str, np.ndarray], Callable[[Mix], np.ndarray]]]:
    """Per batch of ``x``: the batch and a function from ``(alpha, gamma, kappa)`` to its scores
    (B, n_items), cart items at ``-inf``: the model's scores plus ``alpha`` times the
    ``item_item`` scores plus ``gamma`` times the repeat window's decayed frequency plus
    ``kappa`` times the content-neighbour lift (the network's own term at weight 1).

    Scored with the NumPy forward pass (what serving runs), which also spares Keras tracing a
    second (predict) graph every training run.
    """
    params, constants, arch = fold_content(params, constants, arch)
    total = x["target"].shape[0]
    rows = np.arange(step)
    n = arch.n_items
    for lo in range(0, total, step):
        part = {name: value[lo : lo + step] for name, value in x.items()}
        m = part["target"].shape[0]
        base = np.concatenate(
            [forward_numpy(params, constants, part, arch), np.zeros((m, 1), np.float32)], axis=1
        )
        base[rows[:m, None], part["cart"]] = -np.inf  # padding lands in the extra column
        base = base[:, :n]
        extra = None
        if item_item is not None:  # from the term's own, wider cart window, as serving reads it
            extra = itemitem.scores(item_item, part.get("ii_cart", part["cart"]), n)
        repeat = None
        if arch.repeat_window and any(mix[1] for mix in mixes):
            repeat = np.zeros((m, n + 1), np.float32)
            repeat[rows[:m, None], part["rp_item"]] = part["rp_feat"][..., 0]
            repeat = repeat[:, :n]
        siblings = None
        if arch.content_neighbours and any(mix[2] for mix in mixes):
            lift = constants["ct_sim"][part["rp_item"]] * part["rp_feat"][..., :1]
            siblings = NUMPY_OPS.scatter_rows(constants["ct_nbr"][part["rp_item"]].reshape(m, -1),
                                              lift.reshape(m, -1), n + 1)[:, :n]

        def mixed(mix: Mix, base: np.ndarray = base, extra: np.ndarray | None = extra,
                  repeat: np.ndarray | None = repeat, siblings: np.ndarray | None = siblings) -> np.ndarray:
            alpha, gamma, kappa = mix
            scores = base
            if extra is not None and alpha:
                scores = scores + np.float32(alpha) * extra
            if repeat is not None and gamma:
                scores = scores + np.float32(gamma) * repeat
            if siblings is not None and kappa:
                scores = scores + np.float32(kappa) * siblings
            return scores

        yield part, mixed


def _ranking(
    params: dict[str, np.ndarray], arch: Architecture, constants: dict[str, np.ndarray],
    x: dict[str, np.ndarray], item_item: itemitem.ItemItem | None = None,
    mixes: tuple[Mix, ...] = ((0.0, 0.0, 0.0),), k: int = 10,
) -> list[tuple[float, float]]:
    """HR@k and NDCG@k of ``x["target"]`` against the full catalog (cart items excluded), for
    each mix of :func:`_parts`."""
    hits = np.zeros(len(mixes))
    gains = np.zeros(len(mixes))
    total = x["target"].shape[0]
    for part, mixed in _parts(params, arch, constants, x, item_item, mixes):
        m = part["target"].shape[0]
        for a, mix in enumerate(mixes):
            scores = mixed(mix)
            mine = scores[np.arange(m), part["target"]]
            rank = (scores > mine[:, None]).sum(axis=1)
            hit = rank < k
            hits[a] += float(hit.sum())
            gains[a] += float((hit / np.log2(rank + 2.0)).sum())
    return [(h / max(total, 1), g / max(total, 1)) for h, g in zip(hits, gains, strict=True)]


def _weights(model: Any) -> dict[str, np.ndarray]:
    return {name: np.asarray(var.numpy(), np.float32) for name, var in model.p.items()}


class _MixtureSearch:
    """Choose, on the validation split, the item-to-item term's alpha, how much more the repeat
    window's decayed frequency should weigh (gamma, added to its linear weight) and the content
    neighbours' kappa; refit the item-to-item weights on all baskets.

    A coordinate search (alpha, gamma, kappa, then alpha again): the network trains without the
    post-fit terms, and stops early when its own validation score peaks, so no weight is right
    out of the fit. Without a validation split, or when a weight of 0 wins, its term is left
    out (alpha, kappa); gamma 0 leaves the weights as trained.
    """

    def __init__(self, data: dict[str, Any], arch: Architecture, constants: dict[str, np.ndarray]) -> None:
        self.data = data
        self.tuned: itemitem.ItemItem | None = data["item_item"]
        self.plain = {name: value for name, value in constants.items() if not name.startswith("ii_")}
        self.dropped = replace(arch, item_item=0, item_item_rows=0)
        self.with_ii = bool(arch.item_item and self.tuned is not None and self.tuned.covered)
        self.scoring = {**constants, "ii_alpha": np.zeros(1, np.float32)} if self.with_ii else self.plain
        self.scoring_arch = arch if self.with_ii else self.dropped
        self.alphas = ALPHAS if self.with_ii else (0.0,)
        self.gammas = GAMMAS if arch.repeat_window else (0.0,)
        self.kappas = KAPPAS if arch.content_neighbours and arch.repeat_window else (0.0,)
        self.order = [(name, grid) for name, grid in (("alpha", self.alphas), ("gamma", self.gammas),
                                                      ("kappa", self.kappas), ("alpha", self.alphas))
                      if len(grid) > 1]
        self.per_mix_s = 0.0  # one weight's share of a search pass, once cost() has timed one
        self.chosen: Mix = (0.0, 0.0, 0.0)  # what run() chose

    def _search(self, params: dict[str, np.ndarray], val_x: dict[str, np.ndarray],
                mixes: list[tuple[float, float, float]]) -> list[float]:
        found = _ranking(params, self.scoring_arch, self.scoring, val_x,
                         item_item=self.tuned if self.with_ii else None, mixes=tuple(mixes))
        return [ndcg for _hr, ndcg in found]

    def cost(self, params: dict[str, np.ndarray], val_x: dict[str, np.ndarray]) -> float:
        """Seconds the search will take, from timing its largest pass once."""
        if not self.order:
            return 0.0
        widest = max(len(grid) for _name, grid in self.order)
        timed = time.monotonic()
        self._search(params, val_x, [(self.alphas[i % len(self.alphas)], 0.0, 0.0) for i in range(widest)])
        self.per_mix_s = (time.monotonic() - timed) / widest
        return self.per_mix_s * sum(len(grid) for _name, grid in self.order)

    def run(
        self, config: TrainingConfig, params: dict[str, np.ndarray], val_x: dict[str, np.ndarray] | None,
        history: TrainingHistory, deadline: float = float("inf"),
    ) -> tuple[Architecture, dict[str, np.ndarray], dict[str, np.ndarray]]:
        """The search; the second alpha pass (a refinement) is skipped when it would end the
        fit after ``deadline`` (a ``time.monotonic()`` value), the recounts included."""
        if val_x is None:
            return self._without_kappa(self.dropped), self._without_kappa_constants(self.plain), params
        chosen = {"alpha": 0.0, "gamma": 0.0, "kappa": 0.0}
        by_alpha: list[float] = []
        recounts = self.data["item_item_s"] + self.data["co_purchase_s"]
        for n, (step, grid) in enumerate(self.order):
            if (n == len(self.order) - 1 and n and step == "alpha"
                    and time.monotonic() + self.per_mix_s * len(grid) + recounts > deadline):
                history.after_fit["skipped"] = "the second alpha pass (time budget)"
                continue
            tried = self._search(params, val_x, [
                (value if step == "alpha" else chosen["alpha"], value if step == "gamma" else chosen["gamma"],
                 value if step == "kappa" else chosen["kappa"]) for value in grid])
            chosen[step] = grid[int(np.argmax(tried))]  # the first best: the smallest weight
            curve = {str(v): round(t, 5) for v, t in zip(grid, tried, strict=True)}
            if step == "alpha":
                by_alpha = tried
            elif step == "gamma":
                history.repeat_mix = {"gamma": chosen["gamma"], "val_ndcg": curve}
            else:
                history.content_mix = {"kappa": chosen["kappa"], "val_ndcg": curve}
        alpha, gamma, kappa = chosen["alpha"], chosen["gamma"], chosen["kappa"]
        self.chosen = (alpha, gamma, kappa)
        if gamma:
            params = {**params, "rp_lin": params["rp_lin"] + np.float32(gamma) * np.eye(
                len(params["rp_lin"]), dtype=np.float32)[0]}
        plain, dropped = self.plain, self.dropped
        if kappa:
            plain = {**plain, "ct_kappa": np.array([kappa], np.float32)}
        else:
            plain, dropped = self._without_kappa_constants(plain), self._without_kappa(dropped)
        if not self.with_ii:
            return dropped, plain, params
        tuned = self.tuned
        history.item_item = {
            "ridge": round(tuned.ridge, 3), "covered": tuned.covered, "alpha": alpha,
            "val_ndcg": {str(a): round(v, 5) for a, v in zip(self.alphas, by_alpha, strict=True)},
        }
        if alpha == 0:
            return dropped, plain, params
        baskets = self.data["baskets"]
        sizes = baskets.sizes()
        every = np.flatnonzero((sizes >= 1) & (sizes <= config.pair_max_basket))
        arch = replace(self.scoring_arch, content_neighbours=dropped.content_neighbours)
        final = itemitem.fit(
            baskets, arch.n_items, every, arch.item_item, config.item_item_max_items, ridge=tuned.ridge,
        )
        return replace(arch, item_item_rows=final.rows), {
            **plain, "ii_item": final.item, "ii_weight": final.weight, "ii_row": final.row,
            "ii_alpha": np.array([alpha], np.float32),
        }, params

    def candidate_lists(
        self, params: dict[str, np.ndarray], x: dict[str, np.ndarray], category: np.ndarray,
        popularity: np.ndarray, k: int, pool: reranker.ContentPool | None = None, window: int = 0,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The reranker's training lists: candidate features and the hidden item's position
        among them (-1: not a candidate) for the examples of ``x`` with a repeat window, scored
        with the weights :meth:`run` chose and the item-to-item term fitted without the
        validation orders (``params``: as trained, before the repeat weight is folded in)."""
        n = self.scoring_arch.n_items
        k = min(k, n)
        window = min(window, self.scoring_arch.repeat_window)
        width = k + window + (min(pool.extra, n) if pool is not None else 0)
        features = [np.zeros((0, width, len(reranker.feature_names(pool is not None))), np.float32)]
        where = [np.zeros(0, np.int64)]
        item_item = self.tuned if self.with_ii else None
        for part, mixed in _parts(params, self.scoring_arch, self.scoring, x, item_item, (self.chosen,)):
            rows = np.flatnonzero(reranker.has_window(part, n))
            if not rows.size:
                continue
            sub = {name: part[name][rows] for name in ("cart", "rp_item", "rp_feat")}
            scores = mixed(self.chosen)[rows]
            codes, found = reranker.candidate_features(scores, sub, n, category, popularity, k, pool=pool,
                                                       window=window)
            features.append(found)
            where.append(reranker.target_positions(codes, part["target"][rows]))
        return np.concatenate(features), np.concatenate(where)

    @staticmethod
    def _without_kappa(arch: Architecture) -> Architecture:
        return replace(arch, content_neighbours=0)

    @staticmethod
    def _without_kappa_constants(constants: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {name: value for name, value in constants.items() if name not in NEIGHBOUR_CONSTANTS}


#: Seconds reserved for fitting the reranker twice (measured: 3-6 s for 6,000 lists on 2 cores).
RERANK_FIT_S = 12.0
#: Its lists cost this many validation rankings per as many examples (the scores, then the
#: candidates' features; measured on Online Retail, where 1.0 ran 7 s past the budget).
RERANK_SCORING = 1.5
#: Fewer training lists than this (validation examples whose hidden item is a candidate) and
#: no reranker is fitted: it would learn noise.
RERANK_MIN_LISTS = 200


def category_codes(log: EventLog, n: int) -> np.ndarray:
    """int32 (n,): a code per product for its category path (one code for all without content)."""
    if log.content is None:
        return np.zeros(n, np.int32)
    _names, codes = np.unique(np.asarray([c or "" for c in log.content.category[:n]], dtype=str),
                              return_inverse=True)
    return codes.astype(np.int32)


def _ndcg_at_10(positions: np.ndarray) -> float:
    """NDCG@10 of hidden items at 0-based ``positions`` (one relevant item per list)."""
    return float(metrics_from_ranks(positions + 1, ())["ndcg@10"])


def _with_reranker(
    search: _MixtureSearch, trained: dict[str, np.ndarray], x: dict[str, np.ndarray], log: EventLog,
    seen: dict[str, np.ndarray], model: tuple[Architecture, dict[str, np.ndarray], dict[str, np.ndarray]],
    config: TrainingConfig, history: TrainingHistory,
) -> tuple[Architecture, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Fit the reranker on four fifths of the validation lists; keep it only if it orders the
    other fifth better than the model does (NDCG@10 among the candidates), and then fit it
    again on every list.

    ``seen``: the constants the network trained with (popularity without the validation orders,
    as the lists were scored); ``model``: the architecture, constants and weights after the
    weight search, returned with the reranker added or unchanged.
    """
    started = time.monotonic()
    arch, constants, params = model
    n = arch.n_items
    category = category_codes(log, n)
    pool = search.data["rerank_pool"]
    features, where = search.candidate_lists(trained, x, category, np.log1p(seen["item_count"][:n]),
                                             config.rerank_candidates, pool, config.rerank_window)
    found = np.flatnonzero(where >= 0)
    top_k = min(config.rerank_candidates, n)
    window = min(config.rerank_window, arch.repeat_window)
    extra = int(features.shape[1]) - top_k - window  # candidates by content (0 without a pool)
    report: dict[str, Any] = {"candidates": top_k, "lists": int(len(where)), "with_target": int(found.size)}
    if window:  # and how many hidden products only the window, or only the likeness, made candidates
        by_window = int(((where >= top_k) & (where < top_k + window)).sum())
        report.update(window_candidates=window, by_window=by_window)
    if pool is not None:
        report.update(by_content_candidates=extra, by_content=int((where >= top_k + window).sum()))
    if found.size < RERANK_MIN_LISTS:
        history.rerank = {**report, "kept": False, "why": f"fewer than {RERANK_MIN_LISTS} lists"}
        return model
    held, fit_rows = found[: found.size // 5], found[found.size // 5 :]
    fitted = reranker.fit(features[fit_rows], where[fit_rows], seed=config.seed)
    scores = np.where(reranker.slots(features[held]), fitted.score(features[held]), -np.inf)
    mine = scores[np.arange(held.size), where[held]]
    after = _ndcg_at_10((scores > mine[:, None]).sum(axis=1))
    before = _ndcg_at_10(where[held])
    kept = after > before
    history.rerank = {**report, "held_out": int(held.size), "kept": bool(kept),
                      "val_ndcg": {"model": round(before, 5), "reranked": round(after, 5)},
                      "seconds": round(time.monotonic() - started, 1)}
    if not kept:
        return model
    fitted = reranker.fit(features[found], where[found], seed=config.seed)  # now on every list
    history.rerank["seconds"] = round(time.monotonic() - started, 1)
    constants = {**constants, "rr_cat": np.append(category, 0).astype(np.int32)}
    arch = replace(arch, rerank=top_k, rerank_window=window)
    if pool is not None and extra:
        constants.update(rr_nbr=pool.neighbour, rr_sim=pool.similarity)
        arch = replace(arch, rerank_neighbours=int(pool.neighbour.shape[1]), rerank_content=extra)
    return arch, constants, {**params, **fitted.weights}


def train(
    log: EventLog,
    config: TrainingConfig,
    progress: EpochCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[Architecture, dict[str, np.ndarray], dict[str, np.ndarray], TrainingHistory]:
    """Fit the model on ``log``; return its architecture, weights, constants and history."""
    started = time.monotonic()
    keras = load_keras()
    keras.utils.set_random_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    data = prepare(log, config)
    arch: Architecture = data["arch"]
    n = arch.n_items
    sampled = n > config.full_softmax_max_items
    logq = None
    if sampled:
        q = config.batch_size * data["item_prob"] + config.negatives / n
        logq = np.log(q).astype(np.float32)
    model = build_network(arch, data["constants"], config, logq)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=config.learning_rate, clipnorm=5.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=False,  # XLA on CPU: slower to compile and, measured, 2x slower per step
    )
    history = TrainingHistory()
    val_x = rerank_x = None
    if len(data["val"].rows):
        # one draw for both: the first max_val_examples (the same ones with or without a reranker)
        # judge the epochs and the weights, and up to rerank_examples train the reranker
        drawn = draw_examples(
            data["baskets"], data["val"], arch, np.random.default_rng(config.seed + 1),
            per_basket=10**9, counted=data["counted"],
            limit=max(config.max_val_examples, config.rerank_examples),
        )
        val_x = {name: value[: config.max_val_examples] for name, value in drawn.items()}
        if config.rerank_candidates and arch.repeat_window:
            rerank_x = {name: value[: config.rerank_examples] for name, value in drawn.items()}

    # What comes after the epochs must fit in the budget too: the weight search (three
    # validation passes over 14, 10 and 14 weights; the first is timed once, after the first
    # epoch) and the recounts on every basket (about as long as those prepare() made).
    # An epoch cut short by the budget is still validated: one more ranking (rank_s).
    search = _MixtureSearch(data, arch, data["constants"])
    after_fit_s = [data["item_item_s"] + data["co_purchase_s"]]
    rank_s = [0.0]

    def reserved() -> float:  # with a tenth more for the estimate's error (measured: 6%)
        return 1.1 * (after_fit_s[0] + rank_s[0])

    def out_of_time() -> bool:
        return time.monotonic() - started > config.time_budget_s - reserved()

    class Guard(keras.callbacks.Callback):
        reason = ""

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            if batch % config.check_every_batches:
                return
            if should_stop is not None and should_stop():
                Guard.reason = "cancelled"
            elif history.loss and out_of_time():  # the first epoch always completes
                Guard.reason = "time_budget"
            if Guard.reason:
                self.model.stop_training = True

    best, best_weights, waited = -1.0, None, 0
    b = config.batch_size
    for epoch in range(config.max_epochs):
        if should_stop is not None and should_stop():
            Guard.reason = "cancelled"
        if Guard.reason or (history.loss and out_of_time()):
            history.stopped = Guard.reason or "time_budget"
            break
        x = draw_examples(
            data["baskets"], data["train"], arch, rng, config.targets_per_basket,
            data["counted"], limit=config.max_examples_per_epoch,
        )
        usable = (x["target"].shape[0] // b) * b
        if usable == 0:
            break
        x = {name: value[:usable] for name, value in x.items()}
        y = np.tile(np.arange(b, dtype=np.int32), usable // b) if sampled else x["target"]
        fit = model.fit(x, y, batch_size=b, epochs=1, shuffle=False, verbose=0, callbacks=[Guard()])
        if Guard.reason == "cancelled":  # a partial epoch: keep the best finished one
            history.stopped = "cancelled"
            break
        history.loss.append(float(fit.history["loss"][-1]))
        history.examples_seen += usable
        if val_x is not None:
            ranked = time.monotonic()
            hr, ndcg = _ranking(_weights(model), arch, data["constants"], val_x)[0]
            rank_s[0] = time.monotonic() - ranked
            if epoch == 0:
                after_fit_s[0] += search.cost(_weights(model), val_x)
                if rerank_x is not None:  # scoring its lists and describing them, then its fits
                    lists = rerank_x["target"].shape[0] / val_x["target"].shape[0]
                    after_fit_s[0] += RERANK_SCORING * rank_s[0] * lists + RERANK_FIT_S
        else:
            hr, ndcg = 0.0, -history.loss[-1]
        history.val_hr.append(hr)
        history.val_ndcg.append(ndcg)
        if ndcg > best:
            best, best_weights, waited = ndcg, model.get_weights(), 0
            history.best_epoch = epoch
        else:
            waited += 1
        if progress is not None:
            progress(epoch + 1, config.max_epochs, history.loss[-1], time.monotonic() - started)
        if waited >= config.patience:
            history.stopped = "early_stopping"
            break
    else:
        history.stopped = "max_epochs"
    if best_weights is None:
        raise TrainingStopped(f"training stopped before the first epoch finished ({history.stopped})")
    fitted = time.monotonic()
    model.set_weights(best_weights)
    trained = _weights(model)
    deadline = started + config.time_budget_s
    arch, constants, params = search.run(config, trained, val_x, history, deadline=deadline)
    if rerank_x is not None:
        if time.monotonic() + RERANK_FIT_S + data["co_purchase_s"] > deadline:
            history.rerank = {"kept": False, "why": "time budget"}
        else:
            arch, constants, params = _with_reranker(
                search, trained, rerank_x, log, data["constants"], (arch, constants, params), config, history)
    if len(data["val"].rows):  # the artifact counts co-purchases over every basket
        co = co_purchase(data["baskets"], arch.n_items, arch.neighbours, config.pair_max_basket)
        constants.update(nbr_item=co.neighbour, nbr_count=co.count, item_count=co.item_count)
    if data["content_vocab"] is not None:
        constants["ct_vocab"] = data["content_vocab"]
    history.after_fit.update(reserved_s=round(after_fit_s[0], 1), took_s=round(time.monotonic() - fitted, 1))
    history.seconds = time.monotonic() - started
    return arch, params, constants, history
