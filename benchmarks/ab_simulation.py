"""A/B simulation: simulated shoppers against the real app, where arm B is known to sell more.

Every shopper is a fresh browser session driving the demo shop's real pages through Django's
test client, on a real PostgreSQL database (``--database-url``; dropped and created), with the
real template tag, "Add all to cart" view, cart and checkout, and so the real attribution path:

1. add one random product to the cart (the shopper enters the test's population);
2. open the cart page: the ``{% complete_your_cart %}`` tag assigns the arm, renders the
   bundle and records its impressions (the hold-out arm shows none);
3. with the arm's known click probability, post the bundle's "Add all to cart" form (the
   307 hand-over to the shop's own add view: clicks and add-to-carts are recorded);
4. check out with the arm's known probability (higher after a click): purchases recorded.

The simulator counts what it did (the truth); the rollups (``update_performance``) count what
the app measured. Every attributed event must be counted exactly once, so the two must be equal.
It then reads the A/B result (the lift on the primary metric, its interval, the test, whether
a winner is declared) and times the dashboard page.

Usage::

    python benchmarks/ab_simulation.py --json benchmarks/out/ab_simulation.json
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.demo_database import fresh_database  # noqa: E402

#: Known behaviour per arm: P(click "Add all" | bundle shown), P(checkout | clicked),
#: P(checkout | not clicked). The hold-out shows nothing, so only the last applies to it.
BEHAVIOUR = {
    "A": (0.10, 0.50, 0.30),
    "B": (0.20, 0.65, 0.30),
    "hold-out": (0.0, 0.0, 0.30),
}
SHARES = {"A": 40, "B": 40, "hold-out": 20}


def parse_bundle(html: str) -> dict[str, Any] | None:
    section = re.search(r'<section class="cart-recommender-bundle"([^>]*)>(.*?)</section>', html, re.S)
    if section is None:
        return None
    attrs, body = section.groups()
    form = re.search(
        r'<form method="post" action="([^"]+)" class="cart-recommender-add-all">(.*?)</form>', body, re.S
    )
    fields = (
        re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form.group(2)) if form else []
    )
    return {
        "bundle_id": re.search(r'data-bundle-id="([^"]*)"', attrs).group(1),
        "arm": (re.search(r'data-experiment-arm="([^"]*)"', attrs) or [None, ""])[1],
        "items": re.findall(r'data-product-id="([^"]+)"', body),
        "action": form.group(1) if form else None,
        "fields": fields,
    }


def simulate(n_shoppers: int, seed: int) -> dict[str, Any]:
    from django.test import Client

    from cart_recommender.models import Experiment, ExperimentArm
    from demo_shop.shop.models import Product

    experiment = Experiment.objects.create(
        name="popularity vs co-purchase", primary_metric="attributed_revenue_per_shopper", min_days=0
    )
    for position, (name, scorer) in enumerate([("A", "popularity"), ("B", "copurchase"), ("hold-out", "")]):
        ExperimentArm.objects.create(
            experiment=experiment,
            name=name,
            position=position,
            share=SHARES[name],
            kind="holdout" if not scorer else "baseline",
            scorer=scorer,
        )
    from cart_recommender.experiments import lifecycle

    lifecycle.start(experiment)
    from cart_recommender.serving import state

    state.check_now()
    rng = random.Random(seed)
    skus = list(Product.objects.values_list("sku", flat=True))
    price = {p.sku: p.price for p in Product.objects.all()}
    truth = {
        name: {
            "shoppers": 0,
            "bundles_shown": 0,
            "clicks": 0,
            "add_to_carts": 0,
            "orders": 0,
            "revenue": Decimal("0.00"),
        }
        for name in SHARES
    }
    started = time.monotonic()
    for n in range(n_shoppers):
        client = Client()
        client.post(f"/product/{rng.choice(skus)}/add/", {"quantity": 1})
        bundle = parse_bundle(client.get("/cart/").content.decode())
        arm = bundle["arm"] if bundle else "hold-out"
        if bundle is None:  # the hold-out shows nothing; which arm it is comes from the session key
            from cart_recommender.experiments.assignment import arm_index

            key = "s:" + client.session.session_key
            arm = list(SHARES)[arm_index(experiment.pk, key, list(SHARES.values()))]
        t = truth[arm]
        t["shoppers"] += 1
        click_p, buy_after_click, buy_p = BEHAVIOUR[arm]
        clicked = False
        if bundle is not None:
            t["bundles_shown"] += 1
            if bundle["action"] and rng.random() < click_p:
                data = dict(bundle["fields"])
                data["product"] = [v for k, v in bundle["fields"] if k == "product"]
                handed = client.post(bundle["action"], data)
                assert handed.status_code == 307, handed.status_code
                client.post(handed["Location"], data)
                clicked = True
                t["clicks"] += len(bundle["items"])
                t["add_to_carts"] += len(bundle["items"])
                client.get("/cart/")  # the cart page again: a second bundle shown
                t["bundles_shown"] += 1
        if rng.random() < (buy_after_click if clicked else buy_p):
            done = client.post("/checkout/", {"email": f"s{n}@example.com", "name": f"Shopper {n}"})
            assert done.status_code == 302, done.status_code
            if clicked:
                t["orders"] += 1
                t["revenue"] += sum(price[s] for s in bundle["items"])
        if (n + 1) % 250 == 0:
            print(f"  {n + 1:,} shoppers simulated ({time.monotonic() - started:.0f} s)", file=sys.stderr)
    return {"experiment": experiment, "truth": truth, "seconds": time.monotonic() - started}


def measured(experiment: Any) -> dict[str, dict[str, Any]]:
    from cart_recommender.experiments.results import arm_numbers
    from cart_recommender.performance import report

    out = {}
    numbers = {n.arm.name: n for n in arm_numbers(experiment)}
    for _arm_id, name, funnel in report.by_arm(report.Period.last_days(7, experiment_id=experiment.pk)):
        out[name] = {
            "shoppers": numbers[name].shoppers,
            "bundles_shown": funnel.bundles_shown,
            "clicks": funnel.clicks,
            "add_to_carts": funnel.add_to_carts,
            "orders": funnel.orders,
            "revenue": funnel.net_revenue,
        }
    for name, n in numbers.items():
        out.setdefault(
            name,
            {
                "shoppers": n.shoppers,
                "bundles_shown": 0,
                "clicks": 0,
                "add_to_carts": 0,
                "orders": 0,
                "revenue": Decimal("0.00"),
            },
        )
    return out


def dashboard_ms(repeats: int = 7) -> float:
    from django.contrib.auth.models import User
    from django.test import Client

    user = User.objects.create_superuser("bench-staff", "staff@example.com", "pw")
    client = Client()
    client.force_login(user)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        assert client.get("/admin/cart_recommender/bundleday/?days=30").status_code == 200
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/cart_ab_bench")
    parser.add_argument("--shoppers", type=int, default=2000)
    parser.add_argument("--products", type=int, default=120)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    fresh_database(args.database_url, args.products)
    from django.conf import settings
    from django.test.utils import setup_test_environment

    setup_test_environment()  # the test client's hosts; nothing else changes
    settings.ALLOWED_HOSTS = ["*"]
    from cart_recommender.experiments.results import result, to_dict
    from cart_recommender.performance import rollups
    from demo_shop.shop.models import Product

    Product.objects.update(stock=10_000_000)
    run = simulate(args.shoppers, args.seed)
    t = time.perf_counter()
    update = rollups.update()
    rollup_s = time.perf_counter() - t
    experiment = run["experiment"]
    experiment.refresh_from_db()
    got = measured(experiment)
    res = to_dict(result(experiment))
    b = next(a for a in res["arms"] if a["name"] == "B")
    primary = res["primary_metric"]
    arms = {
        name: {
            "true": {k: str(v) if isinstance(v, Decimal) else v for k, v in run["truth"][name].items()},
            "measured": {k: str(v) if isinstance(v, Decimal) else v for k, v in got[name].items()},
            "behaviour": dict(zip(("p_click", "p_buy_after_click", "p_buy"), BEHAVIOUR[name], strict=True)),
            "share": SHARES[name],
        }
        for name in SHARES
    }
    for entry in arms.values():
        entry["equal"] = entry["true"] == entry["measured"]
    lift = b["vs_control"][primary]
    out = {
        "shoppers": args.shoppers,
        "seed": args.seed,
        "simulation_s": round(run["seconds"], 1),
        "rollup_update_s": round(rollup_s, 3),
        "events": update.events,
        "arms": arms,
        "all_equal": all(e["equal"] for e in arms.values()),
        "primary_metric": primary,
        "lift": {"arm": "B", "against": "A", "metric": primary, **(lift or {})},
        "lift_by_metric": b["vs_control"],
        "holdout_lift": next(a for a in res["arms"] if a["name"] == "hold-out")["vs_control"],
        "winner": res["winner"],
        "verdict": res["verdict"],
        "dashboard_ms": round(dashboard_ms(), 1),
    }
    print(
        f"\n{'arm':10} {'':9} {'shoppers':>9} {'bundles':>8} {'clicks':>7} {'adds':>6} "
        f"{'orders':>7} {'revenue':>10}"
    )
    for name, entry in arms.items():
        for kind in ("true", "measured"):
            v = entry[kind]
            print(
                f"{name:10} {kind:9} {v['shoppers']:>9} {v['bundles_shown']:>8} {v['clicks']:>7} "
                f"{v['add_to_carts']:>6} {v['orders']:>7} {v['revenue']:>10}"
            )
    if lift:
        print(
            f"\nB vs A on {primary}: {lift['value']:.4f} vs {lift['control']:.4f}, lift {lift['lift']:+.1%} "
            f"[{lift['lift_interval'][0]:+.1%}, {lift['lift_interval'][1]:+.1%}], p = {lift['p_value']:.2g} "
            f"({lift['test']})"
        )
    print(
        f"verdict: {res['verdict']}\nevery attributed event counted once: {out['all_equal']}; "
        f"dashboard {out['dashboard_ms']} ms; rollup update {out['rollup_update_s']} s"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()
