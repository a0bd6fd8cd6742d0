"""Catalog rebuild in a django-oscar shop: queries and seconds for ``--products`` products.

Builds an Oscar catalogue in a fresh SQLite file (or ``DATABASE_URL``) with the test shop's
settings (tests/oscar/settings.py): products in 40 categories of a two-level tree, a stock record
each, and then rebuilds the in-process catalog snapshot twice: through the Oscar adapter's
``catalog_queryset()`` (Oscar's ``base_queryset()`` with categories prefetched, category names
read once), and product by product as an adapter without it would (``product_queryset()``).

    python benchmarks/oscar_catalog.py --products 20000 --json benchmarks/out/oscar_catalog.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=20_000)
    parser.add_argument("--json", metavar="OUT")
    args = parser.parse_args()
    os.environ.setdefault("CART_OSCAR_VAR_DIR", tempfile.mkdtemp(prefix="cart-oscar-bench-"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.oscar.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from oscar.apps.catalogue.categories import create_from_breadcrumbs
    from oscar.core.loading import get_model

    from cart_recommender.contrib.oscar.adapter import OscarAdapter
    from cart_recommender.serving import catalog

    call_command("migrate", verbosity=0)
    Product, ProductClass = get_model("catalogue", "Product"), get_model("catalogue", "ProductClass")
    ProductCategory = get_model("catalogue", "ProductCategory")
    StockRecord = get_model("partner", "StockRecord")
    Partner = get_model("partner", "Partner")
    goods = ProductClass.objects.create(name="Goods")
    partner = Partner.objects.create(name="Warehouse")
    categories = [create_from_breadcrumbs(f"Department {d} > Shelf {s}") for d in range(8) for s in range(5)]
    started = time.perf_counter()
    products = Product.objects.bulk_create(
        Product(title=f"Product {i}", product_class=goods, structure="standalone", slug=f"product-{i}")
        for i in range(args.products)
    )
    StockRecord.objects.bulk_create(
        StockRecord(product=p, partner=partner, partner_sku=f"SKU{i}", price=Decimal("1.99"),
                    price_currency="GBP", num_in_stock=10)
        for i, p in enumerate(products)
    )
    ProductCategory.objects.bulk_create(
        ProductCategory(product=p, category=categories[i % len(categories)]) for i, p in enumerate(products)
    )
    setup_s = time.perf_counter() - started

    class PerProduct(OscarAdapter):
        """The same readers without the batch queryset: what an adapter without it costs."""

        def catalog_queryset(self):
            self._category_names = None
            return self.product_queryset()

    report = {"products": args.products, "setup_s": round(setup_s, 1)}
    for name, adapter in (("batched", OscarAdapter()), ("per_product", PerProduct())):
        catalog.get_adapter = lambda adapter=adapter: adapter  # noqa: B023 (bound per loop)
        queries = []  # counted by a wrapper: Django's own query log keeps only the last 9,000

        def count(execute, sql, params, many, context, queries=queries):
            queries.append(1)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            started = time.perf_counter()
            snap = catalog.build_snapshot()
            seconds = time.perf_counter() - started
        report[name] = {"queries": len(queries), "seconds": round(seconds, 2),
                        "sellable": sum(p.sellable for p in snap.products.values())}
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    print(f"\n{'rebuild':<12} {'queries':>8} {'seconds':>8}")
    for name in ("batched", "per_product"):
        print(f"{name:<12} {report[name]['queries']:>8,} {report[name]['seconds']:>8}")


if __name__ == "__main__":
    main()
