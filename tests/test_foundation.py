"""The app installs into a shop it does not know: settings, checks, product model, migrations."""

from decimal import Decimal

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.test import override_settings

from cart_recommender.adapter import get_adapter
from cart_recommender.conf import DEFAULTS, app_settings, get_product_model
from tests.testapp.adapter import ArticleAdapter
from tests.testapp.models import Article


def test_product_model_is_the_test_shops():
    assert get_product_model() is Article


def test_settings_merge_over_defaults_and_reload():
    assert app_settings.BUNDLE_SIZE == DEFAULTS["BUNDLE_SIZE"]
    assert app_settings.PRODUCT_FIELDS["name"] == "title"
    with override_settings(CART_RECOMMENDER={"BUNDLE_SIZE": 5}):
        assert app_settings.BUNDLE_SIZE == 5
        assert type(get_adapter()).__name__ == "DefaultShopAdapter"
    assert app_settings.BUNDLE_SIZE == DEFAULTS["BUNDLE_SIZE"]
    assert isinstance(get_adapter(), ArticleAdapter)


def test_unknown_setting_name_raises():
    with pytest.raises(AttributeError):
        app_settings.NO_SUCH_SETTING  # noqa: B018


def _ids(**overrides):
    with override_settings(**overrides):
        return {m.id for m in run_checks()}


def test_checks_pass_on_the_test_settings():
    assert not {i for i in _ids() if i.startswith("cart_recommender")}


def test_checks_report_misconfiguration():
    assert "cart_recommender.E001" in _ids(CART_RECOMMENDER={"BUNDEL_SIZE": 3})
    assert "cart_recommender.E002" in _ids(CART_RECOMMENDER_PRODUCT_MODEL="nope.Missing")
    assert "cart_recommender.E003" in _ids(CART_RECOMMENDER={"ADAPTER": "no.such.Adapter"})
    assert "cart_recommender.E004" in _ids(CART_RECOMMENDER={"BUNDLE_SIZE": 0})
    assert "cart_recommender.E004" in _ids(CART_RECOMMENDER={"BEACON_EVENTS_PER_MINUTE": 0})
    assert "cart_recommender.E004" not in _ids(CART_RECOMMENDER={"BEACON_EVENTS_PER_MINUTE": None})
    assert "cart_recommender.E005" in _ids(CART_RECOMMENDER={"ACTIVATION_GATE": "sometimes"})
    assert "cart_recommender.W001" in _ids(CART_RECOMMENDER={})
    assert "cart_recommender.E006" in _ids(CART_RECOMMENDER={"BEACON_EVENT_TYPES": ["view", "like"]})
    assert "cart_recommender.W002" in _ids(CART_RECOMMENDER={"BEACON_EVENT_TYPES": ["view", "purchase"]})


@pytest.mark.django_db
def test_no_missing_migrations():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


@pytest.mark.django_db
def test_adapter_reads_the_test_shops_fields():
    a = Article.objects.create(ean="4006381333931", title="Pencil", price_cents=129, shelf="Office")
    adapter = get_adapter()
    assert adapter.get_price(a) == Decimal("1.29")
    assert adapter.get_category(a) == "Office"
    assert adapter.get_display(a).name == "Pencil"
    assert adapter.is_sellable(a)
    a.available = False
    assert not adapter.is_sellable(a)
    assert adapter.get_products_by_external_ids(["4006381333931", "0000000000000"]) == {"4006381333931": a}
