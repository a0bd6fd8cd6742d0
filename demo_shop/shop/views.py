"""Placeholder views; the real shop views are built in the demo-shop work."""

from django.http import HttpResponse


def catalog(request):
    return HttpResponse("catalog")


def product(request, sku):
    return HttpResponse(sku)


def cart(request):
    return HttpResponse("cart")


def cart_add_many(request):
    return HttpResponse("add")
