"""How long a request thread waits for the GIL while a web worker rebuilds in the background.

The catalog snapshot, the sellable set and the candidate lists are rebuilt in background
threads of each web worker (see :mod:`cart_recommender.serving.background`). This measures what a
request thread feels meanwhile: it sleeps 0.2 ms (as if waiting on a socket) and records how
late it wakes, once with a background loop of plain Python work and once with the same loop
run through :func:`~cart_recommender.serving.background.yielding`.

Usage::

    python benchmarks/gil_handover.py [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cart_recommender.serving.background import yielding  # noqa: E402


def wake_delays(wrap, samples: int) -> list[float]:
    """Milliseconds each 0.2 ms sleep of this thread overran while the background loop ran."""
    stop = threading.Event()

    def rebuild() -> None:  # the shape of the snapshot loop: a Decimal per product
        while not stop.is_set():
            for i in wrap(range(20_000)):
                Decimal(str(i)).quantize(Decimal("0.01"))

    thread = threading.Thread(target=rebuild, daemon=True)
    thread.start()
    delays = []
    for _ in range(samples):
        started = time.perf_counter()
        time.sleep(0.0002)
        delays.append((time.perf_counter() - started - 0.0002) * 1000)
    stop.set()
    thread.join()
    return sorted(delays)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=400)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    result = {"switch_interval_ms": sys.getswitchinterval() * 1000}
    for name, wrap in (("plain_loop", lambda items: items), ("yielding", yielding)):
        d = wake_delays(wrap, args.samples)
        result[name] = {
            "median_ms": round(statistics.median(d), 3),
            "p99_ms": round(d[min(len(d) - 1, int(0.99 * len(d)))], 3),
            "max_ms": round(d[-1], 3),
        }
    print(f"request thread's wake-up delay while a background rebuild runs ({args.samples} sleeps)")
    print(f"{'background loop':<18}{'median ms':>11}{'p99 ms':>9}{'max ms':>9}")
    for name in ("plain_loop", "yielding"):
        r = result[name]
        print(f"{name:<18}{r['median_ms']:>11.3f}{r['p99_ms']:>9.3f}{r['max_ms']:>9.3f}")
    print(json.dumps(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
