"""A small django-oscar shop that adopts cart_recommender exactly as docs/integrations.md says.

Oscar's own settings (``oscar.INSTALLED_APPS``, ``oscar.defaults``) plus the six adoption steps
and nothing else of the app's: no adapter, no receivers, no views of the shop's own. Run with
``make test-oscar`` (``--ds=tests.oscar.settings``).
"""

import os
import tempfile
from pathlib import Path

import dj_database_url
from oscar import INSTALLED_APPS as OSCAR_APPS
from oscar.defaults import *  # noqa: F401,F403

VAR_DIR = Path(os.environ.get("CART_OSCAR_VAR_DIR") or tempfile.mkdtemp(prefix="cart-oscar-"))
os.environ["CART_OSCAR_VAR_DIR"] = str(VAR_DIR)

SECRET_KEY = "oscar-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
SITE_ID = 1

# -- step 2 of the adoption: the app and its integration (and what its API docs need) ------
INSTALLED_APPS = [
    *OSCAR_APPS,
    "sorl.thumbnail",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "cart_recommender",
    "cart_recommender.contrib.oscar",
]
# -- step 3: the one setting --------------------------------------------------------------
CART_RECOMMENDER_PRODUCT_MODEL = "catalogue.Product"

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "oscar.apps.basket.middleware.BasketMiddleware",
    "django.contrib.flatpages.middleware.FlatpageFallbackMiddleware",
]
ROOT_URLCONF = "tests.oscar.urls"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [Path(__file__).resolve().parent / "templates"],
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.debug",
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
        "oscar.apps.search.context_processors.search_form",
        "oscar.apps.checkout.context_processors.checkout",
        "oscar.apps.communication.notifications.context_processors.notifications",
        "oscar.core.context_processors.metadata",
    ]},
}]
AUTHENTICATION_BACKENDS = ["oscar.apps.customer.auth_backends.EmailBackend",
                           "django.contrib.auth.backends.ModelBackend"]
HAYSTACK_CONNECTIONS = {"default": {"ENGINE": "haystack.backends.simple_backend.SimpleEngine"}}

_db = dj_database_url.config(default=f"sqlite:///{VAR_DIR / 'oscar.sqlite3'}")
if _db["ENGINE"].endswith("sqlite3"):
    _db["TEST"] = {"NAME": str(VAR_DIR / "test-oscar.sqlite3")}
    _db.setdefault("OPTIONS", {}).update(timeout=30)
else:
    _db["NAME"] = f"{_db['NAME']}_oscar"
DATABASES = {"default": _db}

USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-gb"
STATIC_URL = "/static/"
MEDIA_URL = "/media/"
MEDIA_ROOT = VAR_DIR / "media"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CELERY_BROKER_URL = "memory://"
