"""Settings of the serving benchmark: the demo shop on its own database, DEBUG off.

``BENCH_DB`` names the SQLite file (or set ``DATABASE_URL`` for PostgreSQL); the benchmark
script sets both up. A per-process memory cache, like one a shop would give each worker.
"""

import os

from demo_shop.settings import *  # noqa: F401,F403
from demo_shop.settings import CART_RECOMMENDER, DATABASES

DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "benchmarks.serving_urls"
if os.environ.get("BENCH_DB") and not os.environ.get("DATABASE_URL"):
    DATABASES = {  # noqa: F811
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ["BENCH_DB"],
            "OPTIONS": {"timeout": 30},
        }
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = 600
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "OPTIONS": {"MAX_ENTRIES": 100_000},
    }
}
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": os.environ.get("BENCH_MEDIA", "benchmarks/out/serving/media")},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
CART_RECOMMENDER = {
    **CART_RECOMMENDER,
    "FREE_SHIPPING_THRESHOLD": None,
    # A short fit: the benchmark measures serving, whose cost does not depend on how long the
    # model trained (the artifact's shapes follow the catalog and the architecture only).
    "TRAINING": {"max_examples_per_epoch": 10_000, "max_epochs": 2, "time_budget_s": 90},
}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
