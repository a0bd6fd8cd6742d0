"""The shop's pages: catalog, product, cart, checkout and the order confirmation.

Every behaviour the recommender learns from is recorded here with
``cart_recommender.events.recording.record_event``:

* ``click``: a catalog link carries ``?from=catalog``; the product view records the click and
  redirects to the product's own URL, so reloading the page never counts a second click;
* ``view``: each display of a product page;
* ``add_to_cart`` / ``remove_from_cart``: recorded by :class:`~demo_shop.shop.cart.Cart` with
  the quantity that changed (a quantity change from 2 to 5 is an add of 3);
* ``purchase``: one per order line at checkout, with the order number as ``order_ref``.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from cart_recommender.events.recording import record_event
from cart_recommender.models import Event, EventType
from demo_shop.shop.cart import MAX_QUANTITY, Cart
from demo_shop.shop.checkout import CheckoutError, place_order
from demo_shop.shop.forms import CheckoutForm, QuantityForm
from demo_shop.shop.models import Order, Product

PER_PAGE = 24
SORTS = {
    "popular": ("-purchases", "Most popular"),
    "name": ("name", "Name"),
    "price": ("price", "Price: low to high"),
    "-price": ("-price", "Price: high to low"),
}
ORDERS_SESSION_KEY = "orders"


def _next_url(request: HttpRequest, default: str) -> str:
    """The ``next`` the form asked for, if it points into this site; otherwise ``default``."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default


def _search(products, query: str):
    """Every word of the query must appear in the name; a whole stock code matches too."""
    words = query.split()
    by_name = Q()
    for word in words:
        by_name &= Q(name__icontains=word)
    return products.filter(by_name | Q(sku__iexact=query))


def _purchase_count() -> Subquery:
    """How many orders bought the product, from the behaviour events (imports included)."""
    purchases = (
        Event.objects.filter(product=OuterRef("pk"), event_type=EventType.PURCHASE)
        .order_by().values("product").annotate(n=Count("pk")).values("n")
    )
    return Coalesce(Subquery(purchases, output_field=IntegerField()), 0)


def catalog(request: HttpRequest) -> HttpResponse:
    products = Product.objects.filter(is_active=True)
    query = request.GET.get("q", "").strip()[:100]
    if query:
        products = _search(products, query)
    # category counts follow the search, so the filter shows where the matches are
    categories = (
        products.exclude(category="").values("category").annotate(count=Count("pk")).order_by("category")
    )
    category = request.GET.get("category", "")
    if category:
        products = products.filter(category=category)
    sort = request.GET.get("sort", "popular")
    if sort not in SORTS:
        sort = "popular"
    if sort == "popular":
        products = products.annotate(purchases=_purchase_count())
    products = products.order_by(SORTS[sort][0], "name", "pk")
    page = Paginator(products, PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "shop/catalog.html", {
        "page": page,
        "query": query,
        "category": category,
        "categories": categories,
        "sort": sort,
        "sorts": [(key, label) for key, (_, label) in SORTS.items()],
    })


def product(request: HttpRequest, sku: str) -> HttpResponse:
    product = get_object_or_404(Product, sku=sku)
    if request.GET.get("from") == "catalog":
        record_event(request, "click", product)
        return redirect(product)
    record_event(request, "view", product)
    return render(request, "shop/product.html", {
        "product": product,
        "form": QuantityForm(initial={"quantity": 1}),
        "in_cart": Cart(request).quantity_of(product),
        "sellable": product.is_active and product.stock > 0,
    })


@require_POST
def cart_add(request: HttpRequest, sku: str) -> HttpResponse:
    product = get_object_or_404(Product, sku=sku)
    form = QuantityForm(request.POST)
    if not (product.is_active and product.stock > 0):
        messages.error(request, f"{product.display_name} is not on sale at the moment.")
    elif not form.is_valid() or form.cleaned_data["quantity"] < 1:
        messages.error(request, "Please choose a quantity of at least 1.")
    else:
        added = Cart(request).add(product, form.cleaned_data["quantity"])
        if added:
            messages.success(request, f"Added {added} × {product.display_name} to your cart.")
        else:
            messages.warning(request, f"A cart line holds at most {MAX_QUANTITY} of {product.display_name}.")
    return redirect(_next_url(request, reverse("shop:cart")))


@require_POST
def cart_add_many(request: HttpRequest) -> HttpResponse:
    """Add one of each posted ``product`` (primary keys); the recommender's "Add all" posts here."""
    wanted = [int(pk) for pk in request.POST.getlist("product") if pk.strip().isdigit()]
    found = Product.objects.filter(pk__in=wanted, is_active=True, stock__gt=0).in_bulk()
    cart = Cart(request)
    added = [found[pk] for pk in dict.fromkeys(wanted) if pk in found and cart.add(found[pk], 1)]
    if added:
        names = ", ".join(p.display_name for p in added)
        noun = "product" if len(added) == 1 else "products"
        messages.success(request, f"Added {len(added)} {noun} to your cart: {names}.")
    else:
        messages.error(request, "None of those products could be added.")
    return redirect(_next_url(request, reverse("shop:cart")))


@require_POST
def cart_update(request: HttpRequest, pk: int) -> HttpResponse:
    product = get_object_or_404(Product, pk=pk)
    form = QuantityForm(request.POST)
    if form.is_valid():
        Cart(request).set_quantity(product, form.cleaned_data["quantity"])
        if form.cleaned_data["quantity"] == 0:
            messages.info(request, f"Removed {product.display_name} from your cart.")
    else:
        messages.error(request, "Please enter a quantity between 0 and 999.")
    return redirect("shop:cart")


@require_POST
def cart_remove(request: HttpRequest, pk: int) -> HttpResponse:
    product = get_object_or_404(Product, pk=pk)
    if Cart(request).remove(product):
        messages.info(request, f"Removed {product.display_name} from your cart.")
    return redirect("shop:cart")


def cart(request: HttpRequest) -> HttpResponse:
    lines = Cart(request).lines()
    return render(request, "shop/cart.html", {"lines": lines, "total": Cart.total_of(lines)})


def checkout(request: HttpRequest) -> HttpResponse:
    cart = Cart(request)
    lines = cart.lines()
    if not lines:
        messages.info(request, "Your cart is empty.")
        return redirect("shop:cart")
    form = CheckoutForm(request.POST or None, initial={"email": getattr(request.user, "email", "")})
    if request.method == "POST" and form.is_valid():
        try:
            order = place_order(request, cart, form.cleaned_data["email"])
        except CheckoutError as exc:
            messages.error(request, str(exc))
            return redirect("shop:cart")
        request.session[ORDERS_SESSION_KEY] = [*request.session.get(ORDERS_SESSION_KEY, []), order.pk]
        return redirect("shop:order", pk=order.pk)
    return render(request, "shop/checkout.html", {
        "form": form, "lines": lines, "total": Cart.total_of(lines),
    })


def order(request: HttpRequest, pk: int) -> HttpResponse:
    """An order's confirmation, shown only to the session that placed it (or to staff)."""
    if not (request.user.is_staff or pk in request.session.get(ORDERS_SESSION_KEY, [])):
        raise Http404("No such order in this session.")
    order = get_object_or_404(Order.objects.prefetch_related("lines__product"), pk=pk)
    return render(request, "shop/order.html", {"order": order})
