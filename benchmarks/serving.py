"""Serving benchmark: bundle latency and throughput on a real HTTP server, against a bare view.

Sets up its own database (SQLite under benchmarks/out/serving/, or ``DATABASE_URL``) with a
synthetic catalog of ``--catalog`` products and purchase history, trains a model on it with
``manage.py cart_recommender_train`` in a child process (the real retrain: snapshot, fit,
holdout, export; a short fit, see ``serving_settings.TRAINING``) and activates it, starts
gunicorn (2 sync workers, ``--preload``, BLAS at one thread) and drives it with ``--clients``
concurrent clients. Four scenarios are measured on the same server, interleaved over
``--rounds`` rounds:

* ``bundle_uncached``: ``GET /recommender/api/bundles/?items=...`` with the result cache
  bypassed (random carts: every answer computed afresh),
* ``bundle_cached``: the same endpoint with the cache on (50 carts, cached in both workers first),
* ``bundle_personal``: the uncached endpoint for one of 300 returning shoppers (a session
  cookie; their ~10 orders read as history, the repeat window computed),
* ``bundle_visitor``: the uncached endpoint for one of 300 visitors with a session but no
  history yet (a key the A/B assignment can hash),
* ``bare``: a DRF view answering a constant JSON, through the same middleware,
* ``bare_session``: the bare view with a visitor's session cookie (Django reads the session and
  the user: the floor a visitor's bundle is compared with).

After these rounds an A/B test starts (arm A: the active version, B: the popularity baseline,
50/50) and ``bundle_visitor`` is measured again against ``bare`` over as many rounds
(``bundle_visitor_experiment``, against ``bare_session``): assigning an arm and tagging the
bundle must add no query, and the goal holds there too (p99 within 1.5x the bare view's).

With more clients than workers, latency is mostly queueing, so p99(uncached) / p99(bare) is in
effect the ratio of the two endpoints' service times. Also reported: each web worker's resident
memory after serving only the bare view (model not loaded) and after serving bundles.

Usage::

    python benchmarks/serving.py --json benchmarks/out/serving.json

``--random-weights`` skips the training (an artifact of the same network with random weights
and the same co-purchase tables: the same shapes and serving cost) for a quicker run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import UTC
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "out" / "serving"
SETTINGS = "benchmarks.serving_settings"


# --------------------------------------------------------------------------- setup


def setup_django(db_path: Path) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS
    os.environ["BENCH_DB"] = str(db_path)
    os.environ["BENCH_MEDIA"] = str(OUT / "media")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


#: Shoppers whose bundle requests carry a session with their purchase history.
PERSONAL_SHOPPERS = 300


def make_shop(n_products: int, n_orders: int, seed: int) -> list[list[str]]:
    """Products in themed groups of 20 (orders mostly stay within a theme); returns the orders."""
    from decimal import Decimal

    from django.core.management import call_command

    from cart_recommender.models import Event
    from demo_shop.shop.models import Product

    call_command("migrate", verbosity=0)
    rng = random.Random(seed)
    Product.objects.bulk_create(
        (
            Product(
                sku=f"B{i:05d}",
                name=f"Product {i}",
                category=f"Category {i % 250}",
                price=Decimal(rng.randint(50, 5000)) / 100,
                stock=100,
                is_active=i % 97 != 0,
            )
            for i in range(n_products)
        ),
        batch_size=2000,
    )
    pks = list(Product.objects.order_by("pk").values_list("pk", flat=True))
    themes = [pks[i : i + 20] for i in range(0, len(pks), 20)]
    orders: list[list[str]] = []
    events = []
    from datetime import datetime, timedelta

    start = datetime(2025, 1, 1, tzinfo=UTC)
    for o in range(n_orders):
        theme = themes[
            min(int(rng.paretovariate(1.2)) - 1, len(themes) - 1)
            if rng.random() < 0.5
            else rng.randrange(len(themes))
        ]
        basket = rng.sample(theme, rng.randint(2, 5))
        when = start + timedelta(minutes=7 * o)
        for pk in basket:
            events.append(
                Event(
                    event_type="purchase",
                    product_id=pk,
                    shopper_ref=f"s{rng.randrange(3000)}",
                    order_ref=f"o{o}",
                    timestamp=when,
                )
            )
        orders.append([str(pk) for pk in basket])
    Event.objects.bulk_create(events, batch_size=5000)
    # 300 returning shoppers browse with a session: their bundles read their history
    from django.contrib.sessions.backends.db import SessionStore

    for i in range(PERSONAL_SHOPPERS):
        session = SessionStore()
        session.create()
        Event.objects.filter(shopper_ref=f"s{i}").update(session_key=session.session_key)
    return orders


def shopper_sessions() -> list[str]:
    from cart_recommender.models import Event

    return list(Event.objects.exclude(session_key="").values_list("session_key", flat=True).distinct())


VISITORS = 300


def visitor_sessions() -> list[str]:
    """Sessions of visitors without any history (created once per database)."""
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session

    from cart_recommender.models import Event

    taken = set(Event.objects.exclude(session_key="").values_list("session_key", flat=True).distinct())
    keys = [k for k in Session.objects.values_list("session_key", flat=True) if k not in taken]
    while len(keys) < VISITORS:
        session = SessionStore()
        session.create()
        keys.append(session.session_key)
    return keys[:VISITORS]


def start_experiment(version_id: int) -> int:
    from cart_recommender.experiments import lifecycle
    from cart_recommender.models import Experiment, ExperimentArm

    Experiment.objects.filter(status="running").update(status="stopped")
    experiment = Experiment.objects.create(name="serving benchmark", min_days=0)
    ExperimentArm.objects.create(experiment=experiment, name="A", kind="version", version_id=version_id,
                                 share=50)
    ExperimentArm.objects.create(experiment=experiment, name="B", kind="baseline", scorer="popularity",
                                 share=50, position=1)
    lifecycle.start(experiment)
    return experiment.pk


def stop_experiment(experiment_id: int) -> None:
    from cart_recommender.experiments import lifecycle
    from cart_recommender.models import Experiment

    lifecycle.stop(Experiment.objects.get(pk=experiment_id))


def make_active_version(out_dir: Path, seed: int, train: bool) -> tuple[int, int, dict]:
    """Make a model version over the history and activate it; returns (id, size, how).

    Trained (the default): the real retrain in a child process, so this process never imports
    Keras (it forks the web server later). The version serves with the model even where a
    baseline won its holdout, because the model's path is what is measured here; ``how``
    records which scorer won.
    """
    from cart_recommender import registry
    from cart_recommender.models import ModelVersion

    if not train:
        version = _random_weights_version(out_dir, seed)
        registry.activate(version, note="serving benchmark")
        return version.pk, version.artifact_size, {"trained": False}
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "manage.py", "cart_recommender_train", "--activate", "always",
         "--seed", str(seed), "--verbosity", "0"],
        cwd=ROOT, env=server_env(), check=True,
    )
    version = ModelVersion.objects.get_active()
    if version is None:
        raise RuntimeError("the training run did not activate a version")
    won = version.serving_method
    if won != "model":
        version.serving_method = "model"
        version.save(update_fields=["serving_method"])  # before the web server starts
    how = {
        "trained": True,
        "train_s": round(time.perf_counter() - started, 1),
        "holdout_winner": won,
        "holdout_ndcg@10": {m: round(v.get("ndcg@10", 0.0), 4) for m, v in version.metrics.items()},
    }
    return version.pk, version.artifact_size, how


def _random_weights_version(out_dir: Path, seed: int):
    import numpy as np

    from cart_recommender.ml import export
    from cart_recommender.ml.config import TrainingConfig
    from cart_recommender.ml.data import EventLog
    from cart_recommender.ml.network import param_shapes
    from cart_recommender.ml.preparation import prepare
    from cart_recommender.models import Event, ModelVersion
    from cart_recommender.registry import artifacts

    rows = Event.objects.filter(event_type="purchase").values_list(
        "timestamp", "shopper_ref", "event_type", "product_id", "order_ref"
    )
    log = EventLog.from_records((t, s, e, str(p), o) for t, s, e, p, o in rows.iterator(chunk_size=10000))
    # the real architecture and co-purchase tables (over every order, as training exports them)
    prepared = prepare(log, TrainingConfig(val_fraction=0.0))
    arch = prepared["arch"]
    rng = np.random.default_rng(seed)
    params = {}
    for name, (shape, init) in param_shapes(arch).items():
        scale = {"zeros": 0.0, "ones": 0.0, "small": 0.01}.get(init, 0.05)
        params[name] = (rng.standard_normal(shape) * scale + (init == "ones")).astype(np.float32)
    path = out_dir / "artifact.npz"
    export.save_artifact(path, items=log.items, arch=arch, params=params, constants=prepared["constants"])
    version = ModelVersion.objects.create(status="ready", serving_method="model")
    artifacts.store_artifact(version, path)
    return version


# --------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env() -> dict[str, str]:
    """The environment of the web server and the training child: the benchmark's settings."""
    return dict(
        os.environ,
        DJANGO_SETTINGS_MODULE=SETTINGS,
        BENCH_DB=os.environ["BENCH_DB"],
        BENCH_MEDIA=str(OUT / "media"),
        OPENBLAS_NUM_THREADS="1",
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        PYTHONPATH=str(ROOT),
    )


def start_server(port: int, workers: int) -> subprocess.Popen:
    env = server_env()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "demo_shop.wsgi:application",
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--preload",
            "--backlog",
            "256",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=open(OUT / "gunicorn.log", "wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/bench/bare/", timeout=2).read()
            return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError((OUT / "gunicorn.log").read_text()) from None
            time.sleep(0.3)
    raise RuntimeError("gunicorn did not start: " + (OUT / "gunicorn.log").read_text())


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def worker_pids(master: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == master:
                pids.append(int(entry.name))
    return sorted(pids)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# --------------------------------------------------------------------------- load


async def one_request(port: int, path: str) -> tuple[float, int, bytes]:
    """GET ``path`` (``path|session key`` sends that session's cookie)."""
    path, _, session = path.partition("|")
    cookie = f"Cookie: sessionid={session}\r\n" if session else ""
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{cookie}Connection: close\r\n\r\n".encode())
    data = await reader.read()
    writer.close()
    elapsed = time.perf_counter() - started
    status = int(data[9:12]) if data[:5] == b"HTTP/" else 0
    return elapsed, status, data


async def drive(port: int, paths, clients: int, seconds: float, warmup: float) -> dict:
    latencies: list[float] = []
    errors = 0
    measuring = False

    async def client(n: int) -> None:
        nonlocal errors
        rng = random.Random(n)
        while time.perf_counter() < stop:
            elapsed, status, _ = await one_request(port, paths(rng))
            if status != 200:
                errors += 1
            elif measuring:
                latencies.append(elapsed)

    stop = time.perf_counter() + warmup + seconds
    tasks = [asyncio.create_task(client(n)) for n in range(clients)]
    await asyncio.sleep(warmup)
    measuring = True
    began = time.perf_counter()
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - began
    return {"latencies": latencies, "errors": errors, "wall": wall}


def summarise(latencies: list[float], wall: float) -> dict:
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 3) if ordered else 0.0

    return {
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "rps": round(len(ordered) / wall, 1) if wall else 0.0,
        "requests": len(ordered),
    }


def wait_for_tables(loop, port: int, workers: int, timeout: float = 900) -> float:
    """Wait until every worker has its per-version candidate lists and its products' display
    data (both made in background threads after the first bundle); return how long it took."""
    started = time.perf_counter()
    ready: set[int] = set()
    while time.perf_counter() - started < timeout:
        _, status, body = loop.run_until_complete(one_request(port, "/bench/state/"))
        state = json.loads(body.split(b"\r\n\r\n", 1)[1]) if status == 200 else {}
        if state.get("table_complete") and state.get("displays_complete"):
            ready.add(state["pid"])
            if len(ready) >= workers:
                return time.perf_counter() - started
        time.sleep(0.2)
    raise RuntimeError("the workers' candidate lists were not ready in time")


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", type=int, default=20_000)
    parser.add_argument("--orders", type=int, default=30_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per scenario and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--reuse", action="store_true", help="reuse the shop and model of the last run")
    parser.add_argument("--random-weights", action="store_true",
                        help="skip training: serve the same network with random weights")
    args = parser.parse_args(argv)

    db_path = OUT / "serving.sqlite3"
    reuse = args.reuse and db_path.exists()
    if not reuse:
        shutil.rmtree(OUT, ignore_errors=True)
        OUT.mkdir(parents=True)
    setup_django(db_path)
    t0 = time.perf_counter()
    if reuse:  # the shop and the active version of an earlier run
        from cart_recommender.models import Event, ModelVersion

        version = ModelVersion.objects.get_active()
        version_id, artifact_size = version.pk, version.artifact_size
        how = {"reused": True}
        by_order: dict[str, list[str]] = {}
        rows = Event.objects.filter(event_type="purchase").values_list("order_ref", "product_id")
        for order, pk in rows.iterator(chunk_size=10000):
            by_order.setdefault(order, []).append(str(pk))
        orders = list(by_order.values())
    else:
        orders = make_shop(args.catalog, args.orders, args.seed)
        version_id, artifact_size, how = make_active_version(OUT, args.seed, not args.random_weights)
    setup_s = time.perf_counter() - t0
    from demo_shop.shop.models import Product

    sku = dict((str(pk), s) for pk, s in Product.objects.values_list("pk", "sku"))
    carts = [[sku[pk] for pk in order[: random.Random(i).randint(1, 3)]] for i, order in enumerate(orders)]
    cached_carts = carts[:50]
    sessions = shopper_sessions()
    visitors = visitor_sessions()

    port = free_port()
    server = start_server(port, args.workers)
    try:
        master = server.pid
        loop = asyncio.new_event_loop()

        def bare(rng):
            return "/bench/bare/"

        def uncached(rng):
            return "/bench/bundles-uncached/?items=" + ",".join(rng.choice(carts))

        def cached(rng):
            return "/recommender/api/bundles/?items=" + ",".join(rng.choice(cached_carts))

        def personal(rng):  # a returning shopper: history read, repeat window computed
            return uncached(rng) + "|" + rng.choice(sessions)

        def visitor(rng):  # a session, no history: the A/B test can assign it
            return uncached(rng) + "|" + rng.choice(visitors)

        def bare_session(rng):  # the floor for a visitor: the bare view, reading the same session
            return bare(rng) + "|" + rng.choice(visitors)

        loop.run_until_complete(drive(port, bare, args.clients, 2.0, 0.5))
        rss_bare = [rss_mb(p) for p in worker_pids(master)]
        # every worker serves bundles (and so loads the model and the catalog) before measuring
        loop.run_until_complete(drive(port, uncached, args.clients, 3.0, 0.5))
        _, status, body = loop.run_until_complete(one_request(port, uncached(random.Random(1))))
        served = json.loads(body.split(b"\r\n\r\n", 1)[1])
        if status != 200 or served["model_version"] != str(version_id):
            raise RuntimeError(f"the bundle endpoint did not serve v{version_id}: {body[:300]!r}")
        table_s = wait_for_tables(loop, port, len(worker_pids(master)))
        rss_model = [rss_mb(p) for p in worker_pids(master)]

        for cart in cached_carts * 6:  # fill both workers' caches (each worker has its own)
            loop.run_until_complete(one_request(port, "/recommender/api/bundles/?items=" + ",".join(cart)))
        samples = {
            name: {"latencies": [], "wall": 0.0, "errors": 0}
            for name in ("bundle_uncached", "bundle_personal", "bundle_visitor", "bundle_cached", "bare",
                         "bare_session", "bundle_visitor_experiment", "bare_experiment",
                         "bare_session_experiment")
        }
        round_ratios: list[float] = []
        personal_ratios: list[float] = []
        visitor_ratios: list[float] = []
        experiment_ratios: list[float] = []
        for _ in range(args.rounds):
            p99: dict[str, float] = {}
            scenarios = (("bare", bare), ("bundle_uncached", uncached), ("bundle_personal", personal),
                         ("bundle_visitor", visitor), ("bare_session", bare_session),
                         ("bundle_cached", cached))
            for name, paths in scenarios:
                got = loop.run_until_complete(drive(port, paths, args.clients, args.seconds, 1.0))
                samples[name]["latencies"] += got["latencies"]
                samples[name]["wall"] += got["wall"]
                samples[name]["errors"] += got["errors"]
                p99[name] = summarise(got["latencies"], got["wall"])["p99_ms"]
            round_ratios.append(round(p99["bundle_uncached"] / max(p99["bare"], 1e-9), 2))
            personal_ratios.append(round(p99["bundle_personal"] / max(p99["bare"], 1e-9), 2))
            visitor_ratios.append(round(p99["bundle_visitor"] / max(p99["bare_session"], 1e-9), 2))
        # the same visitors while an A/B test runs
        experiment_id = start_experiment(version_id)
        time.sleep(6)  # MODEL_CHECK_SECONDS: every worker picks the test up at its next request
        loop.run_until_complete(drive(port, visitor, args.clients, 3.0, 0.5))
        _, status, body = loop.run_until_complete(one_request(port, visitor(random.Random(2))))
        arm = json.loads(body.split(b"\r\n\r\n", 1)[1]).get("experiment_arm")
        if status != 200 or arm not in ("A", "B"):
            raise RuntimeError(f"the A/B test is not served: {body[:300]!r}")
        for _ in range(args.rounds):
            p99 = {}
            for name, paths in (("bare_experiment", bare), ("bare_session_experiment", bare_session),
                                ("bundle_visitor_experiment", visitor)):
                got = loop.run_until_complete(drive(port, paths, args.clients, args.seconds, 1.0))
                samples[name]["latencies"] += got["latencies"]
                samples[name]["wall"] += got["wall"]
                samples[name]["errors"] += got["errors"]
                p99[name] = summarise(got["latencies"], got["wall"])["p99_ms"]
            ratio = p99["bundle_visitor_experiment"] / max(p99["bare_session_experiment"], 1e-9)
            experiment_ratios.append(round(ratio, 2))
        stop_experiment(experiment_id)
        loop.close()
    finally:
        stop_server(server)

    result = {
        "catalog": args.catalog,
        "clients": args.clients,
        "workers": args.workers,
        **{
            name: {**summarise(s["latencies"], s["wall"]), "errors": s["errors"]}
            for name, s in samples.items()
        },
        "rss_mb": {
            "bare": round(max(rss_bare), 1),
            "with_model": round(max(rss_model), 1),
            "per_worker_bare": [round(x, 1) for x in rss_bare],
            "per_worker_with_model": [round(x, 1) for x in rss_model],
        },
        "model_version": version_id,
        "model": how,
        "artifact_mb": round(artifact_size / 2**20, 2),
        "setup_s": round(setup_s, 1),
        "candidate_lists_s": round(table_s, 1),
    }
    # The goal's ratio, per round (the three endpoints back to back, so a burst of load from
    # elsewhere hits them alike) and its median over rounds; also over all rounds pooled.
    result["p99_ratio_by_round"] = round_ratios
    result["p99_ratio_personal_by_round"] = personal_ratios
    result["p99_ratio_personal_vs_bare"] = round(statistics.median(personal_ratios), 2)
    result["p99_ratio_uncached_vs_bare"] = round(statistics.median(round_ratios), 2)
    result["p99_ratio_visitor_by_round"] = visitor_ratios
    result["p99_ratio_visitor_vs_bare"] = round(statistics.median(visitor_ratios), 2)
    result["p99_ratio_experiment_by_round"] = experiment_ratios
    result["p99_ratio_experiment_vs_bare"] = round(statistics.median(experiment_ratios), 2)
    result["p99_ratio_pooled"] = round(
        result["bundle_uncached"]["p99_ms"] / max(result["bare"]["p99_ms"], 1e-9), 2
    )
    print_table(result)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    return result


def print_table(r: dict) -> None:
    print(
        f"\nserving benchmark: {r['catalog']} products, {r['clients']} clients, "
        f"{r['workers']} gunicorn workers"
    )
    how = r.get("model", {})
    if how.get("trained"):
        print(
            f"model v{r['model_version']}: trained in {how['train_s']} s; holdout winner "
            f"{how['holdout_winner']}; NDCG@10 {how['holdout_ndcg@10']}"
        )
    print(f"{'endpoint':<26}{'p50 ms':>9}{'p99 ms':>9}{'req/s':>9}{'n':>8}{'errors':>8}")
    for name in ("bundle_uncached", "bundle_personal", "bundle_visitor", "bundle_cached", "bare",
                 "bare_session", "bundle_visitor_experiment", "bare_experiment", "bare_session_experiment"):
        s = r[name]
        print(
            f"{name:<26}{s['p50_ms']:>9.2f}{s['p99_ms']:>9.2f}{s['rps']:>9.1f}{s['requests']:>8}{s['errors']:>8}"
        )
    print(
        f"p99(uncached) / p99(bare) = {r['p99_ratio_uncached_vs_bare']} (median of rounds "
        f"{r['p99_ratio_by_round']}; pooled {r['p99_ratio_pooled']}; goal <= 1.5)"
    )
    print(
        f"p99(returning shopper, history read) / p99(bare) = {r['p99_ratio_personal_vs_bare']} "
        f"(median of rounds {r['p99_ratio_personal_by_round']})"
    )
    print(
        f"p99(visitor) / p99(bare with the session) = {r['p99_ratio_visitor_vs_bare']} without a test, "
        f"{r['p99_ratio_experiment_vs_bare']} with one running (median of rounds "
        f"{r['p99_ratio_experiment_by_round']}; goal <= 1.5)"
    )
    rss = r["rss_mb"]
    print(
        f"worker RSS: bare {rss['bare']} MB, with model {rss['with_model']} MB "
        f"(+{rss['with_model'] - rss['bare']:.1f} MB; goal <= +150)"
    )
    print(json.dumps(r))


if __name__ == "__main__":
    main()
