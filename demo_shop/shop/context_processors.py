from demo_shop.shop.adapter import CART_SESSION_KEY


def cart(request):
    items = request.session.get(CART_SESSION_KEY, {}) if hasattr(request, "session") else {}
    return {"cart_count": sum(int(q) for q in items.values())}
