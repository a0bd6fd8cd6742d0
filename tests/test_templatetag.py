"""``{% complete_your_cart %}`` and the "Add all to cart" round trip (no JavaScript involved)."""

import re

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore
from django.template import Context, Template, TemplateSyntaxError
from django.test import RequestFactory

from cart_recommender.adapter import CartLine
from cart_recommender.models import Event
from cart_recommender.serving.add_all import SALT
from tests.bundle_data import fresh_serving, make_shop  # noqa: F401
from tests.testapp.models import Article

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_serving")]


def make_request(basket=()):
    request = RequestFactory().get("/cart/")
    request.user = AnonymousUser()
    request.session = SessionStore()
    request.session["basket"] = list(basket)
    request.session.save()
    return request


def render(source, request, **context):
    return Template("{% load cart_recommender_tags %}" + source).render(
        Context({"request": request, **context})
    )


def test_renders_names_prices_reasons_total_version_and_the_form():
    make_shop()
    request = make_request(["TEA"])
    html = render("{% complete_your_cart %}", request)
    assert 'data-model-version="baseline"' in html
    for name in ("Blue mug", "Biscuits", "Spoon"):
        assert name in html
    assert "Often bought with Green tea" in html
    assert 'data-testid="bundle-total">12.50<' in html
    assert "8.00" in html and "/articles/MUG1/" in html
    # the shop's own form fields, posted to the app's click endpoint
    assert 'action="/recommender/bundle/add-all/"' in html
    assert re.findall(r'name="ean" value="(\w+)"', html) == ["MUG1", "BISC", "SPOON"]
    assert "csrfmiddlewaretoken" in html
    assert "Add all to cart" in html


def test_records_one_impression_per_item_for_the_requests_session():
    make_shop()
    request = make_request(["TEA"])
    render("{% complete_your_cart %}", request)
    shown = Event.objects.filter(event_type="bundle_impression")
    assert sorted(shown.values_list("product_id", flat=True)) == ["BISC", "MUG1", "SPOON"]
    assert set(shown.values_list("source", flat=True)) == {"bundle"}
    assert set(shown.values_list("session_key", flat=True)) == {request.session.session_key}


def test_explicit_cart_size_and_product_arguments():
    make_shop()
    request = make_request([])
    html = render("{% complete_your_cart cart size=1 %}", request, cart=[CartLine("TEA")])
    assert re.findall(r'data-product-id="(\w+)"', html) == ["MUG1"]
    html = render("{% complete_your_cart product=p size=2 %}", request, p=Article.objects.get(pk="TEA"))
    assert re.findall(r'data-product-id="(\w+)"', html) == ["MUG1", "BISC"]


def test_bad_size_is_a_template_error():
    make_shop()
    with pytest.raises(Exception, match="size must be"):
        render("{% complete_your_cart size=99 %}", make_request(["TEA"]))
    with pytest.raises(TemplateSyntaxError):
        render("{% complete_your_cart nope=1 %}", make_request(["TEA"]))


def test_the_template_can_be_overridden(tmp_path, settings):
    make_shop()
    (tmp_path / "cart_recommender").mkdir()
    (tmp_path / "cart_recommender" / "bundle.html").write_text(
        "{% for i in bundle.items %}[{{ i.name }}]{% endfor %}"
    )
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]}]
    html = render("{% complete_your_cart %}", make_request(["TEA"]))
    assert html == "[Blue mug][Biscuits][Spoon]"


def test_no_form_when_the_shop_has_no_endpoint(settings):
    make_shop()
    settings.CART_RECOMMENDER = {
        **settings.CART_RECOMMENDER,
        "ADAPTER": "cart_recommender.adapter.DefaultShopAdapter",
    }
    html = render("{% complete_your_cart cart %}", make_request([]), cart=["TEA"])
    assert "Blue mug" in html and "Add all to cart" not in html


def test_add_all_records_clicks_and_hands_the_post_to_the_shop_with_307(client):
    make_shop()
    html = render("{% complete_your_cart %}", make_request(["TEA"]))
    signed = re.search(r'name="cart_recommender_bundle" value="([^"]+)"', html).group(1)
    response = client.post(
        "/recommender/bundle/add-all/", {"ean": ["MUG1", "BISC", "SPOON"], "cart_recommender_bundle": signed}
    )
    assert response.status_code == 307
    assert response["Location"] == "/basket/add/"
    clicks = Event.objects.filter(event_type="bundle_click", source="bundle")
    assert sorted(clicks.values_list("product_id", flat=True)) == ["BISC", "MUG1", "SPOON"]


def test_add_all_refuses_a_forged_target(client):
    from django.core import signing

    forged = signing.dumps({"action": "https://evil.example/", "items": []}, salt="other")
    response = client.post("/recommender/bundle/add-all/", {"cart_recommender_bundle": forged})
    assert response.status_code == 400
    assert client.get("/recommender/bundle/add-all/").status_code == 405
    assert SALT  # the salt is the module's own
