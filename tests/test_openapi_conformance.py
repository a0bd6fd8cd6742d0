"""The OpenAPI schema matches every answer the API gives: schemathesis against a live server.

Schemathesis (a real HTTP client, generating valid and invalid requests from the schema) runs
``--checks all`` over every operation, once anonymously and once with a staff token that may
ingest events and erase and export shoppers, with a fixed seed and a bounded number of
examples so the run is repeatable and short.
A failure prints schemathesis's report: the request that broke the contract and the answer.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from rest_framework.authtoken.models import Token

from tests.bundle_data import fresh_serving, make_shop, recommender_settings  # noqa: F401
from tests.testapp.models import Article

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_serving")]

CONFIG = Path(__file__).resolve().parent / "schemathesis.toml"
SEED = 20261206
MAX_EXAMPLES = int(os.environ.get("CART_SCHEMATHESIS_EXAMPLES", "40"))


def schemathesis(base_url: str, tmp_path: Path, *headers: str) -> subprocess.CompletedProcess:
    st = shutil.which("st", path=str(Path(sys.executable).parent)) or "st"
    command = [
        st, "--config-file", str(CONFIG), "run", f"{base_url}/recommender/api/schema/?format=json",
        "--url", base_url,
        "--checks", "all", "--seed", str(SEED), "--max-examples", str(MAX_EXAMPLES), "--workers", "1",
        "--no-color", "--request-timeout", "20", "--report", "junit", "--report-dir", str(tmp_path),
        "--suppress-health-check", "all", "--max-failures", "20",
    ]
    for header in headers:
        command += ["-H", header]
    tmp_path.mkdir(parents=True, exist_ok=True)
    return subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)


def test_the_api_answers_as_its_schema_says(live_server, tmp_path):
    make_shop()
    for ean in ("85123A", "22423", "71053"):  # the ids of the schema's own examples
        Article.objects.create(ean=ean, title=ean, price_cents=255, shelf="examples")
    # staff that may ingest, erase and export: every operation answers past its permission check
    user = get_user_model().objects.create_user("feeder", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(
        codename__in=["ingest_events", "forget_shopper", "export_shopper"]))
    token = Token.objects.create(user=user)
    with recommender_settings(BEACON_EVENTS_PER_MINUTE=None):
        anonymous = schemathesis(live_server.url, tmp_path / "anonymous")
        authorised = schemathesis(live_server.url, tmp_path / "token", f"Authorization: Token {token.key}")
    for run in (anonymous, authorised):
        assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]
