"""The settings table of docs/settings.md says exactly what cart_recommender/conf.py DEFAULTS holds."""

import json
import re
from pathlib import Path

from cart_recommender.conf import DEFAULTS

SETTINGS_PAGE = Path(__file__).resolve().parent.parent / "docs" / "settings.md"


def table_rows() -> dict[str, str]:
    text = SETTINGS_PAGE.read_text()
    block = text.split("<!-- settings-table -->")[1].split("<!-- /settings-table -->")[0]
    rows = {}
    for line in block.splitlines():
        match = re.match(r"^\| `([A-Z_]+)` \| `(.*?)` \|", line)
        if match:
            rows[match.group(1)] = match.group(2)
    return rows


def test_every_setting_is_documented_with_its_default():
    rows = table_rows()
    assert set(rows) == set(DEFAULTS)
    for key, default in DEFAULTS.items():
        assert json.loads(rows[key]) == default, key
