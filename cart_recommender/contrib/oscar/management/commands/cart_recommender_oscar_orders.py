"""``manage.py cart_recommender_oscar_orders``: learn from the orders the Oscar shop already has.

A thin shell around :func:`cart_recommender.contrib.oscar.history.load_orders`; safe to run
again (each order line is stored once).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_datetime

from cart_recommender.contrib.oscar.history import load_orders


class Command(BaseCommand):
    help = "Store the lines of the shop's Oscar orders as purchase events (once each), for training."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", help="only orders placed at or after this ISO 8601 time")

    def handle(self, *args: Any, **options: Any) -> None:
        since = None
        if options["since"]:
            since = parse_datetime(options["since"])
            if since is None:
                raise CommandError(f"--since {options['since']!r} is not an ISO 8601 time")
        report = load_orders(since, progress=lambda n: self.stderr.write(f"  {n:,} order lines read"))
        self.stdout.write(
            f"{report.lines} order lines: stored {report.stored} purchase events, "
            f"{report.duplicates} already stored, {report.without_product} without a product"
        )
