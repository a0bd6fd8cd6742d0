"""A small Oscar catalogue: products with stock records, categories, a parent with children."""

from __future__ import annotations

from decimal import Decimal

from oscar.apps.catalogue.categories import create_from_breadcrumbs
from oscar.core.loading import get_model
from oscar.test.factories import create_product, create_stockrecord

Product = get_model("catalogue", "Product")
ProductCategory = get_model("catalogue", "ProductCategory")

#: title -> (price, stock, category)
CATALOGUE = {
    "Green tea": ("4.50", 1000, "Drinks > Tea"),
    "Blue mug": ("8.00", 1000, "Kitchen > Mugs"),
    "Red mug": ("7.50", 1000, "Kitchen > Mugs"),
    "Biscuits": ("3.00", 1000, "Food > Biscuits"),
    "Spoon": ("1.50", 1000, "Kitchen > Cutlery"),
    "Lemon cake": ("6.00", 1000, "Food > Cakes"),
    "Teapot": ("25.00", 0, "Kitchen > Teapots"),  # out of stock: never offered
}


def make_catalogue() -> dict[str, Product]:
    products = {}
    for title, (price, stock, category) in CATALOGUE.items():
        product = create_product(title=title, product_class="Goods")
        create_stockrecord(product, price=Decimal(price), num_in_stock=stock, partner_sku=f"SKU-{title}")
        ProductCategory.objects.create(product=product, category=create_from_breadcrumbs(category))
        products[title] = product
    hidden = create_product(title="Secret", product_class="Goods", is_public=False)
    create_stockrecord(hidden, price=Decimal("2.00"), num_in_stock=5)
    products["Secret"] = hidden
    shirt = create_product(title="Shirt", product_class="Clothes", structure="parent")
    for size in ("S", "M"):
        child = create_product(title=f"Shirt {size}", parent=shirt, product_class="Clothes")
        create_stockrecord(child, price=Decimal("12.00"), num_in_stock=5)
        products[f"Shirt {size}"] = child
    products["Shirt"] = shirt
    return products
