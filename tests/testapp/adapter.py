"""The test shop's adapter: a cart in the session under its own key, prices in cents."""

from decimal import Decimal

from cart_recommender.adapter import AddToCartForm, CartLine, DefaultShopAdapter


class ArticleAdapter(DefaultShopAdapter):
    def get_price(self, product):
        return Decimal(product.price_cents) / 100

    def create_product(self, external_id, name, category, price):
        from tests.testapp.models import Article

        cents = int((price or Decimal(0)) * 100)
        return Article.objects.create(ean=external_id, title=name or external_id,
                                      price_cents=cents, shelf=category or "")

    def get_cart(self, request):
        basket = request.session.get("basket", []) if hasattr(request, "session") else []
        return [CartLine(product_id=ean, quantity=1) for ean in basket]

    def get_add_to_cart_form(self, request, products):
        return AddToCartForm(action="/basket/add/", fields=[("ean", p.pk) for p in products])


class LabelledArticleAdapter(ArticleAdapter):
    """Display data from more than the row (as a shop reading an image table would)."""

    def get_display(self, product, request=None):
        display = super().get_display(product, request)
        return type(display)(name=f"{display.name} (shelf {product.shelf})", url=display.url,
                             image_url=display.image_url)


class LinkedArticleAdapter(ArticleAdapter):
    """A shop whose imported history names customers ``cust-<username>``."""

    def get_shopper_ref(self, user):
        return "" if user.username.startswith("guest") else f"cust-{user.username}"
