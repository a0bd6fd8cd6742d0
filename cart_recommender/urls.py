"""URLs of the app; include them under any prefix: ``path("recommender/", include(...))``."""

from django.urls import path

app_name = "cart_recommender"
urlpatterns: list = []
