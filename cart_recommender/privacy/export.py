"""Everything the app holds on one shopper, as JSON: the answer to an access request.

The export names the identities found (as :func:`~cart_recommender.privacy.erasure.find_subject`
finds them, the same ones an erasure would delete), every event of theirs with the product's
external id and name, and the sections other features add through
:data:`~cart_recommender.signals.shopper_exported`. Session keys are shown shortened: a full
key is a live login credential, not something to mail out.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from cart_recommender.adapter import get_adapter
from cart_recommender.privacy.erasure import Subject, find_subject
from cart_recommender.signals import shopper_exported

#: Events read per database round trip while exporting.
CHUNK = 2000


def _session(key: str) -> str:
    return f"{key[:8]}…" if key else ""


def export_shopper(*, user: Any = None, shopper_ref: str = "", session_key: str = "") -> dict[str, Any]:
    """The shopper's data as a JSON-serialisable dict (see the module docstring)."""
    subject = find_subject(user=user, shopper_ref=shopper_ref, session_key=session_key)
    return {
        "generated_at": timezone.now().isoformat(),
        "identities": {
            "users": sorted(str(pk) for pk in subject.user_ids),
            "shopper_refs": sorted(subject.shopper_refs),
            "sessions": sorted(_session(k) for k in subject.session_keys),
        },
        "events": _events(subject),
        **_sections(subject),
    }


def _events(subject: Subject) -> list[dict[str, Any]]:
    adapter = get_adapter()
    rows = (
        subject.events().select_related("product").order_by("timestamp", "pk").iterator(chunk_size=CHUNK)
    )
    out = []
    for event in rows:
        out.append({
            "event": event.event_type,
            "item_id": adapter.get_external_id(event.product),
            "item_name": adapter.get_display(event.product).name,
            "quantity": event.quantity,
            "price": None if event.unit_price is None else str(event.unit_price),
            "order_id": event.order_ref,
            "timestamp": event.timestamp.isoformat(),
            "source": event.source,
            "user": "" if event.user_id is None else str(event.user_id),
            "shopper_ref": event.shopper_ref,
            "session": _session(event.session_key),
        })
    return out


def _sections(subject: Subject) -> dict[str, Any]:
    sections: dict[str, Any] = {}
    for _receiver, section in shopper_exported.send(sender=Subject, subject=subject):
        if isinstance(section, dict):
            sections.update(section)
    return sections
