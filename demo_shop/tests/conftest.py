"""Fixtures of the demo shop's suite (run with ``--ds=demo_shop.settings``).

The test database is a file, not SQLite's in-memory default, so the live server thread of
the browser tests and any process a test starts see the same data.
"""

from __future__ import annotations

import csv
import gzip
from decimal import Decimal
from pathlib import Path

import pytest

from cart_recommender.csvformat import COLUMNS


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory) -> None:
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        db.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.mktemp("demo-db") / "test.sqlite3")


@pytest.fixture(autouse=True)
def _isolated_storage(settings, tmp_path) -> None:
    """Model artifacts and uploads of a test go to its own folder, never the demo's var/."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def products(db):
    """A small catalog over three categories, names chosen for the search tests."""
    from demo_shop.shop.models import Product

    rows = [
        ("84879", "ASSORTED COLOUR BIRD ORNAMENT", "Home decor", "1.69"),
        ("85123A", "WHITE HANGING HEART T-LIGHT HOLDER", "Lighting & candles", "2.95"),
        ("22423", "REGENCY CAKESTAND 3 TIER", "Baking", "12.75"),
        ("47566", "PARTY BUNTING", "Party", "4.95"),
        ("85099B", "JUMBO BAG RED RETROSPOT", "Bags & purses", "2.08"),
        ("20725", "LUNCH BAG RED RETROSPOT", "Bags & purses", "1.65"),
        ("22720", "SET OF 3 CAKE TINS PANTRY DESIGN", "Baking", "4.95"),
        ("21212", "PACK OF 72 RETROSPOT CAKE CASES", "Baking", "0.55"),
    ]
    return [
        Product.objects.create(sku=sku, name=name, category=cat, price=Decimal(price), stock=50)
        for sku, name, cat, price in rows
    ]


def write_events_csv(path: Path, orders: dict[str, list[tuple[str, str, str, str]]]) -> Path:
    """Write a small purchase history in the behaviour-events CSV format (gzip'd).

    ``orders`` maps an order id to its lines ``(item_id, item_name, category, price)``.
    """
    with gzip.open(path, "wt", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for n, (order_id, lines) in enumerate(orders.items()):
            for item_id, name, category, price in lines:
                writer.writerow([
                    f"2011-0{1 + n % 9}-1{n % 10}T10:{n % 60:02d}:00Z", f"u{n % 5}", "", "purchase",
                    item_id, order_id, 2, price, name, category,
                ])
    return path
