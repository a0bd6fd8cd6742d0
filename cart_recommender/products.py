"""Access to the host shop's product model, named by ``CART_RECOMMENDER_PRODUCT_MODEL``."""

from __future__ import annotations

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

from cart_recommender.conf import PRODUCT_MODEL_SETTING


def get_product_model_label() -> str:
    label = getattr(settings, PRODUCT_MODEL_SETTING, None)
    if not label:
        raise ImproperlyConfigured(
            f"Set {PRODUCT_MODEL_SETTING} = 'app_label.ModelName' to the shop's product model."
        )
    return label


def get_product_model() -> type[models.Model]:
    """Return the shop's product model class, like ``get_user_model()``."""
    label = get_product_model_label()
    try:
        return apps.get_model(label, require_ready=False)
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"{PRODUCT_MODEL_SETTING} must be of the form 'app_label.ModelName', not {label!r}."
        ) from exc
    except LookupError as exc:
        raise ImproperlyConfigured(
            f"{PRODUCT_MODEL_SETTING} refers to model {label!r} that has not been installed."
        ) from exc
