"""Behaviour events, trained model versions and their activations, and bundle rules."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cart_recommender.conf import PRODUCT_MODEL_SETTING
from cart_recommender.managers import EventQuerySet, ModelVersionQuerySet

PRODUCT_MODEL = getattr(settings, PRODUCT_MODEL_SETTING, None)


class EventType(models.TextChoices):
    VIEW = "view", _("view")
    CLICK = "click", _("click")
    ADD_TO_CART = "add_to_cart", _("add to cart")
    REMOVE_FROM_CART = "remove_from_cart", _("remove from cart")
    PURCHASE = "purchase", _("purchase")
    BUNDLE_IMPRESSION = "bundle_impression", _("bundle impression")
    BUNDLE_CLICK = "bundle_click", _("bundle click")


class EventSource(models.TextChoices):
    SERVER = "server", _("shop view (record_event)")
    BEACON = "beacon", _("browser beacon")
    API = "api", _("batch ingest API")
    IMPORT = "import", _("CSV import")
    BUNDLE = "bundle", _("bundle widget")


class Event(models.Model):
    """One thing a shopper did with one product.

    A shopper is a logged-in ``user``, else an id the shop gave us (``shopper_ref``, from an
    import or the ingest API), else the anonymous ``session_key``.
    """

    event_type = models.CharField(_("event type"), max_length=20, choices=EventType.choices)
    product = models.ForeignKey(
        PRODUCT_MODEL,
        verbose_name=_("product"),
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,  # covered by the (product, event_type, timestamp) index
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # covered by the (user, timestamp) index
    )
    shopper_ref = models.CharField(
        _("shopper reference"),
        max_length=64,
        blank=True,
        default="",
        help_text=_("The shop's own id for a shopper who is not a Django user (imports, API)."),
    )
    session_key = models.CharField(_("session key"), max_length=64, blank=True, default="")
    order_ref = models.CharField(
        _("order reference"),
        max_length=64,
        blank=True,
        default="",
        help_text=_("The order a purchase belongs to; purchases of one order form a basket."),
    )
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    unit_price = models.DecimalField(
        _("unit price"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    timestamp = models.DateTimeField(_("timestamp"), default=timezone.now)
    source = models.CharField(
        _("source"), max_length=10, choices=EventSource.choices, default=EventSource.SERVER
    )
    idempotency_key = models.CharField(
        _("idempotency key"),
        max_length=128,
        null=True,
        blank=True,
        help_text=_("Sent by the client; a retried send with the same key is stored once."),
    )

    objects = EventQuerySet.as_manager()

    class Meta:
        verbose_name = _("behaviour event")
        verbose_name_plural = _("behaviour events")
        ordering = ["-timestamp"]
        permissions = [("ingest_events", "Can send events through the batch ingest API")]
        constraints = [
            models.UniqueConstraint(
                fields=["idempotency_key"], name="cart_recommender_event_idempotency_key"
            ),
        ]
        indexes = [
            # training snapshots read a time window, type by type
            models.Index(fields=["event_type", "timestamp"], name="cr_event_type_time"),
            # co-purchase and popularity counts per product
            models.Index(fields=["product", "event_type", "timestamp"], name="cr_event_product"),
            # a shopper's history at serving time
            models.Index(fields=["user", "timestamp"], name="cr_event_user"),
            models.Index(fields=["shopper_ref", "timestamp"], name="cr_event_shopper"),
            models.Index(fields=["session_key", "timestamp"], name="cr_event_session"),
            # baskets
            models.Index(fields=["order_ref"], name="cr_event_order"),
        ]

    def __str__(self) -> str:
        return f"{self.get_event_type_display()} of {self.product_id} at {self.timestamp:%Y-%m-%d %H:%M}"


class ModelVersion(models.Model):
    """One training run and, if it succeeded, the model it produced."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        TRAINING = "training", _("training")
        READY = "ready", _("ready")
        FAILED = "failed", _("failed")
        CANCELLED = "cancelled", _("cancelled")
        ACTIVE = "active", _("active")
        RETIRED = "retired", _("retired")

    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    task_id = models.CharField(_("Celery task id"), max_length=64, blank=True, default="")
    data_start = models.DateTimeField(_("data from"), null=True, blank=True)
    data_end = models.DateTimeField(_("data until"), null=True, blank=True)
    events_used = models.PositiveIntegerField(_("events used"), default=0)
    event_counts = models.JSONField(_("events per type"), default=dict, blank=True)
    metrics = models.JSONField(
        _("holdout metrics"),
        default=dict,
        blank=True,
        help_text=_("Per method (model and each baseline): hr@10, ndcg@10, mrr@10, hr@3, hr@k curve."),
    )
    history = models.JSONField(_("training history"), default=dict, blank=True)
    params = models.JSONField(_("training parameters"), default=dict, blank=True)
    progress = models.JSONField(
        _("progress"), default=dict, blank=True, help_text=_("epoch, epochs, loss, elapsed_s, eta_s")
    )
    serving_method = models.CharField(
        _("serving scorer"),
        max_length=20,
        blank=True,
        default="",
        help_text=_("The scorer that won on the holdout and serves bundles: model or a baseline."),
    )
    artifact = models.CharField(_("artifact path"), max_length=255, blank=True, default="")
    artifact_size = models.PositiveBigIntegerField(_("artifact size (bytes)"), default=0)
    artifact_sha256 = models.CharField(
        _("artifact SHA-256"), max_length=64, blank=True, default="",
        help_text=_("Digest of the artifact as its run stored it; only a matching file is served."),
    )
    duration_s = models.FloatField(_("duration (s)"), null=True, blank=True)
    log = models.TextField(_("log"), blank=True, default="")
    error = models.TextField(_("error"), blank=True, default="")
    cancel_requested = models.BooleanField(_("cancel requested"), default=False)
    heartbeat_at = models.DateTimeField(_("last heartbeat"), null=True, blank=True)

    objects = ModelVersionQuerySet.as_manager()

    class Meta:
        verbose_name = _("model version")
        verbose_name_plural = _("model versions")
        ordering = ["-created_at", "-pk"]
        permissions = [
            ("retrain_modelversion", "Can start and cancel retraining"),
            ("activate_modelversion", "Can activate or roll back a model version"),
        ]

    def __str__(self) -> str:
        return f"v{self.pk} ({self.get_status_display()})"


class Activation(models.Model):
    """Audit trail: who made which version live, when, and which one it replaced."""

    version = models.ForeignKey(
        ModelVersion, verbose_name=_("activated version"), on_delete=models.CASCADE,
        related_name="activations",
    )
    previous = models.ForeignKey(
        ModelVersion, verbose_name=_("replaced version"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )
    automatic = models.BooleanField(_("by the activation gate"), default=False)
    note = models.CharField(_("note"), max_length=255, blank=True, default="")
    created_at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        verbose_name = _("activation")
        verbose_name_plural = _("activations")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"v{self.version_id} activated {self.created_at:%Y-%m-%d %H:%M}"


class BundleRule(models.Model):
    """A merchant's rule for one product: always offer a companion, or never offer it."""

    class Kind(models.TextChoices):
        PIN = "pin", _("pinned companion")
        BLOCK = "block", _("blocked companion")

    product = models.ForeignKey(
        PRODUCT_MODEL, verbose_name=_("when the cart holds"), on_delete=models.CASCADE,
        related_name="+",
    )
    companion = models.ForeignKey(
        PRODUCT_MODEL, verbose_name=_("companion"), on_delete=models.CASCADE, related_name="+",
    )
    kind = models.CharField(_("rule"), max_length=5, choices=Kind.choices)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("bundle rule")
        verbose_name_plural = _("bundle rules")
        constraints = [
            models.UniqueConstraint(
                fields=["product", "companion"], name="cart_recommender_rule_unique_pair"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.companion_id} with {self.product_id}"


class TrainingLock(models.Model):
    """A single row that serialises training runs across workers and hosts.

    The holder refreshes ``heartbeat_at``; a lock whose heartbeat is older than
    ``LOCK_TIMEOUT_SECONDS`` belonged to a crashed worker and may be taken over.
    """

    name = models.CharField(max_length=32, unique=True, default="training")
    holder = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("training lock")
        verbose_name_plural = _("training lock")

    def __str__(self) -> str:
        return f"held by v{self.holder_id}" if self.holder_id else "free"


class Erasure(models.Model):
    """Audit entry of one erased shopper: that it happened, how much, when, by whom; never who.

    ``subject`` is a keyed hash (HMAC-SHA256 under ``SECRET_KEY``) of the identity the request
    named, so a later request about the same person can be matched to this entry without the
    app keeping their id. ``trained_versions`` are the versions whose training data held some
    of the erased events: their pages say so until a retrain replaces them.
    """

    class Via(models.TextChoices):
        CODE = "code", _("forget_shopper()")
        COMMAND = "command", _("management command")
        ADMIN = "admin", _("admin")
        API = "api", _("REST API")
        USER_DELETED = "user_deleted", _("Django user deleted")

    subject = models.CharField(_("subject (keyed hash)"), max_length=64, db_index=True)
    via = models.CharField(_("via"), max_length=12, choices=Via.choices, default=Via.CODE)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )
    events_deleted = models.PositiveIntegerField(_("events deleted"), default=0)
    sessions = models.PositiveIntegerField(_("sessions"), default=0)
    shopper_refs = models.PositiveIntegerField(_("shop customer ids"), default=0)
    trained_versions = models.ManyToManyField(
        ModelVersion, verbose_name=_("versions trained on the erased data"), blank=True,
        related_name="erasures",
    )
    created_at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        verbose_name = _("erasure")
        verbose_name_plural = _("erasures")
        ordering = ["-created_at", "-pk"]
        permissions = [
            ("forget_shopper", "Can erase every trace of a shopper"),
            ("export_shopper", "Can export everything held on a shopper"),
        ]

    def __str__(self) -> str:
        return f"erasure {self.pk} ({self.events_deleted} events, {self.created_at:%Y-%m-%d %H:%M})"
