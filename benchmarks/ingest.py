"""Ingest benchmark: events/s into PostgreSQL through the batch API, with retries, exactly once.

Sets up its own PostgreSQL database (``--database``, created if missing) with the demo shop's
schema and ``--products`` products, a user holding ``cart_recommender.ingest_events`` and a DRF
token, and starts gunicorn (``--workers`` sync workers). ``--clients`` concurrent clients then
post ``--events`` unique events in batches of ``--batch`` (the API's maximum by default), each
batch twice, in different orders, the second time from another client: the retries a shop's
servers make after a timeout, overlapping and reordered. At the end the table must hold every
event exactly once and the answers' ``stored`` counts must sum to exactly that number.

Reported: unique events stored per second of wall time (the goal: at least 5,000 on the
2-core machine), requests per second, the p50/p99 latency of a batch, and the exactly-once
checks; a JSON file with ``--json``. Run with OMP_NUM_THREADS=1::

    python benchmarks/ingest.py --json benchmarks/out/ingest.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.demo_database import fresh_database  # noqa: E402

OUT = ROOT / "benchmarks" / "out" / "ingest"
SETTINGS = "benchmarks.serving_settings"


def setup(database_url: str, products: int) -> str:
    """A fresh database with the shop's tables, ``products`` products and a token; returns it."""
    fresh_database(database_url, products)
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission
    from rest_framework.authtoken.models import Token

    user = get_user_model().objects.create_user("feeder")
    user.user_permissions.add(Permission.objects.get(codename="ingest_events"))
    return Token.objects.create(user=user).key


def start_server(database_url: str, workers: int) -> tuple[subprocess.Popen, int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    OUT.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": SETTINGS, "DATABASE_URL": database_url,
           "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "demo_shop.wsgi:application", "--workers", str(workers),
         "--bind", f"127.0.0.1:{port}", "--backlog", "256", "--timeout", "120", "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=open(OUT / "gunicorn.log", "wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/bench/bare/", timeout=2).read()
            return proc, port
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError((OUT / "gunicorn.log").read_text()) from None
            time.sleep(0.3)
    raise RuntimeError("gunicorn did not start")


def make_batches(events: int, batch: int, products: int, seed: int) -> list[list[dict]]:
    """Unique events (a key each), in batches: purchases of orders of 1-8 lines, and views."""
    rng = random.Random(seed)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    rows = []
    order = 0
    while len(rows) < events:
        order += 1
        shopper = f"c{rng.randrange(5000)}"
        when = (start + timedelta(minutes=order)).isoformat().replace("+00:00", "Z")
        for line in range(rng.randint(1, 8)):
            item = f"P{rng.randrange(products):05d}"
            rows.append({"event": "purchase", "item_id": item, "user_id": shopper, "order_id": f"o{order}",
                         "quantity": rng.randint(1, 4), "price": "1.00", "timestamp": when,
                         "idempotency_key": f"o{order}-{line}"})
            if rng.random() < 0.5:
                rows.append({"event": "view", "item_id": item, "session_id": f"s{order}", "timestamp": when,
                             "idempotency_key": f"v{order}-{line}"})
    rows = rows[:events]
    return [rows[i : i + batch] for i in range(0, len(rows), batch)]


def run_clients(port: int, token: str, batches: list[list[dict]], clients: int, seed: int) -> dict:
    """Each batch is sent twice: by client k in its own order, later by client k+1 reshuffled."""
    jobs: list[list[tuple[int, int]]] = [[] for _ in range(clients)]
    for n in range(len(batches)):
        jobs[n % clients].append((n, 0))
        jobs[(n + 1) % clients].append((n, 1))
    for k, mine in enumerate(jobs):
        random.Random(seed + k).shuffle(mine)
    url = f"http://127.0.0.1:{port}/recommender/api/events/"
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    results: list[dict] = []
    failures: list[str] = []
    lock = threading.Lock()

    def client(k: int) -> None:
        rng = random.Random(seed * 31 + k)
        for n, attempt in jobs[k]:
            events = list(batches[n])
            if attempt:
                rng.shuffle(events)
            body = json.dumps({"events": events}).encode()
            for _ in range(5):  # a client's own retries on a network failure
                started = time.perf_counter()
                try:
                    request = urllib.request.Request(url, body, headers, method="POST")
                    with urllib.request.urlopen(request, timeout=60) as response:
                        answer = json.loads(response.read())
                    with lock:
                        results.append({
                            "batch": n, "stored": answer["stored"], "duplicates": len(answer["duplicates"]),
                            "errors": len(answer["errors"]), "seconds": time.perf_counter() - started,
                        })
                    break
                except (urllib.error.URLError, OSError) as exc:
                    error = f"{type(exc).__name__}: {exc}"
                    if isinstance(exc, urllib.error.HTTPError):
                        error += " " + exc.read()[:300].decode(errors="replace")
                    with lock:
                        failures.append(error)
                    time.sleep(0.2)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"results": results, "failures": failures, "wall_s": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=os.environ.get(
        "INGEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/cart_bench_ingest"))
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--products", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", metavar="OUT")
    args = parser.parse_args()

    token = setup(args.database, args.products)
    batches = make_batches(args.events, args.batch, args.products, args.seed)
    server, port = start_server(args.database, args.workers)
    try:
        run = run_clients(port, token, batches, args.clients, args.seed)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)

    from cart_recommender.models import Event

    unique = sum(len(b) for b in batches)
    in_table = Event.objects.count()
    distinct = Event.objects.values("idempotency_key").distinct().count()
    results = run["results"]
    stored = sum(r["stored"] for r in results)
    latencies = sorted(r["seconds"] for r in results)
    report = {
        "events": unique, "batches": len(batches), "requests": len(results), "clients": args.clients,
        "workers": args.workers, "wall_s": round(run["wall_s"], 2),
        "events_per_s": round(unique / run["wall_s"], 1),
        "requests_per_s": round(len(results) / run["wall_s"], 1),
        "batch_p50_ms": round(1000 * statistics.median(latencies), 1) if latencies else None,
        "batch_p99_ms": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 1) if latencies else None,
        "stored_reported": stored, "in_table": in_table, "distinct_keys": distinct,
        "rejected_events": sum(r["errors"] for r in results),
        "failed_requests": len(run["failures"]), "failures": run["failures"][:10],
        "exactly_once": in_table == unique == distinct == stored and len(results) == 2 * len(batches),
        "goal_events_per_s": 5000,
    }
    report["goal_met"] = report["exactly_once"] and report["events_per_s"] >= report["goal_events_per_s"]
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    print()
    print(f"{'events':>8} {'requests':>9} {'wall s':>7} {'events/s':>9} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'exactly once':>13}")
    print(f"{unique:>8,} {len(results):>9,} {report['wall_s']:>7} {report['events_per_s']:>9,.0f} "
          f"{report['batch_p50_ms']:>7} {report['batch_p99_ms']:>7} {str(report['exactly_once']):>13}")
    if not report["exactly_once"]:
        sys.exit("not exactly once: see the report above")


if __name__ == "__main__":
    main()
