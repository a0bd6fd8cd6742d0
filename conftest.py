# Shared fixtures for the library's and the demo shop's suites (real worker, real browser).
import os

pytest_plugins = ["tests.fixtures"]


def pytest_ignore_collect(collection_path, config):
    """tests/oscar/ is a django-oscar shop of its own: collected only with its settings."""
    if collection_path.name == "oscar" and collection_path.parent.name == "tests":
        return os.environ.get("DJANGO_SETTINGS_MODULE") != "tests.oscar.settings"
    return None
