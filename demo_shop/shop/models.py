"""The demo shop's catalog and orders. cart_recommender knows none of this: only the adapter does."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.template.defaultfilters import title
from django.urls import reverse


class Product(models.Model):
    sku = models.CharField("stock code", max_length=32, unique=True)
    name = models.CharField(max_length=200)
    category = models.CharField(max_length=100, blank=True, default="", db_index=True)
    price = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0.00"))
    stock = models.PositiveIntegerField(default=100)
    is_active = models.BooleanField("on sale", default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("shop:product", args=[self.sku])

    @property
    def display_name(self) -> str:
        """The name as shoppers read it: the data's names are in capitals."""
        return title(self.name)

    @property
    def monogram(self) -> str:
        """The letter on the product's tile (the data has no photos): its first word's initial."""
        for word in self.name.split():
            if word[0].isalpha():
                return word[0].upper()
        return self.name[:1]


class Order(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    session_key = models.CharField(max_length=64, blank=True, default="")
    email = models.EmailField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    total = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Order {self.number}"

    @property
    def number(self) -> str:
        return f"W{self.pk:06d}"


class OrderLine(models.Model):
    order = models.ForeignKey(Order, related_name="lines", on_delete=models.CASCADE)
    product = models.ForeignKey(Product, on_delete=models.PROTECT)
    quantity = models.PositiveIntegerField(default=1)
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)

    @property
    def line_total(self) -> Decimal:
        return self.unit_price * self.quantity
