"""Browser steps on the cart_recommender admin, shared by the library's and the demo's tests."""

from __future__ import annotations

import re

import pytest

from cart_recommender.models import ModelVersion

TRAINING_TIMEOUT_MS = 240_000
#: A small model for small test data: "Retrain now" stores the web process's TRAINING
#: settings on the version, and the worker trains with those.
SMALL_TRAINING = {"max_epochs": 4, "time_budget_s": 90, "dim": 16, "batch_size": 32, "patience": 5}


def use_small_training(settings) -> None:
    settings.CART_RECOMMENDER = {**settings.CART_RECOMMENDER, "TRAINING": SMALL_TRAINING}


def log_in(page, base_url: str, username: str, password: str) -> None:
    """Log in through the admin's own form and land on the model-version list."""
    page.goto(f"{base_url}/admin/login/?next=/admin/cart_recommender/modelversion/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/admin/cart_recommender/modelversion/$"))


def retrain_and_watch(page) -> int:
    """Click "Retrain now", follow the progress bar to the end without reloading; the version id."""
    page.click("#cr-retrain")
    page.wait_for_url(re.compile(r"/modelversion/\d+/change/$"))
    version_id = int(re.search(r"/modelversion/(\d+)/change/", page.url).group(1))
    box = page.locator("[data-cr-progress]")
    assert box.is_visible()
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads
    texts: set[str] = set()
    page.expose_function("crSeen", lambda text: texts.add(text))
    page.evaluate("""() => {
        const el = document.querySelector('[data-cr-progress] [data-cr-field="text"]');
        new MutationObserver(() => window.crSeen(el.textContent)).observe(
            el, {childList: true, characterData: true, subtree: true});
    }""")
    page.wait_for_selector('[data-cr-progress][data-state="done"]', timeout=TRAINING_TIMEOUT_MS)
    assert page.evaluate("window.__sameDocument") is True
    assert len(texts) >= 2, texts  # the text changed while the run went on
    if box.get_attribute("data-status") != "ready":
        version = ModelVersion.objects.get(pk=version_id)
        pytest.fail(f"the run ended {version.status}: {version.error}\n{version.log}")
    assert page.locator(".cr-progress-bar").evaluate("el => el.style.width") == "100%"
    return version_id
