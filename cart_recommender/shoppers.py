"""Who the shopper is, for a request, a stored event or an imported row, and its one key.

A shopper is known to the app in up to three ways: the shop's own customer id
(``shopper_ref``: from an import, the ingest API, or the adapter's ``get_shopper_ref`` for a
logged-in user), a Django user, and an anonymous session. They are ranked in that order, and
:func:`shopper_key` spells the winner as the one string every module keys a shopper by (the
bundle cache, the beacon's idempotency keys and rate limit, the training snapshot):

* ``"r:<shopper_ref>"``: the shop's id, so a user linked to their imported history is the
  same shopper as that history;
* ``"u:<user id>"``: a Django user the shop did not link;
* ``"s:<session key>"``: an anonymous visitor;
* ``""``: nobody (an event or request without any identity).

Example::

    from cart_recommender import shoppers

    shopper = shoppers.of_request(request)
    shopper.key           # "u:12"
    shopper.user_id       # 12
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from cart_recommender.adapter import get_adapter
from cart_recommender.models import Event


@dataclass(frozen=True)
class Shopper:
    """One shopper as a request or an event names them; empty fields are unknown."""

    user: Any = None  # an authenticated user, or None
    shopper_ref: str = ""
    session_key: str = ""

    @property
    def user_id(self) -> Any:
        return self.user.pk if self.user is not None else None

    @property
    def key(self) -> str:
        """The one spelling of this shopper (see the module docstring)."""
        return shopper_key(self.user_id, self.shopper_ref, self.session_key)

    def event_fields(self) -> dict[str, Any]:
        """The :class:`~cart_recommender.models.Event` fields that name this shopper."""
        return {"user": self.user, "shopper_ref": self.shopper_ref, "session_key": self.session_key}


#: A request or bundle without any identity: nothing personal is read or keyed.
NOBODY = Shopper()


def shopper_key(
    user_id: Any, shopper_ref: str, session_key: str, linked: dict[Any, str] | None = None
) -> str:
    """The key of a shopper given as the three stored fields (see the module docstring).

    ``linked`` maps user ids to the ref their later events carry: a user's events from before
    the shop linked them (no ref stored) then count under that ref too, so a link joins the
    whole history into one shopper.
    """
    if shopper_ref:
        return f"r:{shopper_ref}"
    if user_id is not None:
        ref = linked.get(user_id) if linked else None
        return f"r:{ref}" if ref else f"u:{user_id}"
    if session_key:
        return f"s:{session_key}"
    return ""


def linked_ref(user: Any) -> str:
    """The adapter's ``get_shopper_ref`` for a logged-in user; "" for nobody or no link.

    The result must fit ``Event.shopper_ref``: an id too long to store is the shop's bug and
    fails here, loudly, rather than as a database error on some later event.
    """
    if user is None or not getattr(user, "is_authenticated", False):
        return ""
    ref = get_adapter().get_shopper_ref(user)
    if not isinstance(ref, str):
        raise TypeError(f"get_shopper_ref() must return a str, not {type(ref).__name__}")
    limit = Event._meta.get_field("shopper_ref").max_length
    if len(ref) > limit:
        raise ValueError(f"get_shopper_ref() returned {len(ref)} characters; at most {limit} fit")
    return ref


def of_user(user: Any, session_key: str = "") -> Shopper:
    """The shopper behind ``user`` (anonymous users count as nobody) and a session key."""
    if user is None or not getattr(user, "is_authenticated", False):
        return Shopper(session_key=session_key or "")
    return Shopper(user=user, shopper_ref=linked_ref(user), session_key=session_key or "")


def has_consent(request: HttpRequest | Any | None) -> bool:
    """The adapter's ``has_tracking_consent`` for a request; True for none (the shop's own code)."""
    return request is None or bool(get_adapter().has_tracking_consent(request))


def of_request(request: HttpRequest | Any | None, *, create_session: bool = False) -> Shopper:
    """The shopper of a Django or DRF request.

    ``create_session`` saves a new session when the visitor has none yet, so an anonymous
    shopper's events stay tied together (recording needs it; reading bundles does not, as a
    visitor without a session has no history to read). A visitor without tracking consent
    (the adapter's ``has_tracking_consent``) is nobody: nothing of theirs is read or keyed.
    """
    if request is None or not has_consent(request):
        return NOBODY
    session = getattr(request, "session", None)
    session_key = ""
    if session is not None:
        if create_session and not session.session_key:
            session.save()
        session_key = session.session_key or ""
        if create_session and session_key and FIRST_SESSION not in session:
            session[FIRST_SESSION] = session_key  # survives the new key login gives the session
    return of_user(getattr(request, "user", None), session_key)


#: Session data holding the key the visitor's events were recorded under before logging in
#: (Django gives a session a new key at login; its data stays).
FIRST_SESSION = "cart_recommender_session"


def claim_session(request: HttpRequest | Any, user: Any) -> int:
    """Give the anonymous events of this visit to the account the visitor just logged into.

    Connected to Django's ``user_logged_in``: without it, a shopper who browses, sees a bundle,
    logs in and buys would be two shoppers, and the bundle would not be credited with the sale.
    Returns how many events were claimed.
    """
    session = getattr(request, "session", None)
    if session is None or not getattr(user, "is_authenticated", False) or not has_consent(request):
        return 0
    earlier = session.get(FIRST_SESSION)
    current = session.session_key or ""
    keys = {k for k in (earlier, current) if isinstance(k, str) and k}
    if current:
        session[FIRST_SESSION] = current
    if not keys:
        return 0
    return Event.objects.filter(session_key__in=keys, user__isnull=True, shopper_ref="").update(
        user=user, shopper_ref=linked_ref(user)
    )


def keyed_hash(purpose: str, value: str) -> str:
    """HMAC-SHA256 of ``value`` under ``SECRET_KEY`` (hex): a stable pseudonym nobody can reverse.

    Used where the app must recognise a value again without keeping it: the subject of an
    erasure's audit entry, the order reference of a purchase recorded without consent.
    ``purpose`` keeps the hashes of different uses apart.
    """
    mac = _keyed(purpose, settings.SECRET_KEY).copy()  # the keyed state, not the key schedule again
    mac.update(value.encode("utf-8", "surrogatepass"))
    return mac.hexdigest()


@lru_cache(maxsize=16)
def _keyed(purpose: str, secret: str) -> hmac.HMAC:
    return hmac.new(f"cart_recommender:{purpose}:{secret}".encode(), digestmod=hashlib.sha256)


def pseudonym(key: str) -> str:
    """The keyed hash per-shopper rows name a shopper by (A/B test sums, segment memberships).

    One spelling for all of them, so they join (an A/B test's results per segment); the purpose
    string predates segments and is kept so stored rows still match.
    """
    return keyed_hash("experiment", key)
