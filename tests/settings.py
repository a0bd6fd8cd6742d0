"""Settings of the library's test suite, with a product model unlike the demo shop's.

``DATABASE_URL`` switches from SQLite to PostgreSQL; ``CELERY_BROKER_URL`` from a broker
folder to Redis. ``CART_TEST_DB_NAME`` lets a worker process started by a test use the test
database that pytest-django created.
"""

import os
import tempfile
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("CART_TEST_VAR_DIR") or tempfile.mkdtemp(prefix="cart-tests-"))
os.environ["CART_TEST_VAR_DIR"] = str(VAR_DIR)  # worker processes inherit the same folder

SECRET_KEY = "tests-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI / Redoc files for the offline API docs
    "cart_recommender",
    "tests.testapp",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "tests.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

_db = dj_database_url.config(default=f"sqlite:///{VAR_DIR / 'tests.sqlite3'}")
if _db["ENGINE"].endswith("sqlite3"):
    # a file, not memory: worker processes started by tests must see the same database
    _db["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
    # a writer waits for the other process (the worker) instead of failing with "locked"
    _db.setdefault("OPTIONS", {}).update(timeout=30, transaction_mode="IMMEDIATE")
if os.environ.get("CART_TEST_DB_NAME"):
    _db["NAME"] = os.environ["CART_TEST_DB_NAME"]
DATABASES = {"default": _db}

USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "static/"
MEDIA_ROOT = VAR_DIR / "media"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if os.environ.get("REDIS_URL"):  # a shared cache as production has, for the tests that use it
    CACHES["shared"] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ["REDIS_URL"],
        "OPTIONS": {"serializer": "cart_recommender.serving.cache.JSONSerializer"},
    }

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("queue", "processed"):
        (VAR_DIR / "broker" / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(VAR_DIR / "broker" / "queue"),
        "data_folder_out": str(VAR_DIR / "broker" / "queue"),
        "processed_folder": str(VAR_DIR / "broker" / "processed"),
        "store_processed": False,
        "control_folder": str(VAR_DIR / "broker" / "control"),
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1

CART_RECOMMENDER_PRODUCT_MODEL = "testapp.Article"
CART_RECOMMENDER = {
    "ADAPTER": "tests.testapp.adapter.ArticleAdapter",
    "PRODUCT_FIELDS": {
        "name": "title",
        "price": "price_cents",
        "category": "shelf",
        "active": "available",
        "stock": None,
        "image": None,
        "external_id": "pk",
    },
}
REST_FRAMEWORK = {"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}
