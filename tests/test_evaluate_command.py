"""``cart_recommender_evaluate`` on a small CSV: the report, the JSON, and no database at all."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tests.ml.tiny_shop import tiny_csv

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "events.csv"
    # One bad row (unknown event) is reported with its line number and skipped.
    path.write_text(tiny_csv() + "2023-11-15T00:00:00Z,zoe,,wishlist,a,,1,\n")
    return path


def test_evaluate_prints_the_table_and_writes_the_json(csv_file, tmp_path):
    # No django_db mark: pytest-django fails any query, so this also proves the database is unused.
    out, err = StringIO(), StringIO()
    json_path = tmp_path / "out" / "report.json"
    call_command("cart_recommender_evaluate", str(csv_file), "--no-model", "--json", str(json_path),
                 stdout=out, stderr=err)
    report = json.loads(json_path.read_text())
    assert report["dataset"] == {
        "orders": 15, "train_orders": 13, "test_orders": 2, "queries": 5, "catalog": 6, "items": 7,
    }
    assert set(report["results"]) == {"popularity", "category_popularity", "copurchase", "personal",
                                      "repeat_decay", "tifuknn"}
    # x, first bought in the test period, is the one "new" query: ranked against all 7 products
    # but its cart (a, b), last (rank 5), since no training order holds it
    new = report["results"]["personal"]["by_item_age"]["new"]
    assert new == {"hr@10": 1.0, "ndcg@10": pytest.approx(1 / math.log2(6)), "queries": 1}
    assert report["results"]["personal"]["hr@3"] == pytest.approx(4 / 5)
    assert report["results"]["personal"]["hr_curve"][:3] == pytest.approx([2 / 5, 2 / 5, 4 / 5])
    assert report["results"]["popularity"]["mrr@10"] == pytest.approx((1 + 0.5 + 0.5 + 1 / 3) / 5)
    assert set(report["timings"]) >= {"train_s", "eval_s"}
    assert all(t["fit_peak_mb"] >= 0 for t in report["timings"]["by_method"].values())
    assert report["source"]["bad_rows"] == 1
    table = out.getvalue()
    assert "popularity" in table and "HR@10" in table and "0.8000" in table
    assert "line 35" in err.getvalue() and "wishlist" in err.getvalue()


def test_missing_file_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        call_command("cart_recommender_evaluate", str(tmp_path / "nope.csv"), "--no-model")


def test_runs_with_an_unreachable_database(csv_file, tmp_path):
    env = {**os.environ, "DATABASE_URL": "postgres://nobody@127.0.0.1:9/none", "PYTHONPATH": str(ROOT),
           "DJANGO_SETTINGS_MODULE": "tests.settings"}
    result = subprocess.run(
        [sys.executable, "-m", "django", "cart_recommender_evaluate", str(csv_file), "--no-model"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "copurchase" in result.stdout


def test_peak_memory_sees_what_a_block_allocates_and_frees():
    import numpy as np

    from cart_recommender.ml.quality import PeakMemory

    with PeakMemory() as memory:
        block = np.ones(200 * 2**20 // 8)  # 200 MB, touched
        time.sleep(0.2)
        del block
    assert 150 < memory.added_mb < 400
    with PeakMemory() as idle:
        time.sleep(0.1)
    assert idle.added_mb < 50
