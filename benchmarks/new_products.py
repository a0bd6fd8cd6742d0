"""New-products benchmark: the "same range" slot, measured on products first bought in the test period.

Serving gives a product added since the retrain the bundle's last slot when its category and at
least two name words match a cart product (``serving/newcomers.py``, through
``cart_recommender.ml.content.same_range``). This measures the same rule offline, on protocol
v1: the "new" queries hide a product first bought in the test period (ranked against every
product the file names), which no training event names, like a product added after a retrain.
For each base scorer, the slot puts the best such product in the same range as a cart product
at rank 10 (the top-10 list's last place), and the benchmark reports

* HR@10 on the new queries, without and with the slot;
* how often the slot fires (share of all queries), and the headline HR@10 once its cost is
  counted: when it fires, the catalog product at rank 10 drops to 11.

Usage::

    python benchmarks/new_products.py ../shared/datasets/completejourney_dev.csv.gz --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cart_recommender.ml import protocol  # noqa: E402
from cart_recommender.ml.baselines import CategoryPopularity, CoPurchase, order_counts  # noqa: E402
from cart_recommender.ml.content import name_words, same_range  # noqa: E402
from cart_recommender.ml.loading import load_event_log  # noqa: E402
from cart_recommender.ml.metrics import target_ranks, tie_priority  # noqa: E402
from cart_recommender.ml.repeat import RepeatDecay  # noqa: E402

DEFAULT = [ROOT.parent / "shared" / "datasets" / name
           for name in ("online_retail.csv.gz", "completejourney_dev.csv.gz")]
SLOT = 10


def slot_items(split: protocol.Split, common_share: float = 1.0, min_overlap: float = 0.0) -> np.ndarray:
    """Per query: the product unknown to training that the slot offers, or -1.

    ``common_share`` < 1: a word more than this share of a category's products carry (and more
    than 5) does not count ("national", "oz" on a grocery shelf); ``min_overlap``: the least
    Jaccard overlap of the words for the slot to fire. Serving uses 1 and 0 (see the docs).
    """
    content = split.train.content
    out = np.full(len(split.queries), -1, np.int64)
    if content is None:
        return out
    catalog = split.catalog
    words = [name_words(name) for name in content.name]
    common: dict[str, set[str]] = {}
    if common_share < 1.0:
        df: dict[str, Counter[str]] = {}
        for code, category in enumerate(content.category):
            if category:
                df.setdefault(category, Counter()).update(words[code])
        size = Counter(c for c in content.category if c)
        common = {c: {w for w, n in counts.items() if n > max(5, common_share * size[c])}
                  for c, counts in df.items()}

    def kept(code: int) -> frozenset[str]:
        return words[code] - common.get(content.category[code], set())

    pool: dict[str, list[tuple[int, frozenset[str]]]] = {}
    for code in range(catalog, split.train.n_items):
        if content.category[code] and kept(code):
            pool.setdefault(content.category[code], []).append((code, kept(code)))
    for row, query in enumerate(split.queries):
        cart = [(content.category[c], kept(c)) for c in np.asarray(query.cart).tolist() if c >= 0]
        found = same_range(cart, pool, limit=1)
        if found and found[0][2] >= min_overlap:
            out[row] = found[0][0]
    return out


def measure(split: protocol.Split, scorer, slot: np.ndarray) -> dict:
    n_items, catalog = split.train.n_items, split.catalog
    priority = tie_priority(order_counts(split.train), split.train.items)
    in_catalog = split.targets < catalog
    headline_targets = np.where(in_catalog, split.targets, -1)
    head, every = [], []
    step = max(1, 2_000_000 // max(n_items, 1))
    for lo in range(0, len(split.queries), step):
        batch = split.queries[lo:lo + step]
        scores = np.asarray(scorer.score(batch))
        carts = [q.cart for q in batch]
        head.append(target_ranks(scores[:, :catalog], headline_targets[lo:lo + step], carts,
                                 priority[:catalog]))
        every.append(target_ranks(scores, split.targets[lo:lo + step], carts, priority))
    head_ranks, all_ranks = np.concatenate(head), np.concatenate(every)
    new = ~in_catalog
    fires = slot >= 0
    # with the slot: the offered product sits at rank 10 (or stays where it was, if higher);
    # any other product ranked 10 or lower moves down one place
    hit_slot = fires & (slot == split.targets)
    with_slot = np.where(hit_slot, np.minimum(all_ranks, SLOT),
                         np.where(fires & (all_ranks >= SLOT), all_ranks + 1, all_ranks))
    head_with = np.where(fires & (head_ranks >= SLOT), head_ranks + 1, head_ranks)
    return {
        "hr@10": round(float(np.mean(head_ranks <= 10)), 4),
        "hr@10_with_slot": round(float(np.mean(head_with <= 10)), 4),
        "new_queries": int(new.sum()),
        "new_hr@10": round(float(np.mean(all_ranks[new] <= 10)), 4) if new.any() else 0.0,
        "new_hr@10_with_slot": round(float(np.mean(with_slot[new] <= 10)), 4) if new.any() else 0.0,
        "slot_fires": round(float(fires.mean()), 4),
    }


VARIANTS = {"serving rule": (1.0, 0.0), "common words out (5%)": (0.05, 0.0),
            "common words out (2%), overlap 0.5": (0.02, 0.5)}


def run(path: Path) -> dict:
    t0 = time.perf_counter()
    log = load_event_log(path).log
    split = protocol.split(log)
    out = {"dataset": path.name, "queries": len(split.queries), "catalog": split.catalog,
           "items": split.train.n_items, "methods": {}}
    scorers = [cls().fit(split.train) for cls in (CoPurchase, RepeatDecay, CategoryPopularity)]
    for variant, (share, overlap) in VARIANTS.items():
        slot = slot_items(split, share, overlap)
        for scorer in scorers:
            out["methods"][f"{scorer.name} / {variant}"] = measure(split, scorer, slot)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def table(results: list[dict]) -> str:
    lines = [f"{'dataset':28} {'method / slot rule':58} {'HR@10':>7} {'+slot':>7} {'new q':>6} "
             f"{'new HR@10':>9} "
             f"{'+slot':>7} {'fires':>6}"]
    for r in results:
        for name, m in r["methods"].items():
            lines.append(f"{r['dataset'][:28]:28} {name:58} {m['hr@10']:7.4f} {m['hr@10_with_slot']:7.4f} "
                         f"{m['new_queries']:6d} {m['new_hr@10']:9.4f} {m['new_hr@10_with_slot']:7.4f} "
                         f"{100 * m['slot_fires']:5.1f}%")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = [run(path) for path in (args.files or DEFAULT)]
    text = json.dumps(results, indent=2)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text)
    print(text)
    print(table(results))


if __name__ == "__main__":
    main()
