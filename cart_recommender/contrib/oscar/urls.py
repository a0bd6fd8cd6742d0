"""Included by cart_recommender.urls under ``oscar/`` while this integration is installed."""

from django.urls import path

from cart_recommender.contrib.oscar.views import add_many

urlpatterns: list = [
    path("basket/add-many/", add_many, name="oscar-add-many"),
]
