"""``manage.py demo`` run for real, as a child process on its own database in a temp folder."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from demo_shop.tests.eventfiles import write_events_csv

ROOT = Path(__file__).resolve().parents[2]
ORDERS = {
    "A1": [("84879", "ASSORTED COLOUR BIRD ORNAMENT", "Home decor", "1.69"),
           ("22423", "REGENCY CAKESTAND 3 TIER", "Baking", "12.75")],
    "A2": [("22423", "REGENCY CAKESTAND 3 TIER", "Baking", "12.75"),
           ("21212", "PACK OF 72 RETROSPOT CAKE CASES", "Baking", "0.55"),
           ("22720", "SET OF 3 CAKE TINS PANTRY DESIGN", "Baking", "4.95")],
    "A3": [("84879", "ASSORTED COLOUR BIRD ORNAMENT", "Home decor", "1.69")],
}

CATALOG = [
    ("84879", "ASSORTED COLOUR BIRD ORNAMENT", "Home decor", "1.69"),
    ("22423", "REGENCY CAKESTAND 3 TIER", "Baking", "12.75"),
    ("21212", "PACK OF 72 RETROSPOT CAKE CASES", "Baking", "0.55"),
    ("22720", "SET OF 3 CAKE TINS PANTRY DESIGN", "Baking", "4.95"),
    ("85099B", "JUMBO BAG RED RETROSPOT", "Bags & purses", "2.08"),
    ("20725", "LUNCH BAG RED RETROSPOT", "Bags & purses", "1.65"),
]


def history(orders: int) -> dict[str, list[tuple[str, str, str, str]]]:
    """Enough baskets of two or three products for a training run to have a holdout."""
    return {f"B{n:03d}": [CATALOG[n % 6], CATALOG[(n + 1) % 6], *([CATALOG[(n + 3) % 6]] if n % 2 else [])]
            for n in range(orders)}


def demo_env(var_dir: Path) -> dict[str, str]:
    """The demo's embedded defaults (SQLite + broker folder) in ``var_dir``, whatever the test uses."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL")}
    env.update(DEMO_VAR_DIR=str(var_dir), DJANGO_SETTINGS_MODULE="demo_shop.settings",
               OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    return env


def run_demo(var_dir: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "demo", *args], cwd=ROOT, env=demo_env(var_dir),
        capture_output=True, text=True, timeout=timeout,
    )


def query(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def test_demo_sets_up_once_and_repeats_safely(tmp_path):
    data = write_events_csv(tmp_path / "small.csv.gz", ORDERS)
    var = tmp_path / "var"
    first = run_demo(var, "--no-serve", "--no-train", "--data", str(data))
    assert first.returncode == 0, first.stderr
    assert "Staff login: admin / admin" in first.stdout
    db = var / "demo.sqlite3"
    assert query(db, "select sku, category from shop_product order by sku") == [
        ("21212", "Baking"), ("22423", "Baking"), ("22720", "Baking"), ("84879", "Home decor"),
    ]
    assert query(db, "select count(*), count(distinct order_ref) from cart_recommender_event "
                     "where event_type = 'purchase'") == [(6, 3)]
    assert query(db, "select is_staff, is_superuser from auth_user where username = 'admin'") == [(1, 1)]

    again = run_demo(var, "--no-serve", "--no-train", "--data", str(data))
    assert again.returncode == 0, again.stderr
    assert "Demo data already loaded (4 products): skipping" in again.stdout
    assert query(db, "select count(*) from cart_recommender_event") == [(6,)]
    assert query(db, "select count(*) from auth_user") == [(1,)]


def test_demo_reports_a_missing_data_file(tmp_path):
    result = run_demo(tmp_path / "var", "--no-serve", "--no-train", "--data", str(tmp_path / "nope.csv"))
    assert result.returncode != 0
    assert "no such data file" in result.stderr


@pytest.mark.slow
def test_demo_trains_the_first_model_once(tmp_path):
    data = write_events_csv(tmp_path / "small.csv.gz", history(60))
    var = tmp_path / "var"
    result = run_demo(var, "--no-serve", "--baselines-only", "--data", str(data))
    assert result.returncode == 0, result.stdout + result.stderr
    versions = query(var / "demo.sqlite3", "select status from cart_recommender_modelversion")
    assert versions == [("active",)]
    again = run_demo(var, "--no-serve", "--baselines-only", "--data", str(data))
    assert again.returncode == 0 and "A trained model exists" in again.stdout
    assert len(query(var / "demo.sqlite3", "select id from cart_recommender_modelversion")) == 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.worker
def test_demo_serves_the_shop_with_a_worker_and_stops_both_on_ctrl_c(tmp_path):
    data = write_events_csv(tmp_path / "small.csv.gz", ORDERS)
    var = tmp_path / "var"
    port = free_port()
    log_path = tmp_path / "demo.log"
    with open(log_path, "wb") as log:
        demo = subprocess.Popen(
            [sys.executable, "manage.py", "demo", "--no-train", "--data", str(data),
             "--addr", f"127.0.0.1:{port}"],
            cwd=ROOT, env=demo_env(var), stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        page = ""
        while time.monotonic() < deadline and demo.poll() is None:
            if "ready." in log_path.read_text(errors="replace"):
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/?q=cake", timeout=5) as resp:
                        page = resp.read().decode()
                    break
                except OSError:
                    pass
            time.sleep(0.5)
        text = log_path.read_text(errors="replace")
        assert "Regency Cakestand 3 Tier" in page, text
        assert f"http://127.0.0.1:{port}/" in text and "admin / admin" in text
        worker_pid = int(text.split("Celery worker pid ")[1].split(",")[0])
        web_pid = int(text.split("web server pid ")[1].split(".")[0])
        assert alive(worker_pid) and alive(web_pid)
        # errors answer a short page, not Django's debug page with settings and source code
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/no-such-page/", timeout=5)
        body = missing.value.read()
        assert missing.value.code == 404 and len(body) < 5000 and b"DEBUG" not in body
        css_url = f"http://127.0.0.1:{port}/static/cart_recommender/bundle.css"
        with urllib.request.urlopen(css_url, timeout=5) as css:
            assert css.status == 200  # static files still served with DEBUG off

        demo.send_signal(signal.SIGINT)
        assert demo.wait(60) == 0
        text = log_path.read_text(errors="replace")
        assert "Warm shutdown" in text and text.rstrip().endswith("Stopped.")
        assert not alive(worker_pid) and not alive(web_pid)
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
