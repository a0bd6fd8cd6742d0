from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CartRecommenderConfig(AppConfig):
    name = "cart_recommender"
    verbose_name = _("Cart recommender")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from cart_recommender import (
            checks,  # noqa: F401  (registers system checks)
            receivers,
        )

        receivers.connect()
