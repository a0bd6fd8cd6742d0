"""URLs of the app; include them under any prefix: ``path("recommender/", include("cart_recommender.urls"))``."""

from django.urls import include, path

app_name = "cart_recommender"
urlpatterns: list = [
    path("api/", include("cart_recommender.api.urls")),
]
