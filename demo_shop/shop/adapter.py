"""How cart_recommender sees the demo shop: its session cart and its add-to-cart endpoint."""

from django.urls import reverse

from cart_recommender.adapter import AddToCartForm, CartLine, DefaultShopAdapter

CART_SESSION_KEY = "cart"


class ShopAdapter(DefaultShopAdapter):
    def get_cart(self, request):
        cart = request.session.get(CART_SESSION_KEY, {}) if hasattr(request, "session") else {}
        return [CartLine(product_id=int(pk), quantity=int(qty)) for pk, qty in cart.items()]

    def get_add_to_cart_form(self, request, products):
        fields = [("product", str(p.pk)) for p in products]
        if request is not None:
            fields.append(("next", request.get_full_path()))
        return AddToCartForm(action=reverse("shop:cart_add_many"), fields=fields)
