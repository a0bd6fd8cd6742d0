"""Hot swap across processes: two real web servers pick up an activation without a restart.

Each server is ``gunicorn`` in its own process on the test database, with the bundle cache on;
the test activates another version (and rolls back) from the test process and watches both
servers switch within ``MODEL_CHECK_SECONDS`` (1 s here), serving no stale cached bundle.
A separate process also checks that serving never imports Keras or TensorFlow.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from cart_recommender import registry
from tests.bundle_data import activate_model, fresh_serving, make_shop  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_serving")]
ROOT = Path(__file__).resolve().parent.parent
URL = "/recommender/api/bundles/?items=TEA&size=3"


def _env() -> dict[str, str]:
    from django.db import connection

    return dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="tests.hot_swap_settings",
        CART_TEST_DB_NAME=str(connection.settings_dict["NAME"]),
        OPENBLAS_NUM_THREADS="1",
        OMP_NUM_THREADS="1",
        PYTHONPATH=str(ROOT),
    )


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(port: int, path: str = URL) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture
def two_servers(tmp_path):
    servers = []
    for n in range(2):
        port = _port()
        log = open(tmp_path / f"server{n}.log", "wb")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "django.core.wsgi:get_wsgi_application()",
                "--workers",
                "1",
                "--bind",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        servers.append((proc, port, tmp_path / f"server{n}.log"))
    try:
        for proc, port, log in servers:
            deadline = time.monotonic() + 60
            while True:
                try:
                    _get(port, "/recommender/api/schema/?format=json")
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        pytest.fail(f"server did not start:\n{log.read_text()}")
                    time.sleep(0.3)
        yield servers
    finally:
        for proc, _, _ in servers:
            proc.terminate()
        for proc, _, _ in servers:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


def _wait_for(port: int, version: str, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = _get(port)
        if body["model_version"] == version or time.monotonic() > deadline:
            return body
        time.sleep(0.2)


def test_both_servers_swap_models_without_restart_and_drop_cached_bundles(two_servers):
    make_shop()
    first = activate_model("model", seed=1)
    for _, port, _ in two_servers:
        assert _wait_for(port, str(first.pk))["model_version"] == str(first.pk)
        assert _get(port)["model_version"] == str(first.pk)  # now also in the bundle cache
    pids = [proc.pid for proc, _, _ in two_servers]

    second = activate_model("copurchase", seed=2)  # registry.activate, from this process
    started = time.monotonic()
    for _, port, _ in two_servers:
        body = _wait_for(port, str(second.pk))
        assert body["model_version"] == str(second.pk)
        assert [i["id"] for i in body["items"]] == ["MUG1", "BISC", "SPOON"]
    assert time.monotonic() - started < 10

    registry.activate(first, note="rollback")
    for _, port, _ in two_servers:
        assert _wait_for(port, str(first.pk))["model_version"] == str(first.pk)
    assert [proc.pid for proc, _, _ in two_servers] == pids
    assert all(proc.poll() is None for proc, _, _ in two_servers)


SERVE_AND_CHECK = r"""
import json, sys
import django
django.setup()
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore
from django.template import Context, Template
from django.test import Client, RequestFactory
body = Client().get("/recommender/api/bundles/?items=TEA").json()
request = RequestFactory().get("/")
request.user, request.session = AnonymousUser(), SessionStore()
html = Template("{% load cart_recommender_tags %}{% complete_your_cart cart %}").render(
    Context({"request": request, "cart": ["TEA"]}))
Client().get("/admin/login/")
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("keras", "tensorflow", "keras_rs"))
print(json.dumps({"version": body["model_version"], "html": "data-model-version" in html, "heavy": heavy}))
"""


def test_serving_never_imports_keras_or_tensorflow():
    make_shop()
    version = activate_model("model")
    out = subprocess.run(
        [sys.executable, "-c", SERVE_AND_CHECK],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"version": str(version.pk), "html": True, "heavy": []}
