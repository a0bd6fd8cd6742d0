"""Dashboard benchmark: the bundle-performance page over 1,000,000 events in PostgreSQL.

Fills a fresh database (``--database-url``; dropped and created) with ``--events`` events of a
year of bundle traffic: impressions of three-item bundles by three serving versions, clicks,
credited add-to-carts and purchases, and the untouched views and purchases around them. Then
measures the first full rollup, an incremental update after 10,000 more events, and the
dashboard page and its REST endpoint (medians of ``--repeats``, with their query counts). The
goal: the dashboard within 1 s however large the events table (it reads rollup rows only).

Usage::

    python benchmarks/dashboard.py --json benchmarks/out/dashboard.json
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.demo_database import fresh_database  # noqa: E402


def fill(n_events: int, products: list[int], seed: int, days: int = 365, start_offset: int = 0) -> int:
    from django.utils import timezone

    from cart_recommender.events.row_writer import EventRecord, EventRowWriter
    from cart_recommender.performance import tags

    rng = random.Random(seed)
    writer = EventRowWriter()
    now = timezone.now()
    batch: list[EventRecord] = []
    written = 0
    n = 0

    def add(kind: str, product: int, who: str, when, tag=None, order="", qty=1, price=None) -> None:
        nonlocal written
        batch.append(
            EventRecord(
                event_type=kind,
                product=product,
                user=None,
                shopper_ref=who,
                session_key="",
                order_ref=order,
                quantity=qty,
                unit_price=price,
                timestamp=when,
                source="server",
                idempotency_key=None,
                bundle_id=tag.bundle_id if tag else "",
                served_by=tag.served_by if tag else "",
                scorer=tag.scorer if tag else "",
                arm=None,
            )
        )

    while written + len(batch) < n_events:
        n += 1
        who = f"c{rng.randrange(50_000)}"
        when = now - timedelta(days=start_offset + rng.random() * days)
        version = rng.choice(["11", "12", "baseline"])
        tag = tags.new_tag(version, "model" if version != "baseline" else "copurchase", None)
        shown = rng.sample(products, 3)
        for p in shown:
            add("bundle_impression", p, who, when, tag)
        for _ in range(4):  # the browsing around it
            add("view", rng.choice(products), who, when)
        if rng.random() < 0.12:
            p = shown[0]
            add("bundle_click", p, who, when + timedelta(seconds=20), tag)
            add("add_to_cart", p, who, when + timedelta(seconds=21), tag)
            if rng.random() < 0.5:
                add(
                    "purchase",
                    p,
                    who,
                    when + timedelta(minutes=5),
                    tag,
                    order=f"o{n}",
                    qty=1,
                    price=Decimal("4.50"),
                )
        if len(batch) >= 20_000:
            writer.insert(batch)
            written += len(batch)
            batch = []
    writer.insert(batch)
    writer.refresh_statistics()
    return written + len(batch)


def timed(fn, repeats: int) -> tuple[float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times = []
    queries = 0
    for _ in range(repeats):
        with CaptureQueriesContext(connection) as ctx:
            t = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t) * 1000)
        queries = len(ctx.captured_queries)
    return statistics.median(times), queries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/cart_dashboard_bench")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    fresh_database(args.database_url, 2000)
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.test import Client
    from django.test.utils import setup_test_environment

    from cart_recommender.models import BundleDay, Event, ProductDay
    from cart_recommender.performance import rollups
    from demo_shop.shop.models import Product

    setup_test_environment()
    settings.ALLOWED_HOSTS = ["*"]
    products = list(Product.objects.values_list("pk", flat=True))
    t = time.perf_counter()
    written = fill(args.events, products, seed=1)
    fill_s = time.perf_counter() - t
    t = time.perf_counter()
    rollups.update()
    first_s = time.perf_counter() - t
    fill(10_000, products, seed=2, days=1)  # today's traffic
    t = time.perf_counter()
    step = rollups.update()
    incremental_s = time.perf_counter() - t
    user = User.objects.create_superuser("bench-staff", "staff@example.com", "pw")
    client = Client()
    client.force_login(user)

    def page() -> None:
        assert client.get("/admin/cart_recommender/bundleday/?days=365").status_code == 200

    def api() -> None:
        assert client.get("/recommender/api/performance/?days=365").status_code == 200

    page()  # warm: templates, the catalog
    page_ms, page_queries = timed(page, args.repeats)
    api_ms, api_queries = timed(api, args.repeats)
    out = {
        "events": Event.objects.count(),
        "written": written,
        "fill_s": round(fill_s, 1),
        "rollup_rows": {"bundle_days": BundleDay.objects.count(), "product_days": ProductDay.objects.count()},
        "first_rollup_s": round(first_s, 2),
        "incremental_update_s": round(incremental_s, 3),
        "incremental_events": step.events,
        "dashboard_ms": round(page_ms, 1),
        "dashboard_queries": page_queries,
        "api_ms": round(api_ms, 1),
        "api_queries": api_queries,
        "goal_dashboard_ms": 1000,
    }
    print(
        f"{out['events']:,} events; first rollup {out['first_rollup_s']} s, "
        f"{step.events:,} new events counted in {out['incremental_update_s']} s"
    )
    print(
        f"dashboard (365 days): median {out['dashboard_ms']} ms, {page_queries} queries; "
        f"REST {out['api_ms']} ms, {api_queries} queries (goal: under {out['goal_dashboard_ms']} ms)"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
