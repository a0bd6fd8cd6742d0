"""A fresh PostgreSQL database with the demo shop's schema and a synthetic catalog, for benchmarks."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = "benchmarks.serving_settings"


def fresh_database(database_url: str, products: int) -> None:
    """Drop and create the database of ``database_url``, set Django up on it, migrate, and add
    ``products`` products (40 categories, all in stock)."""
    import psycopg

    base, name = database_url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    os.environ.update(DJANGO_SETTINGS_MODULE=SETTINGS, DATABASE_URL=database_url)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    from demo_shop.shop.models import Product

    call_command("migrate", verbosity=0)
    Product.objects.bulk_create(
        Product(sku=f"P{i:05d}", name=f"Product {i}", price="1.00", category=f"c{i % 40}", stock=100)
        for i in range(products)
    )
