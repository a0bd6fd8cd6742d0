"""Privacy: erase a shopper everywhere, keep events only as long as the shop says, export one
shopper's data, and record nothing personal without consent.

See docs/privacy.md. Example::

    from cart_recommender.privacy import export_shopper, forget_shopper
    data = export_shopper(shopper_ref="17850")     # an access request
    forget_shopper(shopper_ref="17850", by=request.user)   # an erasure request
"""

from cart_recommender.privacy.erasure import (
    Subject,
    erased_shoppers,
    erasures_of,
    find_subject,
    forget_shopper,
    retrain_if_due,
    user_with_pk,
)
from cart_recommender.privacy.export import export_shopper
from cart_recommender.privacy.retention import delete_expired_events

__all__ = [
    "Subject", "delete_expired_events", "erased_shoppers", "erasures_of", "export_shopper",
    "find_subject", "forget_shopper", "retrain_if_due", "user_with_pk",
]
