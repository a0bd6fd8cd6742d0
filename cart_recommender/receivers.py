"""Signal receivers, connected once from ``CartRecommenderConfig.ready()``."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in
from django.core.signals import setting_changed
from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_delete

from cart_recommender import shoppers
from cart_recommender.adapter import get_adapter
from cart_recommender.models import BundleRule, Segment
from cart_recommender.performance import rollups
from cart_recommender.privacy.erasure import forget_deleted_user
from cart_recommender.segments import shoppers as segment_shoppers
from cart_recommender.serving import catalog, state
from cart_recommender.signals import experiment_changed, model_activated, shopper_exported, shopper_forgotten


def connect() -> None:
    """Keep the serving path's in-process state fresh in the process that changed things.

    Other processes catch up by themselves: the serving state within ``MODEL_CHECK_SECONDS``,
    the catalog snapshot within ``CATALOG_REFRESH_SECONDS``.
    """
    model_activated.connect(state.check_now, dispatch_uid="cart_recommender_serving_activated")
    post_save.connect(state.check_now, sender=BundleRule, dispatch_uid="cart_recommender_rule_saved")
    post_delete.connect(state.check_now, sender=BundleRule, dispatch_uid="cart_recommender_rule_deleted")
    catalog.connect_product_signals()
    setting_changed.connect(_settings_changed, dispatch_uid="cart_recommender_serving_settings")
    # an erasure changes the serving token: this process stops serving older cached bundles now
    shopper_forgotten.connect(_erased, dispatch_uid="cart_recommender_serving_erasure")
    # a visitor who logs in keeps the history (and the bundle credits) of their anonymous visit
    user_logged_in.connect(_logged_in, dispatch_uid="cart_recommender_claim_session")
    # an A/B test started or stopped changes what the serving path assigns
    experiment_changed.connect(state.check_now, dispatch_uid="cart_recommender_experiment_changed")
    # an erased shopper's A/B test rows go too
    shopper_forgotten.connect(_forget_rollups, dispatch_uid="cart_recommender_performance_erasure")
    shopper_exported.connect(_export_rollups, dispatch_uid="cart_recommender_performance_export")
    # and their segment memberships (the serving state re-reads them after an erasure)
    shopper_forgotten.connect(_forget_segments, dispatch_uid="cart_recommender_segments_erasure")
    shopper_exported.connect(_export_segments, dispatch_uid="cart_recommender_segments_export")
    # a segment renamed or given its own cap: the next request re-reads the rules
    post_save.connect(state.check_now, sender=Segment, dispatch_uid="cart_recommender_segment_saved")
    # a deleted user's behaviour goes with them, before the row does (see cart_recommender.privacy)
    pre_delete.connect(forget_deleted_user, sender=get_user_model(),
                       dispatch_uid="cart_recommender_forget_deleted_user")


def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in ("CART_RECOMMENDER", "CART_RECOMMENDER_PRODUCT_MODEL"):
        get_adapter.cache_clear()  # ADAPTER may name another class now
        state.reset()
        catalog.reset()  # also forgets the sellable set (sellable.reset)


def _erased(**kwargs: Any) -> None:
    transaction.on_commit(state.check_now)  # the erasure is only visible once committed


def _logged_in(*, request: Any, user: Any, **kwargs: Any) -> None:
    if request is not None:
        shoppers.claim_session(request, user)


def _forget_rollups(*, subject: Any, **kwargs: Any) -> None:
    rollups.forget(subject)


def _forget_segments(*, subject: Any, **kwargs: Any) -> None:
    segment_shoppers.forget(subject)


def _export_segments(*, subject: Any, **kwargs: Any) -> dict[str, Any]:
    return segment_shoppers.export(subject)


def _export_rollups(*, subject: Any, **kwargs: Any) -> dict[str, Any]:
    return rollups.export(subject)
