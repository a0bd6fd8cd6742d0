"""django-oscar: bundles on Oscar's basket page, recorded behaviour, no shop code.

Adopting the app in an Oscar shop (see docs/integrations.md):

1. ``pip install "cart-recommender[train,postgres]"``
2. ``INSTALLED_APPS += ["rest_framework", "drf_spectacular", "drf_spectacular_sidecar",
   "cart_recommender", "cart_recommender.contrib.oscar"]``
3. ``CART_RECOMMENDER_PRODUCT_MODEL = "catalogue.Product"``
4. ``path("recommender/", include("cart_recommender.urls"))`` in the URLs
5. ``manage.py migrate`` (then ``manage.py cart_recommender_oscar_orders`` to learn from the
   orders the shop already has, and ``manage.py cart_recommender_train``)
6. ``{% include "cart_recommender/oscar/basket.html" %}`` in the shop's basket template

This integration then provides the adapter (:class:`~.adapter.OscarAdapter`: Oscar's
catalogue, pricing strategy, stock records, basket and currency), records views, basket
additions and orders from Oscar's own signals, and puts a whole bundle into the basket.
"""
