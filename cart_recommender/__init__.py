"""Complete-your-cart bundles for Django shops.

Importing this package must stay cheap and Django-free: the ML core under
``cart_recommender.ml`` is used by plain scripts that never configure Django.
"""

__version__ = "0.1.0"
