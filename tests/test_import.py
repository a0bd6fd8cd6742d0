"""cart_recommender_import: a real CSV (plain and gzip) through the command into the database."""

import gzip
from decimal import Decimal
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import override_settings

from cart_recommender.models import Event
from tests.testapp.adapter import ArticleAdapter
from tests.testapp.models import Article

pytestmark = pytest.mark.django_db

HEADER = "timestamp,user_id,session_id,event,item_id,order_id,quantity,price,item_name,category\n"
GOOD = (
    "2024-03-01T10:00:00Z,,s-1,view,4006381333931,,,,,\n"
    "2024-03-01T10:01:00+01:00,c-42,,add_to_cart,4006381333931,,2,1.29,,\n"
    "2024-03-01T10:05:00,c-42,,purchase,4006381333931,W100,2,1.29,,\n"
)


@pytest.fixture
def pencil():
    return Article.objects.create(ean="4006381333931", title="Pencil", price_cents=129, shelf="Office")


def write(tmp_path, body, name="events.csv", header=HEADER):
    path = tmp_path / name
    data = (header + body).encode()
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    return path


def run(path, *args):
    out, err = StringIO(), StringIO()
    call_command("cart_recommender_import", str(path), "--no-progress", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.parametrize("name", ["events.csv", "events.csv.gz"])
def test_good_file_maps_columns_to_events(tmp_path, pencil, name):
    out, err = run(write(tmp_path, GOOD, name))
    assert "stored 3 events" in out and err == ""
    view, cart, purchase = (Event.objects.get(event_type=t) for t in ("view", "add_to_cart", "purchase"))
    assert (view.session_key, view.shopper_ref, view.event_type) == ("s-1", "", "view")
    assert cart.timestamp.isoformat() == "2024-03-01T09:01:00+00:00"  # the offset is honoured
    assert (cart.shopper_ref, cart.quantity, cart.unit_price) == ("c-42", 2, Decimal("1.29"))
    assert purchase.order_ref == "W100" and purchase.timestamp.isoformat() == "2024-03-01T10:05:00+00:00"
    assert {e.source for e in (view, cart, purchase)} == {"import"}
    assert {e.product_id for e in (view, cart, purchase)} == {pencil.pk}
    assert all(e.user_id is None and e.idempotency_key.startswith("import:") for e in (view, cart, purchase))


def test_rerun_and_overlapping_files_store_nothing_twice(tmp_path, pencil):
    run(write(tmp_path, GOOD))
    out, _ = run(write(tmp_path, GOOD))
    assert "stored 0 events, 3 already stored" in out
    # the same rows in another order, with the UTC offset written differently, plus one new row
    rows = GOOD.splitlines(keepends=True)
    new = "2024-03-02T08:00:00Z,,s-9,view,4006381333931,,,,,\n"
    other = rows[2] + rows[0].replace("Z,", "+00:00,") + rows[1] + new
    out, _ = run(write(tmp_path, other, "other.csv.gz"))
    assert "stored 1 events, 3 already stored" in out
    assert Event.objects.count() == 4


def test_bad_rows_are_reported_by_line_and_skipped(tmp_path, pencil):
    body = (
        GOOD  # lines 2-4
        + "2024-03-01T11:00:00Z,c-1,,liked,4006381333931,,,,,\n"  # line 5: unknown event
        + "yesterday,c-1,,view,4006381333931,,,,,\n"  # line 6: bad timestamp
        + "2024-03-01T11:00:00Z,c-1,,view,0000000000000,,,,,\n"  # line 7: unknown product
        + "2024-03-01T11:00:00Z,,,view,4006381333931,,,,,\n"  # line 8: no shopper
        + "2024-03-01T11:00:00Z,c-1,,purchase,4006381333931,,,,,\n"  # line 9: order missing
        + "2024-03-01T11:00:00Z,c-1,,view,4006381333931,,-3,,,\n"  # line 10: quantity
        + "2024-03-01T11:00:00Z," + "u" * 65 + ",,view,4006381333931,,,,,\n"  # line 11: too long
    )
    out, err = run(write(tmp_path, body), "--batch-size", "4")
    assert "stored 3 events" in out and "7 bad rows" in out
    lines = err.splitlines()
    assert [line.split(":")[0] for line in lines] == [f"line {n}" for n in range(5, 12)]
    assert "unknown event 'liked'" in lines[0]
    assert "unparsable timestamp 'yesterday'" in lines[1]
    assert "unknown item_id '0000000000000'" in lines[2] and "--create-products" in lines[2]
    assert "longer than 64" in lines[6]
    assert Event.objects.count() == 3


def test_create_products_uses_the_adapter_and_the_file_values(tmp_path):
    body = (
        "2024-03-01T10:00:00Z,c-1,,purchase,5901234123457,W1,1,3.50,Blue Notebook,Office > Paper\n"
        "2024-03-01T10:00:00Z,c-1,,purchase,5901234123458,W1,1,,,\n"
    )
    out, _ = run(write(tmp_path, body), "--create-products")
    assert "created 2 products" in out
    notebook = Article.objects.get(ean="5901234123457")
    assert (notebook.title, notebook.shelf, notebook.price_cents) == ("Blue Notebook", "Office > Paper", 350)
    assert Article.objects.get(ean="5901234123458").title == "5901234123458"
    assert Event.objects.filter(product=notebook, order_ref="W1").count() == 1
    out, _ = run(write(tmp_path, body), "--create-products")
    assert "created 0 products" in out and Article.objects.count() == 2


def test_dry_run_writes_nothing(tmp_path):
    body = GOOD + "garbage,c-1,,view,4006381333931,,,,,\n"
    out, err = run(write(tmp_path, body), "--create-products", "--dry-run")
    assert "would store 3 events" in out and "would create 1 products" in out
    assert "line 5: unparsable timestamp" in err
    assert not Event.objects.exists() and not Article.objects.exists()


def test_strict_aborts_before_writing_anything(tmp_path):
    body = GOOD + GOOD.replace("s-1", "s-2").replace("c-42", "c-43") + "2024-03-01,c-1,,zap,1,,,,,\n"
    with pytest.raises(CommandError, match="nothing was stored"):
        run(write(tmp_path, body), "--create-products", "--strict", "--batch-size", "2")
    assert not Event.objects.exists() and not Article.objects.exists()
    out, _ = run(write(tmp_path, body[: body.rindex("2024-03-01,c-1")]), "--create-products", "--strict")
    assert "stored 6 events" in out


def test_a_bad_row_leaves_no_trace_not_even_its_product(tmp_path):
    body = (
        "2024-03-01T10:00:00Z,c-1,,purchase,5901234123457,W1,1,3.50,Notebook,\n"
        "not-a-time,c-1,,purchase,5901234123458,W1,1,3.50,Ghost,\n"
    )
    out, err = run(write(tmp_path, body), "--create-products")
    assert "stored 1 events" in out and "line 3:" in err
    assert list(Article.objects.values_list("ean", flat=True)) == ["5901234123457"]


class HalfFailingAdapter(ArticleAdapter):
    """A shop whose product creation writes the row, then fails (say, a failing signal handler)."""

    def create_product(self, external_id, name, category, price):
        product = super().create_product(external_id, name, category, price)
        if name == "Broken":
            raise ValueError("the shop refused the product")
        return product


def test_failed_product_creation_is_rolled_back_and_reported(tmp_path):
    body = (
        "2024-03-01T10:00:00Z,c-1,,purchase,5901234123457,W1,1,3.50,Notebook,\n"
        "2024-03-01T10:00:00Z,c-1,,purchase,5901234123458,W1,1,3.50,Broken,\n"
        "2024-03-01T10:01:00Z,c-2,,view,5901234123458,,,,Broken,\n"
    )
    adapter = f"{__name__}.HalfFailingAdapter"
    with override_settings(CART_RECOMMENDER={**settings.CART_RECOMMENDER, "ADAPTER": adapter}):
        out, err = run(write(tmp_path, body), "--create-products")
    assert "stored 1 events" in out and "2 bad rows" in out
    assert "line 3: could not create product '5901234123458': the shop refused the product" in err
    assert "line 4: could not create product" in err
    assert list(Article.objects.values_list("ean", flat=True)) == ["5901234123457"]
    assert list(Event.objects.values_list("product_id", flat=True)) == ["5901234123457"]


def test_unreadable_files_fail_clearly(tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        run(tmp_path / "missing.csv")
    with pytest.raises(CommandError, match="lacks required column"):
        run(write(tmp_path, "1,2\n", header="when,what\n"))
    assert not Event.objects.exists()


def test_many_rows_over_several_batches_and_statements(tmp_path, pencil):
    body = "".join(
        f"2024-03-01T10:{n // 60 % 60:02d}:{n % 60:02d}Z,c-{n % 97},,view,{pencil.pk},,,,,\n"
        for n in range(2500)
    )
    out, _ = run(write(tmp_path, body, "many.csv.gz"), "--batch-size", "1200")
    assert "2500 rows read" in out and "stored 2500 events" in out
    assert Event.objects.filter(shopper_ref="c-5").count() == len(range(5, 2500, 97))
    out, _ = run(write(tmp_path, body, "many.csv.gz"))
    assert "stored 0 events, 2500 already stored" in out and Event.objects.count() == 2500


class GhostProductAdapter(ArticleAdapter):
    """A broken shop adapter that maps one id to a product that is not in the database."""

    def get_products_by_external_ids(self, ids):
        found = super().get_products_by_external_ids(ids)
        if "5901234123459" in set(ids):
            found["5901234123459"] = Article(ean="5901234123459", title="Ghost")
        return found


@pytest.mark.django_db(transaction=True)
def test_a_batch_failing_in_the_database_is_rolled_back_whole(tmp_path, pencil):
    body = (
        "2024-03-01T10:00:00Z,c-1,,view,4006381333931,,,,,\n"  # batch 1 (lines 2-3)
        "2024-03-01T10:01:00Z,c-1,,view,4006381333931,,,,,\n"
        "2024-03-01T10:02:00Z,c-2,,view,4006381333931,,,,,\n"  # batch 2 (lines 4-5)
        "2024-03-01T10:03:00Z,c-2,,view,5901234123459,,,,,\n"
    )
    adapter = f"{__name__}.GhostProductAdapter"
    with override_settings(CART_RECOMMENDER={**settings.CART_RECOMMENDER, "ADAPTER": adapter}):
        with pytest.raises(CommandError, match="lines 4-5 were not stored"):
            run(write(tmp_path, body), "--batch-size", "2")
    assert list(Event.objects.values_list("shopper_ref", flat=True)) == ["c-1", "c-1"]
    out, _ = run(write(tmp_path, body[: body.rindex("2024-03-01T10:03")]))
    assert "stored 1 events, 2 already stored" in out


def test_rows_of_unknown_products_can_be_skipped_and_counted(tmp_path, pencil, django_assert_max_num_queries):
    body = "".join(
        f"2024-03-01T10:0{n % 10}:00Z,c-{n},,view,{'4006381333931' if n % 3 == 0 else f'99{n:05d}'},,,,,\n"
        for n in range(30)
    )
    path = write(tmp_path, body)
    out, err = run(path, "--skip-unknown-products", "--batch-size", "5")
    assert "stored 10 events" in out and "0 bad rows" in out
    assert "skipped 20 rows of unknown products" in out and err == ""
    assert Event.objects.count() == 10
    from cart_recommender.events.importer import EventImporter

    with django_assert_max_num_queries(40):  # unknown ids are looked up once, not once a batch
        again = EventImporter(skip_unknown_products=True, batch_size=5).run(path)
    assert again.skipped_unknown == 20 and again.duplicates == 10 and again.stored == 0
    with pytest.raises(CommandError, match="exclude each other"):
        run(path, "--skip-unknown-products", "--create-products")
