"""What each segment is, in a shop owner's words: figures counted from the log, and a first name.

Example::

    profiles = profile(log, features, seg.labels, seg.k)
    suggest_name(profiles[0], overall_profile(features))   # "Recent regulars, big orders"
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from cart_recommender.ml.data import PURCHASE, EventLog
from cart_recommender.ml.shopper_features import OTHER, ShopperFeatures, purchase_values


def profile(log: EventLog, features: ShopperFeatures, labels: np.ndarray, k: int,
            top: int = 5) -> list[dict[str, Any]]:
    """What each group is, as plain numbers (JSON-ready), in group order.

    Every figure is counted over the group's shoppers' purchases in ``log``: ``shoppers``,
    ``shopper_share``, ``revenue``, ``revenue_share``, ``orders``, ``aov`` (revenue / orders),
    ``orders_per_shopper``, ``median_recency_days``, ``repeat_share`` (of purchase lines),
    ``mix`` (spend share per category group, in ``features.groups`` order),
    ``top_categories`` (``[group, share of the group's spend]``, "Other" left out) and
    ``top_products`` (``[item id, share of the group's purchase lines]``, by purchase lines).
    """
    group_of = np.full(len(log.shoppers), -1, np.int64)
    group_of[features.codes] = labels
    buy = np.flatnonzero((log.kind == PURCHASE) & (log.shopper >= 0))
    priced = np.isfinite(purchase_values(log)[buy])
    g_of_line = group_of[log.shopper[buy]]
    total_revenue = float(features.spend.sum()) or 1.0
    out: list[dict[str, Any]] = []
    for g in range(k):
        rows = labels == g
        lines = g_of_line == g
        items = log.item[buy[lines]]
        counts = np.bincount(items, minlength=log.n_items)
        top_items = np.lexsort((np.arange(log.n_items), -counts))[:top]
        revenue = float(features.spend[rows].sum())
        orders = int(features.orders[rows].sum())
        mix = (features.mix[rows].T @ features.spend[rows] / max(revenue, 1e-12)
               if features.groups else np.zeros(0))
        named = [i for i, group in enumerate(features.groups) if group != OTHER]
        top_groups = sorted(named, key=lambda i: (-mix[i], i))[:3]
        out.append({
            "shoppers": int(rows.sum()),
            "shopper_share": round(float(rows.mean()), 4),
            "revenue": round(revenue, 2),
            "revenue_share": round(revenue / total_revenue, 4),
            "orders": orders,
            "aov": round(revenue / max(orders, 1), 2),
            "orders_per_shopper": round(orders / max(int(rows.sum()), 1), 2),
            "median_recency_days": round(float(np.median(features.recency_days[rows])), 1),
            "repeat_share": round(float(features.repeat_share[rows] @ features.lines[rows])
                                  / max(int(features.lines[rows].sum()), 1), 4),
            "mix": [round(float(v), 4) for v in mix],
            "top_categories": [[features.groups[i], round(float(mix[i]), 4)]
                               for i in top_groups if mix[i] > 0],
            "top_products": [[log.items[int(i)], round(float(counts[i]) / max(int(lines.sum()), 1), 4)]
                             for i in top_items if counts[i] > 0],
            "priced": bool(priced.any()),
        })
    return out


def suggest_name(p: Mapping[str, Any], overall: Mapping[str, Any], taken: Sequence[str] = ()) -> str:
    """A first name from a profile, compared with the whole shop's quartiles (``overall``, from
    :func:`overall_profile`); staff rename it freely. Example: "Lapsed one-time buyers, big orders".
    """
    q = overall
    per = float(p["orders_per_shopper"])
    if per < 1.5:
        who = "one-time buyers"
    elif per >= q["orders_q3"]:
        who = "regulars"
    else:
        who = "occasional buyers"
    recency = float(p["median_recency_days"])
    when = "lapsed " if recency >= q["recency_q3"] else "recent " if recency <= q["recency_q1"] else ""
    name = (when + who).capitalize()
    aov = float(p["aov"])
    if aov >= q["aov_q3"]:
        name += ", big orders"
    elif aov <= q["aov_q1"]:
        name += ", small orders"
    mix = [float(v) for v in p.get("mix") or []]
    shop_mix = [float(v) for v in q.get("mix") or []]
    groups = list(q.get("groups") or [])
    lifts = [(m / s, i) for i, (m, s) in enumerate(zip(mix, shop_mix, strict=False))
             if s > 0 and groups[i] != OTHER]
    if lifts:
        lift, i = max(lifts)
        if lift >= 1.3 and mix[i] >= 0.1:
            label = groups[i].title() if groups[i].isupper() else groups[i]
            name += f", mostly {label}" if mix[i] >= 0.4 else f", more {label}"
    base, n = name, 2
    while name in taken:
        name = f"{base} {n}"
        n += 1
    return name


def overall_profile(features: ShopperFeatures) -> dict[str, Any]:
    """The shop-wide figures :func:`suggest_name` compares a group with: per-shopper quartiles of
    orders, recency and average order value, and the spend share of each category group."""
    def quartiles(x: np.ndarray) -> tuple[float, float]:
        if not len(x):
            return 0.0, 0.0
        q1, q3 = np.quantile(x, [0.25, 0.75])
        return float(q1), float(q3)

    o1, o3 = quartiles(features.orders.astype(np.float64))
    r1, r3 = quartiles(features.recency_days)
    a1, a3 = quartiles(features.aov)
    spend = float(features.spend.sum())
    mix = features.mix.T @ features.spend / spend if spend > 0 and features.groups else np.zeros(0)
    return {
        "orders_q1": o1, "orders_q3": max(o3, 2.0), "recency_q1": r1, "recency_q3": r3,
        "aov_q1": a1, "aov_q3": a3, "groups": list(features.groups),
        "mix": [round(float(v), 4) for v in mix],
    }
