"""Settings for web processes started by the hot-swap tests: the suite's, checking often."""

from tests.settings import *  # noqa: F401,F403
from tests.settings import CART_RECOMMENDER

CART_RECOMMENDER = {**CART_RECOMMENDER, "MODEL_CHECK_SECONDS": 1}
