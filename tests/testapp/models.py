"""A product model deliberately unlike the demo shop's.

EAN-13 strings as primary keys, prices in integer cents, a boolean instead of stock, and a
"shelf" instead of a category: the app must work through the adapter alone.
"""

from decimal import Decimal

from django.db import models


class Article(models.Model):
    ean = models.CharField(max_length=13, primary_key=True)
    title = models.CharField(max_length=120)
    price_cents = models.IntegerField(default=0)
    available = models.BooleanField(default=True)
    shelf = models.CharField(max_length=40, blank=True, default="")

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return f"/articles/{self.ean}/"

    @property
    def price(self) -> Decimal:
        return Decimal(self.price_cents) / 100
