"""Backend benchmark: the same Keras model on JAX, TensorFlow and PyTorch, on this machine's CPU.

Each backend gets its own virtualenv under ``benchmarks/out/backends/venv-<backend>`` with
``keras==3.15.1 keras-rs==0.4.0 numpy`` and the backend (``tensorflow-cpu`` at the version of
the running interpreter's, a current ``jax[cpu]``, ``torch==2.13.0``, a CPU-only wheel). Then,
every measurement in a fresh child process of that venv (``KERAS_BACKEND`` set, the thread
count set through the environment and the backend's own API):

* the venv's size on disk and the wall time of ``import keras`` (median of 3 processes);
* one epoch of ``SequenceModel`` (the project's real model and training loop) on a synthetic
  shop of returning shoppers, with a catalog of 3,000 items (full softmax) and of 30,000
  (sampled softmax): training examples/s after the first batch (the first batch, i.e. tracing
  or compiling, is reported apart), peak RSS, and the validation HR@10 the run reached with
  the same seed;
* each with 2 threads, and with 1 thread while another process busy-loops (the other core
  busy, as when the web server or a second worker runs next to the retrain).

Backends run round-robin, ``--repeats`` times, so machine noise hits them alike; the table
shows medians. The load average is reported with every run.

    .venv/bin/python benchmarks/backends.py [--backends jax,tensorflow,torch] [--repeats 2]
        [--items 3000,30000] [--examples 8192] [--reuse] [--json OUT]

``--reuse`` uses the venvs as they are; without it they are created when missing and
``pip install`` is run in them (a no-op once everything is installed).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out" / "backends"
COMMON = ["keras==3.15.1", "keras-rs==0.4.0", "numpy"]
BACKENDS = {"jax": ["jax[cpu]"], "tensorflow": ["tensorflow-cpu"], "torch": ["torch==2.13.0"]}
VERSION_OF = {"jax": "jax", "tensorflow": "tensorflow", "torch": "torch"}


def requirements(backend: str) -> list[str]:
    if backend == "tensorflow":
        from importlib.metadata import PackageNotFoundError, version

        try:  # the same TensorFlow as the project's own venv
            return [*COMMON, f"tensorflow-cpu=={version('tensorflow-cpu')}"]
        except PackageNotFoundError:
            pass
    return [*COMMON, *BACKENDS[backend]]


def ensure_venv(backend: str, reuse: bool) -> Path:
    venv = OUT / f"venv-{backend}"
    python = venv / "bin" / "python"
    if reuse and python.exists():
        return python
    if not python.exists():
        subprocess.run([sys._base_executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    *requirements(backend)], check=True)
    return python


def size_mb(folder: Path) -> float:
    total = 0
    for dirpath, _, files in os.walk(folder):
        for name in files:
            total += os.lstat(os.path.join(dirpath, name)).st_size
    return total / 2**20


def child_env(backend: str, threads: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("KERAS_BACKEND", "VIRTUAL_ENV", "XLA_FLAGS")}
    n = str(threads)
    env.update(PYTHONPATH=str(ROOT), KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3",
               OMP_NUM_THREADS=n, OPENBLAS_NUM_THREADS=n, MKL_NUM_THREADS=n)
    return env


# --- child side: runs inside a backend's venv --------------------------------------------


def limit_threads(backend: str, threads: int) -> None:
    """What a deployment would do to keep a backend to ``threads`` cores (before Keras loads)."""
    if backend == "jax":
        os.environ["XLA_FLAGS"] = (f"--xla_cpu_multi_thread_eigen={str(threads > 1).lower()} "
                                   f"intra_op_parallelism_threads={threads}")
    elif backend == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    elif backend == "torch":
        import torch

        torch.set_num_threads(threads)
        torch.set_num_interop_threads(threads)


def synthetic_log(n_items: int, n_orders: int, n_shoppers: int, seed: int = 0):
    """Returning shoppers, complementary item pairs, Zipf popularity, a few favourites each.

    One anonymous view per catalog item comes first, so the log knows exactly ``n_items``.
    """
    import numpy as np

    from cart_recommender.ml.data import EventLog

    rng = np.random.default_rng(seed)
    pairs = n_items // 2
    weight = 1.0 / (np.arange(pairs) + 10.0) ** 0.9
    weight /= weight.sum()
    favourites = rng.choice(n_items, size=(n_shoppers, 4), p=np.repeat(weight, 2) / 2)
    t0 = 1_600_000_000.0
    records = [(t0 - 86400.0, "", "view", f"i{j}", "") for j in range(n_items)]
    for o in range(n_orders):
        shopper = int(rng.integers(n_shoppers))
        when = t0 + o * 600.0
        basket = set()
        for pair in rng.choice(pairs, size=int(rng.integers(1, 3)), p=weight):
            basket.update({2 * int(pair), 2 * int(pair) + 1})
        if rng.random() < 0.7:
            basket.add(int(rng.choice(favourites[shopper])))
        records.append((when - 60, f"s{shopper}", "view", f"i{int(rng.integers(n_items))}", ""))
        records.extend((when, f"s{shopper}", "purchase", f"i{item}", f"o{o}") for item in sorted(basket))
    return EventLog.from_records(records)


def child_import() -> dict:
    started = time.perf_counter()
    import keras

    return {"import_s": time.perf_counter() - started, "keras": keras.__version__}


def child_train(args: argparse.Namespace) -> dict:
    backend = os.environ["KERAS_BACKEND"]
    limit_threads(backend, args.threads)
    import importlib

    from cart_recommender.ml import training_loop
    from cart_recommender.ml.config import TrainingConfig
    from cart_recommender.ml.model import SequenceModel

    log = synthetic_log(args.child_items, n_orders=args.orders, n_shoppers=args.orders // 10)
    events: list[tuple[str, float]] = []

    def timed(name: str, fn):
        def wrapper(*a, **kw):
            events.append((name + "_start", time.perf_counter()))
            out = fn(*a, **kw)
            events.append((name + "_end", time.perf_counter()))
            return out

        return wrapper

    # The loop's own hooks: should_stop() runs after every batch (check_every_batches=1),
    # draw_examples() before each epoch's fit, _ranking() right after it.
    training_loop.draw_examples = timed("draw", training_loop.draw_examples)
    training_loop._ranking = timed("rank", training_loop._ranking)
    config = TrainingConfig(seed=args.seed, max_epochs=1, max_examples_per_epoch=args.examples,
                            check_every_batches=1, time_budget_s=3600)

    def tick() -> bool:
        events.append(("tick", time.perf_counter()))
        return False

    usage = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    model = SequenceModel(config).fit(log, should_stop=tick)
    fit_s = time.perf_counter() - t0
    cpu_s = sum(resource.getrusage(resource.RUSAGE_SELF)[:2]) - sum(usage[:2])
    draw_end = [t for name, t in events if name == "draw_end"][-1]
    rank_start = [t for name, t in events if name == "rank_start"][-1]
    ticks = [t for name, t in events if name == "tick" and draw_end < t < rank_start]
    batches = len(ticks)
    h = model.history
    status = Path("/proc/self/status").read_text()
    os_threads = int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith("Threads:")))
    return {
        "backend": backend,
        "version": importlib.import_module(VERSION_OF[backend]).__version__,
        "items": log.n_items,
        "sampled_softmax": log.n_items > config.full_softmax_max_items,
        "threads": args.threads,
        "busy": args.busy,
        "examples": h.examples_seen,
        "batches": batches,
        "first_batch_s": round(ticks[0] - draw_end, 2),
        "examples_per_s": round((batches - 1) * config.batch_size / (rank_start - ticks[0]), 1),
        "fit_s": round(fit_s, 2),
        "cpu_per_wall": round(cpu_s / fit_s, 2),
        "loss": round(h.loss[-1], 4),
        "hr@10": round(h.val_hr[-1], 4),
        "ndcg@10": round(h.val_ndcg[-1], 4),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "os_threads": os_threads,
    }


# --- parent side -----------------------------------------------------------------------------


def run_child(python: Path, backend: str, threads: int, extra: list[str], busy: bool) -> dict:
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    try:
        load = os.getloadavg()[0]
        proc = subprocess.run([str(python), __file__, *extra, "--threads", str(threads)],
                              env=child_env(backend, threads), capture_output=True, text=True,
                              check=False, cwd=ROOT)
    finally:
        if hog is not None:
            hog.terminate()
            hog.wait()
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode or not lines:
        print(proc.stderr[-3000:], file=sys.stderr)
        return {"backend": backend, "error": f"exit {proc.returncode}: {proc.stderr.strip()[-300:]}"}
    return {**json.loads(lines[-1]), "loadavg_1m": round(load, 2)}


def median(rows: list[dict], key: str, digits: int = 2) -> float | None:
    values = [r[key] for r in rows if key in r]
    return round(statistics.median(values), digits) if values else None


def summarize(backends: list[str], setup: dict, imports: dict, runs: list[dict],
              items: list[int]) -> list[dict]:
    summary = []
    for b in backends:
        row = {"backend": b, "install_mb": setup[b]["install_mb"], "import_s": median(imports[b], "import_s")}
        mine = [r for r in runs if r.get("backend") == b and "error" not in r]
        for n in items:
            for threads, busy, tag in ((2, False, "2t"), (1, True, "1t_busy")):
                case = [r for r in mine if r["items"] == n and r["threads"] == threads and r["busy"] == busy]
                row[f"ex_s_{n}_{tag}"] = median(case, "examples_per_s")
                row[f"first_batch_s_{n}_{tag}"] = median(case, "first_batch_s")
            row[f"hr@10_{n}"] = median([r for r in mine if r["items"] == n], "hr@10", 4)
        row["peak_rss_mb"] = max((r["peak_rss_mb"] for r in mine), default=None)
        row["errors"] = sum(1 for r in runs if r.get("backend") == b and "error" in r)
        summary.append(row)
    return summary


def format_table(summary: list[dict], items: list[int]) -> str:
    cols = ["backend", "install_mb", "import_s"]
    for n in items:
        cols += [f"ex_s_{n}_2t", f"ex_s_{n}_1t_busy", f"first_batch_s_{n}_2t", f"hr@10_{n}"]
    cols += ["peak_rss_mb", "errors"]
    width = max(len(c) for c in cols)
    lines = [" | ".join(f"{c:>{width}}" for c in cols)]
    for row in summary:
        lines.append(" | ".join(f"{row.get(c)!s:>{width}}" for c in cols))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="jax,tensorflow,torch")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--items", default="3000,30000", help="catalog sizes")
    parser.add_argument("--examples", type=int, default=8192, help="training examples (one epoch)")
    parser.add_argument("--orders", type=int, default=6000, help="orders in each synthetic log")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--reuse", action="store_true", help="use the venvs as they are")
    parser.add_argument("--json", metavar="OUT", help="also write the JSON here")
    parser.add_argument("--child", choices=["import", "train"], help=argparse.SUPPRESS)
    parser.add_argument("--child-items", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=2, help=argparse.SUPPRESS)
    parser.add_argument("--busy", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child_import() if args.child == "import" else child_train(args)))
        return 0

    backends = args.backends.split(",")
    items = [int(n) for n in args.items.split(",")]
    setup, pythons = {}, {}
    for b in backends:
        pythons[b] = ensure_venv(b, args.reuse)
        setup[b] = {"install_mb": round(size_mb(pythons[b].parents[1])), "requirements": requirements(b)}
    load_before = os.getloadavg()
    imports: dict[str, list[dict]] = {b: [] for b in backends}
    for _ in range(3):
        for b in backends:
            imports[b].append(run_child(pythons[b], b, 2, ["--child", "import"], busy=False))
            print(json.dumps(imports[b][-1]), flush=True)
    runs = []
    common = ["--child", "train", "--examples", str(args.examples), "--orders", str(args.orders),
              "--seed", str(args.seed)]
    for repeat in range(args.repeats):
        order = backends[repeat % len(backends):] + backends[: repeat % len(backends)]
        for n in items:
            for threads, busy in ((2, False), (1, True)):
                for b in order:
                    extra = [*common, "--child-items", str(n), *(["--busy"] if busy else [])]
                    runs.append({**run_child(pythons[b], b, threads, extra, busy), "repeat": repeat})
                    print(json.dumps(runs[-1]), flush=True)
    summary = summarize(backends, setup, imports, runs, items)
    report = {"benchmark": "backends", "cpus": os.cpu_count(), "setup": setup,
              "loadavg_before": [round(x, 2) for x in load_before],
              "loadavg_after": [round(x, 2) for x in os.getloadavg()],
              "summary": summary, "imports": imports, "runs": runs}
    print(format_table(summary, items))
    print(json.dumps(report))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0 if not any("error" in r for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
