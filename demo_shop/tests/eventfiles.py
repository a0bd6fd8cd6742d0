"""Small behaviour-events CSV files for the demo command's tests."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

from cart_recommender.ml.csvformat import COLUMNS


def write_events_csv(path: Path, orders: dict[str, list[tuple[str, str, str, str]]]) -> Path:
    """Write a small purchase history in the behaviour-events CSV format (gzip'd).

    ``orders`` maps an order id to its lines ``(item_id, item_name, category, price)``.
    """
    with gzip.open(path, "wt", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for n, (order_id, lines) in enumerate(orders.items()):
            for item_id, name, category, price in lines:
                writer.writerow([
                    f"2011-0{1 + n % 9}-1{n % 10}T10:{n % 60:02d}:00Z", f"u{n % 5}", "", "purchase",
                    item_id, order_id, 2, price, name, category,
                ])
    return path
