"""The app's cache (``CACHE_ALIAS``): JSON text and integers only, never a pickle.

Django's cache backends pickle what they store and unpickle what they read, so whoever can
write to the cache server can run code in every web process that reads it. The app therefore
stores only JSON text (bundles, the admin's counts) and integers (rate-limit counters), and
reads a cached value back only through a parser that checks its shape (a value that is not what
the app wrote counts as a miss). On Redis, configure :class:`JSONSerializer` so the backend
never unpickles either::

    CACHES = {"default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/0",
        "OPTIONS": {"serializer": "cart_recommender.serving.cache.JSONSerializer"},
    }}

The system check ``cart_recommender.W010`` (``manage.py check --deploy``) warns when
``CACHE_ALIAS`` names a shared cache that still unpickles.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.core.cache import BaseCache, caches

from cart_recommender.conf import app_settings

logger = logging.getLogger(__name__)


def get_cache() -> BaseCache | None:
    """The cache named by ``CACHE_ALIAS``, or None when caching is off."""
    alias = app_settings.CACHE_ALIAS
    return caches[alias] if alias else None


class JSONSerializer:
    """A serializer for Django's Redis cache that stores JSON (and integers, for ``incr``).

    Reading anything that is not JSON (a pickle written by someone else, say) gives None, so
    the cache answers a miss instead of running it. Values must be JSON-serialisable: the app's
    own are (text and integers); a value that is not raises ``TypeError`` when stored.
    """

    def __init__(self, protocol: Any = None) -> None:  # Django passes no arguments; kept for its API
        self.protocol = protocol

    def dumps(self, obj: Any) -> bytes | int:
        if type(obj) is int:  # stored as is, so Redis INCR/DECR work on it
            return obj
        return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()

    def loads(self, data: bytes) -> Any:
        try:
            return int(data)
        except ValueError:
            pass
        try:
            return json.loads(data)
        except (UnicodeDecodeError, ValueError):
            logger.warning("cart_recommender: ignored a cache value that is not JSON")
            return None


def unpickles(alias: str) -> bool:
    """Whether reading from the cache ``alias`` can unpickle what someone else wrote there.

    True for every shared backend (Redis without :class:`JSONSerializer`, Memcached, the
    database and the file system); an in-process ``LocMemCache`` holds only this process's own
    values.
    """
    cache = caches[alias]
    backend = type(cache).__module__
    if backend.endswith(("locmem", "dummy")):
        return False
    if backend.endswith(".redis"):
        serializer = getattr(getattr(cache, "_cache", None), "_serializer", None)
        return not isinstance(serializer, JSONSerializer)
    return True
