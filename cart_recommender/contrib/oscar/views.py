"""Putting a whole bundle into Oscar's basket: the target of "Add all to cart".

Oscar's ``basket:add`` takes one product per POST. This view takes several, checks each with
the request's pricing strategy as Oscar's own add view does, adds what may be bought, sends
Oscar's ``basket_addition`` signal for each (so offers, analytics and the app's recording see
an ordinary addition) and returns to the page the shopper came from.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from oscar.apps.basket.signals import basket_addition
from oscar.core.loading import get_model

from cart_recommender.conf import app_settings


@require_POST
def add_many(request: HttpRequest) -> HttpResponse:
    Product = get_model("catalogue", "Product")
    wanted = [pk for pk in request.POST.getlist("product") if pk.isdigit()][: app_settings.MAX_BUNDLE_SIZE]
    products = Product._default_manager.in_bulk([int(pk) for pk in wanted])
    added = []
    for pk in wanted:
        product = products.get(int(pk))
        if product is None:
            continue
        info = request.strategy.fetch_for_product(product)
        allowed, reason = info.availability.is_purchase_permitted(1)
        if allowed:
            allowed, reason = request.basket.is_quantity_allowed(1, line=None)
        if not allowed:
            messages.warning(request, _("%(product)s was not added: %(reason)s")
                             % {"product": product.get_title(), "reason": reason})
            continue
        request.basket.add_product(product, 1)
        basket_addition.send(sender=add_many, product=product, user=request.user, request=request)
        added.append(product.get_title())
    if added:
        messages.success(request, _("Added to your basket: %(names)s") % {"names": ", ".join(added)})
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        target = reverse("basket:summary")
    return HttpResponseRedirect(target)
