from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OscarIntegrationConfig(AppConfig):
    """Names the adapter and URLs the core app uses while this integration is installed."""

    name = "cart_recommender.contrib.oscar"
    label = "cart_recommender_oscar"
    verbose_name = _("Cart recommender for django-oscar")
    #: Read by cart_recommender.conf when the shop sets no ADAPTER of its own.
    cart_recommender_adapter = "cart_recommender.contrib.oscar.adapter.OscarAdapter"
    #: Included by cart_recommender.urls under ``oscar/``.
    cart_recommender_urls = "cart_recommender.contrib.oscar.urls"

    def ready(self) -> None:
        from cart_recommender.contrib.oscar import receivers

        receivers.connect()
