"""Build the demo shop's catalog and purchase history from the UCI Online Retail data.

The full file (517k purchase lines, 3,907 products) is too big to ship and too slow to load
for a demo. This keeps the most-sold products and the orders made (almost) only of them, so
the shipped baskets stay real baskets: an order is kept when at least ``--min-share`` of its
lines are kept products, and its other lines are dropped. The data has no categories, so a
category is derived from each product's name with the keyword rules below (first match wins),
which gives the shop's category filter and the recommender's category cap something real to
work on.

Run from the repository root (deterministic: the same input gives the same bytes)::

    python demo_shop/data/make_subset.py /path/to/online_retail.csv.gz

The source file is in the behaviour-events CSV format (see cart_recommender/csvformat.py).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "online_retail_subset.csv.gz"
COLUMNS = (
    "timestamp", "user_id", "session_id", "event", "item_id", "order_id",
    "quantity", "price", "item_name", "category",
)

# (category, keywords): a product goes to the first category one of whose keywords is a
# whole word (or phrase) of its name. Order matters: "CHRISTMAS TREE T-LIGHT HOLDER" is
# Christmas, "T-LIGHT HOLDER" is lighting, "CAKE CASES" are baking, not party.
CATEGORY_RULES: list[tuple[str, tuple[str, ...]]] = [
    ("Christmas", ("CHRISTMAS", "XMAS", "ADVENT", "SNOWFLAKE", "REINDEER", "SANTA", "BAUBLE",
                   "BAUBLES", "NATIVITY", "WREATH", "ANGEL", "SNOW", "TREE")),
    ("Home decor", ("DRAWER KNOB", "DRAWERKNOB", "KNOB", "KNOBS", "CUSHION COVER", "FILLER PAD")),
    ("Garden", ("HERB MARKER", "GARDEN", "WATERING", "PLANT", "PLANTER", "PLANTERS", "FEEDER",
                "FLOWER POT", "TROWEL", "SEED", "SEEDS", "BIRDHOUSE", "BIRD HOUSE", "HAMMOCK",
                "GARDENERS")),
    ("Lighting & candles", ("T-LIGHT", "T-LIGHTS", "TLIGHT", "TEALIGHT", "CANDLE", "CANDLES",
                            "CANDLEHOLDER", "LANTERN", "LIGHTS", "LIGHT", "NIGHTLIGHT", "LAMP",
                            "CANDLESTICK", "CANDELABRA", "TORCH")),
    ("Baking", ("CAKE CASES", "BAKING", "CAKESTAND", "CAKE STAND", "COOKIE CUTTER", "CAKE TIN",
                "CAKE TINS", "BAKE", "ICING", "PASTRY", "MOULD", "MOULDS")),
    ("Bath & beauty", ("HOT WATER BOTTLE", "HAND WARMER", "BATHROOM", "SOAP", "PLASTERS",
                       "SPONGE", "MIRROR", "COMPACT", "TOILETRY", "BATH", "FLANNEL", "LIP GLOSS",
                       "NAIL")),
    ("Bags & purses", ("BAG", "BAGS", "SHOPPER", "PURSE", "WALLET", "WASHBAG", "BACKPACK",
                       "RUCKSACK", "TOTE", "BAG CHARM")),
    ("Party", ("PARTY", "BUNTING", "BALLOONS", "BALLOON", "BIRTHDAY", "GARLAND", "PAPER CHAIN",
               "CONFETTI", "PICNIC", "STRAWS", "PARASOL", "FLAGS")),
    ("Kitchen & dining", ("MUG", "MUGS", "CUP", "CUPS", "SAUCER", "BOWL", "BOWLS", "PLATE",
                          "PLATES", "JUG", "TEAPOT", "TEA", "COFFEE", "CUTLERY", "SPOON", "SPOONS",
                          "LUNCH", "APRON", "NAPKINS", "NAPKIN", "KITCHEN", "PANTRY", "JAM",
                          "EGG", "BEAKER", "BEAKERS", "TRAY", "DOILY", "DOILIES", "TEA TOWEL",
                          "TOWELS", "OVEN", "GLOVE", "GLOVES", "CHOPSTICKS", "BOTTLE", "MILK",
                          "SUGAR", "BISCUIT", "RECIPE", "COASTER", "COASTERS", "PLACEMATS", "JAR",
                          "JARS", "COOKIE", "CHOCOLATE", "FOOD", "DINER", "POPCORN", "PAN",
                          "TUMBLER", "DISH", "COLANDER", "SALT", "PEPPER", "PEGS", "PLACE SETTING",
                          "PLACE SETTINGS")),
    ("Stationery & gift wrap", ("CARD", "CARDS", "WRAP", "PENCIL", "PENCILS", "PEN", "PENS",
                                "NOTEBOOK", "NOTEBOOKS", "STICKER", "STICKERS", "RIBBON",
                                "RIBBONS", "TAPE", "GIFT TAG", "TAGS", "ENVELOPE", "ENVELOPES",
                                "BOOK", "BOOKS", "STAMP", "CHALKBOARD", "ERASER", "ERASERS",
                                "RULER", "TISSUE", "TISSUES", "NOTE", "NOTES", "NOTEPAD", "JOURNAL",
                                "DIARY", "POSTCARD", "CALENDAR", "PAPER", "MARKER", "CRAYONS",
                                "REEL", "WRITING SET", "STATIONERY", "CHALK", "STENCIL",
                                "MEMO BOARD", "MEMOBOARD", "BLACKBOARD", "BLACK BOARD")),
    ("Toys & games", ("TOY", "TOYS", "DOLL", "CHILDRENS", "CHILDS", "JIGSAW", "GAME", "GAMES",
                      "SKITTLES", "DOMINOES", "PLAYHOUSE", "DINOSAUR", "COLOURING",
                      "DRAWING SLATE", "SPINNING", "KIT", "FELTCRAFT", "PUPPET", "BINGO", "SNAKES",
                      "SOLDIER", "SOLDIERS", "BUBBLES", "TEDDY", "BEAR", "RABBIT", "MONKEY",
                      "LUDO", "NAUGHTS & CROSSES", "SKIPPING ROPE", "ROCKING HORSE",
                      "MODELLING CLAY", "KNITTING NANCY", "PAINT SET", "WINDMILL", "SPORTING",
                      "TATTOOS", "CRAFT", "GLIDERS", "BABY", "KIDS", "BUILDING BLOCK")),
    ("Storage & boxes", ("BOX", "BOXES", "TIN", "TINS", "BASKET", "BASKETS", "WICKER", "STORAGE",
                         "HAMPER", "TRINKET", "CASE", "CASES", "CRATE", "CRATES", "CONTAINER",
                         "CHEST", "DRAWER", "CABINET", "MONEY BANK", "PIGGY BANK", "BUCKET", "BIN")),
    ("Jewellery & accessories", ("NECKLACE", "BRACELET", "EARRINGS", "RING", "RINGS", "HAIR",
                                 "UMBRELLA", "SCARF", "CHARM", "BROOCH", "HAIRCLIP", "HAIRBAND",
                                 "KEY RING", "KEYRING", "KEY FOB", "BADGE", "BADGES", "CLIPS",
                                 "FAN", "RAIN HAT", "PONCHO", "PASSPORT", "LUGGAGE TAG")),
    ("Home decor", ("SIGN", "DOORMAT", "CLOCK", "FRAME", "FRAMES", "CUSHION", "HOOK", "HOOKS",
                    "HANGING", "DECORATION", "DECORATIONS", "DOORSTOP", "RACK", "WALL", "VASE",
                    "ORNAMENT", "HEART", "HEARTS", "PICTURE", "MAGNET", "MAGNETS", "CHIME",
                    "THROW", "BLANKET", "HANGER", "HANGERS", "PLAQUE", "BIRD", "BIRDS", "STAND",
                    "DOOR", "QUILT", "RUG", "MAT", "PHOTO", "LETTERS", "CURTAIN", "BELL", "BELLS",
                    "STAR", "FEATHER", "STOOL", "CLOCHE", "HOME")),
]
OTHER = "Gifts & novelties"
_PATTERNS = [
    (category, re.compile(r"(?<![A-Z0-9])(?:" + "|".join(re.escape(k) for k in keys) + r")(?![A-Z0-9])"))
    for category, keys in CATEGORY_RULES
]


def category_for(name: str) -> str:
    """The derived category of a product name (upper-case, as in the source)."""
    upper = name.upper()
    for category, pattern in _PATTERNS:
        if pattern.search(upper):
            return category
    return OTHER


def build(source: Path, out: Path, products: int, min_share: float) -> dict[str, int]:
    with gzip.open(source, "rt", encoding="utf-8", newline="") as fh:
        rows = [row for row in csv.DictReader(fh) if row["event"] == "purchase"]
    lines_per_item = Counter(row["item_id"] for row in rows)
    # ties broken by id so the selection never depends on file order
    ranked = sorted(lines_per_item.items(), key=lambda kv: (-kv[1], kv[0]))
    kept_items = {item for item, _ in ranked[:products]}

    by_order: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        by_order[row["order_id"]].append(row)
    kept_rows: list[dict[str, str]] = []
    for lines in by_order.values():
        inside = [row for row in lines if row["item_id"] in kept_items]
        if inside and len(inside) >= min_share * len(lines):
            kept_rows.extend(inside)
    kept_rows.sort(key=lambda r: (r["timestamp"], r["order_id"], r["item_id"]))

    # one name per product (its most frequent spelling) so the catalog is consistent
    names: dict[str, Counter] = defaultdict(Counter)
    for row in kept_rows:
        names[row["item_id"]][row["item_name"].strip()] += 1
    name_of = {item: spellings.most_common(1)[0][0] for item, spellings in names.items()}

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in kept_rows:
        name = name_of[row["item_id"]]
        writer.writerow([
            row["timestamp"], row["user_id"], row["session_id"], "purchase", row["item_id"],
            row["order_id"], row["quantity"], row["price"], name, category_for(name),
        ])
    out.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0 and no file name in the header: rebuilding gives identical bytes
    with open(out, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0,
                                               compresslevel=9) as gz:
        gz.write(buffer.getvalue().encode("utf-8"))

    categories = Counter(category_for(name) for name in name_of.values())
    return {
        "rows": len(kept_rows),
        "orders": len({r["order_id"] for r in kept_rows}),
        "products": len(name_of),
        "shoppers": len({r["user_id"] for r in kept_rows if r["user_id"]}),
        "bytes": out.stat().st_size,
        **{f"category {k}": v for k, v in sorted(categories.items())},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="online_retail.csv.gz (behaviour-events CSV)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--products", type=int, default=1200, help="most-sold products kept")
    parser.add_argument("--min-share", type=float, default=0.9,
                        help="keep an order when at least this share of its lines are kept products")
    args = parser.parse_args(argv)
    summary = build(args.source, args.out, args.products, args.min_share)
    for key, value in summary.items():
        print(f"{key:>36}: {value:,}")


if __name__ == "__main__":
    sys.exit(main())
