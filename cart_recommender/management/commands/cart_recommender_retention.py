"""``manage.py cart_recommender_retention``: delete events older than ``EVENT_RETENTION_DAYS`` now.

What the ``cart_recommender.enforce_retention`` task does, for shops that run cron instead of
Celery beat, with the progress shown. ``--days`` overrides the setting for this run.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cart_recommender.conf import app_settings
from cart_recommender.privacy import delete_expired_events
from cart_recommender.privacy.retention import BATCH_SIZE, RetentionResult


class Command(BaseCommand):
    help = "Delete behaviour events older than EVENT_RETENTION_DAYS (or --days), in batches."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int,
                            help="keep this many days instead of EVENT_RETENTION_DAYS")
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"] if options["days"] is not None else app_settings.EVENT_RETENTION_DAYS
        if days is None:
            self.stdout.write("EVENT_RETENTION_DAYS is None: every event is kept. Nothing to do.")
            return
        if days < 1 or options["batch_size"] < 1:
            raise CommandError("--days and --batch-size must be positive")

        def progress(result: RetentionResult) -> None:
            if result.batches % 20 == 0:
                self.stdout.write(f"  {result.deleted} events deleted ({result.batches} batches)")

        result = delete_expired_events(days=days, batch_size=options["batch_size"], progress=progress)
        self.stdout.write(self.style.SUCCESS(
            f"Deleted {result.deleted} events older than {result.cutoff:%Y-%m-%d %H:%M} in "
            f"{result.batches} batches, {result.seconds:.1f} s "
            f"(longest batch {result.longest_batch_s:.2f} s)."
        ))
