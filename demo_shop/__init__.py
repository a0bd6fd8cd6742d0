"""Retrospot Gifts: a small real shop that hosts cart_recommender."""

from demo_shop.celery import app as celery_app

__all__ = ["celery_app"]
