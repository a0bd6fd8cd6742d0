"""Segments benchmark: shopper segments on the shared real datasets, without Django.

For each behaviour-events CSV: the shopper features, the grouping (k chosen by silhouette from 3
to 12), the time each takes, peak memory, whether the same seed gives the same grouping, and how
stable the grouping is across seeds (shoppers left in their segment after matching seed 1's
groups to seed 2's). With ``--model`` the default sequence model is trained first (fit budget as
in a retrain) and its shopper vectors join the features, as in a retrain.

Usage::

    python benchmarks/segments.py ../shared/datasets/*.csv.gz --json benchmarks/out/segments.json
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cart_recommender.ml import segment_profiles as P  # noqa: E402
from cart_recommender.ml import segments as S  # noqa: E402
from cart_recommender.ml import shopper_features as F  # noqa: E402
from cart_recommender.ml.loading import load_event_log  # noqa: E402

DEFAULT = [ROOT.parent / "shared" / "datasets" / name
           for name in ("online_retail.csv.gz", "completejourney_dev.csv.gz", "groceries.csv.gz")]


def trained_model(log, seed: int):
    """Train the default model on the whole log and load it as serving does (as a retrain does)."""
    import tempfile

    from cart_recommender.ml.config import TrainingConfig
    from cart_recommender.ml.model import SequenceModel
    from cart_recommender.ml.serving import ServingModel

    model = SequenceModel(TrainingConfig(seed=seed, time_budget_s=200)).fit(log)  # a retrain's budget
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.npz"
        model.export(path)
        served = ServingModel.load(path)
    return served


def run(path: Path, seed: int, with_model: bool) -> dict:
    t0 = time.perf_counter()
    log = load_event_log(path).log
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    features = F.shopper_features(log)
    t_features = time.perf_counter() - t0
    out: dict = {"dataset": path.name, "shoppers": len(features), "load_s": round(t_load, 2),
                 "features_s": round(t_features, 2)}
    if len(features) < 50:
        out["skipped"] = f"{len(features)} shoppers with an order (anonymous receipts): no segments"
        return out
    used = ["rfm+repeat", "category mix" if features.mix.shape[1] > 1 else "no categories"]
    if with_model:
        t0 = time.perf_counter()
        served = trained_model(log, seed)
        item_map = np.asarray([served.item_index.get(i, -1) for i in log.items], np.int32)
        histories = F.shopper_histories(log, features.codes, item_map)
        features.vectors = F.principal_components(served.shopper_vectors(histories, float(log.time.max())))
        out["model_s"] = round(time.perf_counter() - t0, 1)
        used.append("model vectors")
    t0 = time.perf_counter()
    first = S.segment(features, seed=seed)
    out["segment_s"] = round(time.perf_counter() - t0, 2)
    again = S.segment(features, seed=seed)
    other = S.segment(features, seed=seed + 1)
    keeping = S.segment(features, seed=seed + 1, prefer_k=first.k)  # as a retrain does
    keys = [str(c) for c in features.codes]
    previous = {k: int(g) for k, g in zip(keys, first.labels, strict=True)}

    def kept_share(labels: np.ndarray) -> float:
        current = {k: int(g) for k, g in zip(keys, labels, strict=True)}
        mapping = S.match(previous, current)
        return round(sum(1 for k in keys if mapping.get(current[k], -1) == previous[k]) / len(keys), 4)

    profiles = P.profile(log, features, first.labels, first.k)
    overall = P.overall_profile(features)
    names: list[str] = []
    for p in profiles:
        names.append(P.suggest_name(p, overall, names))
    out.update({
        "features": used,
        "k": first.k,
        "silhouette": first.scores,
        "same_seed_same_grouping": bool(np.array_equal(first.labels, again.labels)),
        "other_seed_k": other.k,
        "other_seed_kept_share": kept_share(other.labels),
        "other_seed_prefer_k": keeping.k,
        "other_seed_prefer_kept_share": kept_share(keeping.labels),
        "segments": [{"name": n, "shoppers": p["shoppers"], "revenue_share": p["revenue_share"],
                      "aov": p["aov"], "orders_per_shopper": p["orders_per_shopper"],
                      "repeat_share": p["repeat_share"]} for n, p in zip(names, profiles, strict=True)],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    })
    return out


def table(results: list[dict]) -> str:
    lines = []
    for r in results:
        lines.append(f"\n{r['dataset']}: {r['shoppers']:,} shoppers with an order")
        if "skipped" in r:
            lines.append(f"  {r['skipped']}")
            continue
        lines.append(f"  features {r['features_s']} s, grouping {r['segment_s']} s (k = 3..12 tried), "
                     f"peak RSS {r['peak_rss_mb']} MB; reads {', '.join(r['features'])}")
        lines.append(f"  k = {r['k']} (silhouette {r['silhouette'][r['k']]:.3f}); same seed, same grouping: "
                     f"{r['same_seed_same_grouping']}; another seed: k = {r['other_seed_k']}, "
                     f"{100 * r['other_seed_kept_share']:.1f}% of shoppers in the matched segment; "
                     f"keeping the previous k as a retrain does: k = {r['other_seed_prefer_k']}, "
                     f"{100 * r['other_seed_prefer_kept_share']:.1f}%")
        head = f"  {'segment':58} {'shoppers':>8} {'revenue':>8} {'AOV':>8} {'orders':>7} {'repeat':>7}"
        lines.append(head)
        for s in r["segments"]:
            lines.append(f"  {s['name'][:58]:58} {s['shoppers']:8,} {100 * s['revenue_share']:7.1f}% "
                         f"{s['aov']:8.2f} {s['orders_per_shopper']:7.1f} {100 * s['repeat_share']:6.0f}%")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--model", action="store_true", help="train the model and add its shopper vectors")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = [run(path, args.seed, args.model) for path in (args.files or DEFAULT)]
    text = json.dumps(results, indent=2, default=str)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text)
    print(text)
    print(table(results))


if __name__ == "__main__":
    main()
