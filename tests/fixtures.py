"""Fixtures shared by both suites: a real Celery worker process and a real headless Chromium.

Nothing here is mocked: the worker is ``celery worker`` in a child process on the same test
database and broker as the test; the browser is Debian's Chromium driven by Playwright.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]


class WorkerProcess:
    def __init__(self, proc: subprocess.Popen, log_path: Path) -> None:
        self.proc = proc
        self.log_path = log_path

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_worker(celery_app: str, queues: str, log_path: Path, extra_env: dict | None = None,
                 timeout: float = 60) -> WorkerProcess:
    """Start ``celery worker`` on the current test database and wait until it is ready."""
    import importlib

    from django.db import connection

    # a message left by an earlier test (a retrain requested without a worker) must not be
    # mistaken for this test's: start every worker on empty queues
    module = importlib.import_module(celery_app)
    app = getattr(module, "app", None) or module.celery_app
    with app.connection_for_write() as conn:
        for queue in queues.split(","):
            try:
                conn.default_channel.queue_purge(queue)
            except Exception:  # a queue nobody declared yet has nothing to purge
                pass
    env = dict(os.environ)
    env["CART_TEST_DB_NAME"] = str(connection.settings_dict["NAME"])
    env.setdefault("OMP_NUM_THREADS", "1")
    env.update(extra_env or {})
    log = open(log_path, "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", celery_app, "worker", "--pool", "solo",
         "--concurrency", "1", "--queues", queues, "--loglevel", "INFO",
         "--without-mingle", "--without-gossip", "--without-heartbeat"],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=Path(__file__).resolve().parent.parent,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log_path.read_text(errors="replace")
        if "ready." in text:
            return WorkerProcess(proc, log_path)
        if proc.poll() is not None:
            raise RuntimeError(f"celery worker exited early:\n{text}")
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"celery worker not ready after {timeout}s:\n{log_path.read_text()}")


def stop_worker(worker: WorkerProcess) -> None:
    if worker.proc.poll() is None:
        worker.proc.terminate()
        try:
            worker.proc.wait(20)
        except subprocess.TimeoutExpired:
            worker.proc.kill()
            worker.proc.wait(10)


@pytest.fixture
def celery_worker_process(transactional_db, tmp_path) -> Iterator[WorkerProcess]:
    """A real worker for the library's test settings, consuming every queue the app uses."""
    import tests.celery_app  # noqa: F401  (binds shared tasks to the test suite's app)

    worker = start_worker("tests.celery_app", "celery,cart_recommender_training", tmp_path / "worker.log")
    try:
        yield worker
    finally:
        stop_worker(worker)


@pytest.fixture(scope="session")
def chromium_browser():
    """Debian's Chromium, headless, driven by Playwright (no browser download)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's chromium package (make test does)")
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium_browser):
    context = chromium_browser.new_context()
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()
