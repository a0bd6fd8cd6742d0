"""URLs of the app; include them under any prefix.

Example: ``path("recommender/", include("cart_recommender.urls"))``.
"""

from django.apps import apps
from django.urls import include, path

from cart_recommender.api.beacon import beacon
from cart_recommender.serving.add_all import bundle_click

app_name = "cart_recommender"
urlpatterns: list = [
    path("api/", include("cart_recommender.api.urls")),
    path("beacon/", beacon, name="beacon"),
    path("bundle/add-all/", bundle_click, name="bundle-click"),
]
# An installed integration (cart_recommender.contrib.oscar) adds its own views, under its name.
for _config in apps.get_app_configs():
    if getattr(_config, "cart_recommender_urls", None):
        urlpatterns.append(path(f"{_config.label.removeprefix('cart_recommender_')}/",
                                include(_config.cart_recommender_urls)))
