"""Retention benchmark: ``EVENT_RETENTION_DAYS`` on 1M events in PostgreSQL, while a shop writes.

Sets up its own PostgreSQL database (``--database``, dropped and created) with the demo shop's
schema, loads ``--events`` events (default 1,000,000) spread over a year with COPY, and deletes
those older than ``--days`` (default 180, about half) twice:

* **batched**: :func:`cart_recommender.privacy.delete_expired_events`, what the task runs;
* **reference**: the same rows loaded again and removed by one ``DELETE ... WHERE timestamp <``
  statement, in the same process.

During each, a writer process records one event every 5 ms (as a live shop's beacon would)
and times each insert. Reported:
seconds, rows/s, the longest batch, the writer's p50/p99/max latency, and the batched/reference
time ratio; JSON with ``--json``::

    python benchmarks/retention.py --json benchmarks/out/retention.json
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.demo_database import fresh_database  # noqa: E402

NOW = datetime(2026, 1, 1, tzinfo=UTC)
TYPES = ("view", "add_to_cart", "purchase", "view", "click")


def setup(database_url: str, products: int) -> list[int]:
    fresh_database(database_url, products)
    from demo_shop.shop.models import Product

    return list(Product.objects.values_list("pk", flat=True))


def load(n: int, product_ids: list[int]) -> float:
    """COPY ``n`` events spread evenly over the 365 days before NOW; returns seconds."""
    from django.db import connection

    started = time.monotonic()
    buffer = io.StringIO()
    step = 365 * 86400 / n
    for i in range(n):
        when = NOW - timedelta(seconds=i * step)
        kind = TYPES[i % len(TYPES)]
        order = f"o{i // 3}" if kind == "purchase" else ""
        product = product_ids[i % len(product_ids)]
        buffer.write(f"{kind}\t{product}\ts{i % 50000}\t\t{order}\t1\t{when.isoformat()}\tapi\n")
    buffer.seek(0)
    with connection.cursor() as cursor:
        with cursor.connection.cursor().copy(
            "COPY cart_recommender_event (event_type, product_id, shopper_ref, session_key, order_ref, "
            "quantity, timestamp, source) FROM STDIN"
        ) as copy:
            while chunk := buffer.read(1 << 20):
                copy.write(chunk)
        cursor.execute("ANALYZE cart_recommender_event")
    return time.monotonic() - started


def _write(database_url: str, product_id: int, stop, out) -> None:
    """A shop's live writes, in a process of its own: one event every 5 ms, each timed."""
    import psycopg

    latencies = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        while not stop.is_set():
            started = time.monotonic()
            conn.execute(
                "INSERT INTO cart_recommender_event (event_type, product_id, shopper_ref, session_key, "
                "order_ref, quantity, timestamp, source) "
                "VALUES ('view', %s, '', 'live', '', 1, %s, 'beacon')",
                (product_id, NOW),
            )
            latencies.append(time.monotonic() - started)
            time.sleep(0.005)
    out.put(latencies)


def while_writing(database_url: str, product_id: int, work) -> tuple[object, dict[str, float], float]:
    """Run ``work`` while another process writes; its result, the writes' latencies, seconds."""
    context = multiprocessing.get_context("spawn")
    stop, out = context.Event(), context.Queue()
    writer = context.Process(target=_write, args=(database_url, product_id, stop, out))
    writer.start()
    time.sleep(1.0)  # the writer's idle latency is part of its record
    started = time.monotonic()
    result = work()
    seconds = time.monotonic() - started
    time.sleep(0.5)
    stop.set()
    ms = sorted(x * 1000 for x in out.get(timeout=30))
    writer.join()
    summary = {"inserts": len(ms), "p50_ms": round(statistics.median(ms), 2),
               "p99_ms": round(ms[int(0.99 * (len(ms) - 1))], 2), "max_ms": round(ms[-1], 2)}
    return result, summary, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/cart_bench_retention")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--products", type=int, default=2000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    product_ids = setup(args.database, args.products)
    from django.db import connection

    from cart_recommender.models import Event
    from cart_recommender.privacy import delete_expired_events

    cutoff = NOW - timedelta(days=args.days)
    load_s = load(args.events, product_ids)
    expired = Event.objects.filter(timestamp__lt=cutoff).count()
    print(f"loaded {args.events:,} events in {load_s:.1f} s; {expired:,} older than {args.days} days")

    batched, batched_writer, batched_s = while_writing(
        args.database, product_ids[0], lambda: delete_expired_events(days=args.days, now=NOW))
    assert batched.deleted == expired and not Event.objects.filter(timestamp__lt=cutoff).exists()

    Event.objects.all().delete()
    load(args.events, product_ids)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE cart_recommender_event")

    def one_statement() -> int:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM cart_recommender_event WHERE timestamp < %s", [cutoff])
            return cursor.rowcount

    reference_rows, reference_writer, reference_s = while_writing(
        args.database, product_ids[0], one_statement)
    assert reference_rows == expired

    report = {
        "events": args.events, "deleted": expired, "days": args.days,
        "batched": {"seconds": round(batched_s, 2), "rows_per_s": round(expired / batched_s),
                    "batches": batched.batches, "longest_batch_s": round(batched.longest_batch_s, 3),
                    "writer": batched_writer},
        "one_statement": {"seconds": round(reference_s, 2), "rows_per_s": round(expired / reference_s),
                          "writer": reference_writer},
        "time_ratio": round(batched_s / reference_s, 2),
    }
    print("\n| run | seconds | rows/s | longest batch | writer p50 / p99 / max (ms) |\n|---|---|---|---|---|")
    for name, row in (("batched (the task)", report["batched"]), ("one DELETE", report["one_statement"])):
        w = row["writer"]
        longest = f"{row['longest_batch_s']:.3f} s" if "longest_batch_s" in row else "–"
        print(f"| {name} | {row['seconds']:.1f} | {row['rows_per_s']:,} | {longest} | "
              f"{w['p50_ms']} / {w['p99_ms']} / {w['max_ms']} |")
    print(f"\nbatched / one statement time: {report['time_ratio']}x")
    print(json.dumps(report))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
