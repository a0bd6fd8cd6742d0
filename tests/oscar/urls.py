"""Oscar's URLs plus step 4 of the adoption: the app's URLs."""

from django.apps import apps
from django.urls import include, path

urlpatterns = [
    path("recommender/", include("cart_recommender.urls")),
    path("", include(apps.get_app_config("oscar").urls[0])),
]
