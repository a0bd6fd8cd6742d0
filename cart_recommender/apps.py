from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CartRecommenderConfig(AppConfig):
    name = "cart_recommender"
    verbose_name = _("Cart recommender")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported here, once the app registry is ready: checks register themselves,
        # receivers are connected explicitly.
        from cart_recommender import checks, receivers  # noqa: F401

        receivers.connect()
