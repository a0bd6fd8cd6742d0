# Load the suite's Celery app together with its settings, as a Django project's package does
# (see demo_shop/__init__.py): every thread, the live server's included, then sends tasks
# through it instead of Celery's fallback app (which would talk to an AMQP broker on localhost).
from tests.celery_app import app as celery_app

__all__ = ["celery_app"]
