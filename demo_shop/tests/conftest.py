"""Fixtures of the demo shop's suite (run with ``--ds=demo_shop.settings``).

The test database is a file, not SQLite's in-memory default, so the live server thread of
the browser tests and any process a test starts see the same data.
"""

from __future__ import annotations

from decimal import Decimal

import pytest


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
