"""The wheel a shop installs carries everything the app needs at run time, and no tests."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory) -> list[str]:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--skip-dependency-check",
         "--outdir", str(out), str(ROOT)],
        check=True, capture_output=True, cwd=out,
    )
    (wheel,) = out.glob("cart_recommender-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def test_wheel_carries_templates_static_migrations_and_types(wheel_names):
    names = set(wheel_names)
    assert "cart_recommender/py.typed" in names
    assert "cart_recommender/migrations/0001_initial.py" in names
    assert "cart_recommender/templates/cart_recommender/bundle.html" in names
    assert "cart_recommender/static/cart_recommender/beacon.js" in names
    assert any(n.startswith("cart_recommender/templates/admin/cart_recommender/") for n in names)
    assert "cart_recommender/ml/serving.py" in names
    assert "cart_recommender/contrib/oscar/templates/cart_recommender/oscar/bundle.html" in names


def test_wheel_holds_no_tests_and_no_demo_shop(wheel_names):
    assert not [n for n in wheel_names if n.startswith(("tests/", "demo_shop/", "benchmarks/"))]
