"""``manage.py cart_recommender_forget``: erase one shopper, or write their data out first.

    manage.py cart_recommender_forget --shopper-ref 17850
    manage.py cart_recommender_forget --user 12 --export user12.json --no-input

Does what :func:`cart_recommender.privacy.forget_shopper` does (see docs/privacy.md); asks
before deleting unless ``--no-input``; ``--export-only`` writes the export and deletes nothing.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cart_recommender.models import Erasure
from cart_recommender.privacy import export_shopper, find_subject, forget_shopper, user_with_pk


class Command(BaseCommand):
    help = "Erase every event and cached bundle of one shopper (a user, a shop customer id or a session)."

    def add_arguments(self, parser: CommandParser) -> None:
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--user", help="the Django user's primary key")
        who.add_argument("--shopper-ref", help="the shop's own customer id")
        who.add_argument("--session-key", help="an anonymous session's key")
        parser.add_argument("--export", metavar="FILE",
                            help="first write everything held on them to FILE (JSON)")
        parser.add_argument("--export-only", action="store_true", help="write the export, erase nothing")
        parser.add_argument("--no-input", action="store_true", help="do not ask for confirmation")

    def handle(self, *args: Any, **options: Any) -> None:
        identity = self._identity(options)
        if options["export_only"] and not options["export"]:
            raise CommandError("--export-only needs --export FILE")
        if options["export"]:
            with open(options["export"], "w", encoding="utf-8") as fh:
                json.dump(export_shopper(**identity), fh, indent=2, ensure_ascii=False)
            self.stdout.write(f"Wrote {options['export']}")
            if options["export_only"]:
                return
        subject = find_subject(**identity)
        count = subject.events().count()
        if not options["no_input"]:
            answer = input(f"Delete {count} events of this shopper ({len(subject.session_keys)} sessions, "
                           f"{len(subject.shopper_refs)} customer ids)? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                raise CommandError("Nothing erased.")
        erasure = forget_shopper(**identity, via=Erasure.Via.COMMAND)
        versions = list(erasure.trained_versions.values_list("pk", flat=True))
        self.stdout.write(self.style.SUCCESS(
            f"Erased {erasure.events_deleted} events (erasure {erasure.pk})."
            + (f" Trained on their data: {', '.join(f'v{v}' for v in sorted(versions))}; a retrain "
               "replaces the active one within ERASURE_RETRAIN_DAYS." if versions else "")
        ))

    def _identity(self, options: dict[str, Any]) -> dict[str, Any]:
        if options["user"] is not None:
            user = user_with_pk(options["user"])
            if user is None:
                raise CommandError(f"No user with id {options['user']!r}.")
            return {"user": user}
        if options["shopper_ref"]:
            return {"shopper_ref": options["shopper_ref"]}
        if options["session_key"]:
            return {"session_key": options["session_key"]}
        raise CommandError("Name the shopper with --user, --shopper-ref or --session-key.")
