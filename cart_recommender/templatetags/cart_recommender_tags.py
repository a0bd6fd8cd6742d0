"""``{% complete_your_cart %}``: the bundle on any page of the shop.

Example::

    {% load cart_recommender_tags %}
    {% complete_your_cart %}                       {# the request's cart, via the adapter #}
    {% complete_your_cart lines size=4 %}          {# an explicit cart #}
    {% complete_your_cart product=product %}       {# a product page: the cart plus this product #}

``{% cart_recommender_segment as segment %}`` gives the request's shopper's segment (``segment.id``,
``segment.name``; None for a shopper in none) for the shop's own targeting, from memory (no query)::

    {% cart_recommender_segment as segment %}
    {% if segment.name == "Recent regulars" %}<p>Welcome back!</p>{% endif %}

The bundle tag renders ``cart_recommender/bundle.html`` (override it in the shop's templates), records a
``bundle_impression`` event per shown item (carrying the bundle's id, for attribution), and
exposes the serving model version, the bundle id and the A/B test arm in the markup
(``data-model-version``, ``data-bundle-id``, ``data-experiment-arm``).
"""

from __future__ import annotations

from typing import Any

from django import template
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from cart_recommender import shoppers
from cart_recommender.adapter import get_adapter
from cart_recommender.serving import add_all, state
from cart_recommender.serving.bundles import get_bundle
from cart_recommender.serving.cart import Cart

register = template.Library()


@register.simple_tag(takes_context=True)
def complete_your_cart(
    context: template.Context,
    cart: Any = None,
    *,
    product: Any = None,
    size: int | None = None,
    template_name: str = "cart_recommender/bundle.html",
) -> SafeString:
    """Render the bundle that completes ``cart`` (default: the request's cart)."""
    request = context.get("request")
    adapter = get_adapter()
    if cart is None:
        cart = adapter.get_cart(request) if request is not None else []
    items = Cart.of(cart)
    if product is not None:
        items = items.merged(Cart.of([product]))
    # a session now, so an anonymous visitor's A/B arm and attribution hold from the first page
    bundle = get_bundle(items, shopper=shoppers.of_request(request, create_session=True), size=size)
    form = add_all.bundle_form(request, bundle) if bundle.items else None
    if bundle.items and request is not None:
        add_all.record_bundle_events(request, bundle, "bundle_impression")
    return render_to_string(template_name, {"bundle": bundle, "form": form}, request=request)


@register.simple_tag(takes_context=True)
def cart_recommender_segment(context: template.Context) -> Any:
    """The segment of the request's shopper (a :class:`~cart_recommender.serving.segments.SegmentLabel`)
    in the serving version's grouping, or None."""
    request = context.get("request")
    if request is None:
        return None
    return state.get_state().segments.label_of(shoppers.of_request(request).key)


@register.filter
def cr_price(amount: Any) -> str:
    """A price as the shop shows it: the adapter's ``format_price`` (``{{ item.price|cr_price }}``)."""
    return get_adapter().format_price(amount)
