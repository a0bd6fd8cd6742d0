"""REST endpoints (DRF). Included by cart_recommender.urls under ``api/``."""

from django.urls import path

urlpatterns: list = []
