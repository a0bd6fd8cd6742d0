"""The bundle API at its 0.1 path; it lives in :mod:`cart_recommender.serving.bundles` now."""

from cart_recommender.serving.bundle import Bundle, BundleError, BundleItem
from cart_recommender.serving.bundles import frequently_bought_together, get_bundle
from cart_recommender.serving.cart import Cart

__all__ = ["Bundle", "BundleError", "BundleItem", "Cart", "frequently_bought_together", "get_bundle"]
