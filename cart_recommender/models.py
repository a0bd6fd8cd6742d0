"""Behaviour events, trained model versions and their activations, shopper segments, bundle rules."""

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
    REFUND = "refund", _("refund")


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
    # Attribution (see cart_recommender.performance): on a bundle impression or click, the
    # bundle shown; on an add-to-cart, removal, purchase or refund, the bundle it is credited to.
    bundle_id = models.CharField(_("bundle"), max_length=64, blank=True, default="")
    served_by = models.CharField(
        _("served by"), max_length=20, blank=True, default="",
        help_text=_('The model version that chose the bundle, or "baseline".'),
    )
    scorer = models.CharField(_("scorer"), max_length=20, blank=True, default="")
    arm = models.ForeignKey(
        "ExperimentArm", verbose_name=_("experiment arm"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+", db_index=False,  # partial index below
    )
    segment = models.PositiveIntegerField(
        _("shopper segment"), null=True, blank=True,
        help_text=_("The segment id of the shopper the bundle was served to, as its bundle id says."),
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
            # A/B tests: the few events of an arm (most events have none: a partial index)
            models.Index(fields=["arm", "timestamp"], name="cr_event_arm",
                         condition=models.Q(arm__isnull=False)),
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
    segmentation = models.JSONField(
        _("segments"), default=dict, blank=True,
        help_text=_("How this run grouped the shoppers: k, the silhouette per k tried, how many "
                    "shoppers moved segment since the previous run."),
    )

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


class Segment(models.Model):
    """A group of shoppers who behave alike, kept across retrains (see :mod:`cart_recommender.segments`).

    Each retrain groups the shoppers afresh and matches every group to the segment of the
    previous run it shares most shoppers with, so a segment's name, its rules and its history
    stay with the shoppers they were written for.
    """

    name = models.CharField(_("name"), max_length=100)
    name_edited = models.BooleanField(
        _("named by staff"), default=False,
        help_text=_("A retrain suggests a fresh name from the profile unless staff named the segment."),
    )
    category_cap = models.PositiveSmallIntegerField(
        _("category cap"), null=True, blank=True,
        help_text=_("At most this many bundle items of one category for this segment's shoppers; "
                    "empty: the shop's CATEGORY_CAP."),
    )
    note = models.TextField(_("note"), blank=True, default="")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.name


class SegmentProfile(models.Model):
    """What a segment was in one model version: its size and figures (see ``ml.segments.profile``)."""

    version = models.ForeignKey(
        ModelVersion, verbose_name=_("model version"), on_delete=models.CASCADE,
        related_name="segment_profiles",
    )
    segment = models.ForeignKey(
        Segment, verbose_name=_("segment"), on_delete=models.CASCADE, related_name="profiles"
    )
    position = models.PositiveSmallIntegerField(_("rank by size"), default=0)
    shoppers = models.PositiveIntegerField(_("shoppers"), default=0)
    profile = models.JSONField(_("profile"), default=dict, blank=True)

    class Meta:
        verbose_name = _("segment profile")
        verbose_name_plural = _("segment profiles")
        ordering = ["version", "position"]
        constraints = [
            models.UniqueConstraint(fields=["version", "segment"], name="cart_recommender_profile_unique"),
        ]

    def __str__(self) -> str:
        return f"v{self.version_id}: {self.segment_id} ({self.shoppers})"


class ShopperSegment(models.Model):
    """One shopper's segment in one model version, by a keyed hash of the shopper's key.

    Only the newest few versions keep these rows (the serving one and the one before, for
    matching); an erasure deletes the erased shopper's.
    """

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="+")
    subject = models.CharField(_("shopper (keyed hash)"), max_length=64)
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="+")

    class Meta:
        verbose_name = _("shopper segment")
        verbose_name_plural = _("shopper segments")
        constraints = [
            models.UniqueConstraint(fields=["version", "subject"], name="cart_recommender_member_unique"),
        ]
        indexes = [models.Index(fields=["subject"], name="cr_member_subject")]

    def __str__(self) -> str:
        return f"v{self.version_id}/{self.segment_id}/{self.subject[:8]}"


class BundleRule(models.Model):
    """A merchant's rule for one product: always offer a companion, or never offer it; for every
    shopper, or for one segment's."""

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
    segment = models.ForeignKey(
        Segment, verbose_name=_("only for segment"), null=True, blank=True, on_delete=models.CASCADE,
        related_name="rules", help_text=_("Empty: the rule holds for every shopper."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("bundle rule")
        verbose_name_plural = _("bundle rules")
        constraints = [
            models.UniqueConstraint(
                fields=["product", "companion"], condition=models.Q(segment__isnull=True),
                name="cart_recommender_rule_unique_pair",
            ),
            models.UniqueConstraint(
                fields=["product", "companion", "segment"], condition=models.Q(segment__isnull=False),
                name="cart_recommender_rule_unique_segment_pair",
            ),
        ]

    def __str__(self) -> str:
        scope = f" (segment {self.segment_id})" if self.segment_id else ""
        return f"{self.get_kind_display()}: {self.companion_id} with {self.product_id}{scope}"


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


class Experiment(models.Model):
    """An A/B test between model versions, baseline scorers and, optionally, no bundle at all.

    Shoppers are split between the arms by a stable hash of their key (see
    :mod:`cart_recommender.experiments`); at most one experiment runs at a time.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        RUNNING = "running", _("running")
        STOPPED = "stopped", _("stopped")

    class Metric(models.TextChoices):
        REVENUE = "revenue_per_shopper", _("revenue per shopper")
        ATTRIBUTED_REVENUE = "attributed_revenue_per_shopper", _("bundle revenue per shopper")
        CONVERSION = "conversion", _("conversion (shoppers who order)")
        CTR = "ctr", _("bundle click-through rate")

    name = models.CharField(_("name"), max_length=100)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    primary_metric = models.CharField(
        _("primary metric"), max_length=40, choices=Metric.choices, default=Metric.REVENUE,
        help_text=_("The metric that decides the winner; the others are shown too."),
    )
    min_days = models.PositiveSmallIntegerField(
        _("minimum duration (days)"), default=14,
        help_text=_("No winner is declared before the test has run this long (weekly cycles)."),
    )
    note = models.TextField(_("note"), blank=True, default="")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("started by"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )
    stopped_at = models.DateTimeField(_("stopped"), null=True, blank=True)
    stopped_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("stopped by"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )
    promoted_arm = models.ForeignKey(
        "ExperimentArm", verbose_name=_("promoted arm"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )

    class Meta:
        verbose_name = _("A/B test")
        verbose_name_plural = _("A/B tests")
        ordering = ["-created_at", "-pk"]
        permissions = [("manage_experiment", "Can start, stop and promote A/B tests")]
        constraints = [
            models.UniqueConstraint(
                fields=["status"], condition=models.Q(status="running"),
                name="cart_recommender_one_running_experiment",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ExperimentArm(models.Model):
    """One arm of an A/B test: what its shoppers are served, and its share of them."""

    class Kind(models.TextChoices):
        VERSION = "version", _("model version")
        BASELINE = "baseline", _("baseline scorer")
        HOLDOUT = "holdout", _("no bundle (hold-out)")

    class Scorer(models.TextChoices):
        POPULARITY = "popularity", _("popularity")
        COPURCHASE = "copurchase", _("co-purchase counts")
        PERSONAL = "personal", _("the shopper's own purchases")
        REPEAT_DECAY = "repeat_decay", _("decayed repeat purchases + co-purchase")

    experiment = models.ForeignKey(
        Experiment, verbose_name=_("A/B test"), on_delete=models.CASCADE, related_name="arms"
    )
    name = models.CharField(_("name"), max_length=40)
    kind = models.CharField(_("serves"), max_length=10, choices=Kind.choices, default=Kind.VERSION)
    version = models.ForeignKey(
        ModelVersion, verbose_name=_("model version"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="+",
    )
    scorer = models.CharField(_("baseline scorer"), max_length=20, choices=Scorer.choices, blank=True,
                              default="")
    share = models.PositiveSmallIntegerField(
        _("traffic share (%)"), default=50, help_text=_("The shares of all arms add up to 100.")
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("arm")
        verbose_name_plural = _("arms")
        ordering = ["position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["experiment", "name"], name="cart_recommender_arm_name"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def serves(self) -> str:
        """What the arm's shoppers get, in words."""
        if self.kind == self.Kind.VERSION:
            return f"model version v{self.version_id}"
        if self.kind == self.Kind.BASELINE:
            return f"baseline: {self.get_scorer_display()}"
        return str(_("no bundle"))


class BundleDay(models.Model):
    """Rollup: one day of bundles of one serving version, scorer, arm and shopper segment (see
    :mod:`.performance`).

    Counts only, nobody's identity: the dashboard reads these rows, never the events.
    """

    day = models.DateField(_("day"), db_index=True)
    served_by = models.CharField(_("served by"), max_length=20)
    scorer = models.CharField(_("scorer"), max_length=20)
    arm = models.ForeignKey(
        ExperimentArm, verbose_name=_("arm"), null=True, blank=True, on_delete=models.CASCADE,
        related_name="+",
    )
    segment = models.PositiveIntegerField(_("shopper segment"), null=True, blank=True)
    bundles_shown = models.PositiveIntegerField(_("bundles shown"), default=0)
    items_shown = models.PositiveIntegerField(_("items shown"), default=0)
    bundles_clicked = models.PositiveIntegerField(_("bundles clicked"), default=0)
    clicks = models.PositiveIntegerField(_("item clicks"), default=0)
    add_to_carts = models.PositiveIntegerField(_("add-to-carts"), default=0)
    removals = models.PositiveIntegerField(_("removed again"), default=0)
    orders = models.PositiveIntegerField(_("orders with a bundle item"), default=0)
    units = models.PositiveIntegerField(_("units bought"), default=0)
    revenue = models.DecimalField(_("revenue"), max_digits=14, decimal_places=2, default=0)
    refunded = models.DecimalField(_("refunded"), max_digits=14, decimal_places=2, default=0)

    class Meta:
        verbose_name = _("bundle performance")
        verbose_name_plural = _("bundle performance")
        ordering = ["day", "served_by", "scorer"]

    def __str__(self) -> str:
        return f"{self.day} {self.served_by}/{self.scorer}"


class ProductDay(models.Model):
    """Rollup: what one product earned through bundles on one day, per version, scorer, arm, segment."""

    day = models.DateField(_("day"), db_index=True)
    product = models.ForeignKey(
        PRODUCT_MODEL, verbose_name=_("product"), on_delete=models.CASCADE, related_name="+",
    )
    served_by = models.CharField(_("served by"), max_length=20)
    scorer = models.CharField(_("scorer"), max_length=20)
    arm = models.ForeignKey(
        ExperimentArm, verbose_name=_("arm"), null=True, blank=True, on_delete=models.CASCADE,
        related_name="+",
    )
    segment = models.PositiveIntegerField(_("shopper segment"), null=True, blank=True)
    items_shown = models.PositiveIntegerField(_("times shown"), default=0)
    add_to_carts = models.PositiveIntegerField(_("add-to-carts"), default=0)
    units = models.PositiveIntegerField(_("units bought"), default=0)
    revenue = models.DecimalField(_("revenue"), max_digits=14, decimal_places=2, default=0)

    class Meta:
        verbose_name = _("product performance (day)")
        verbose_name_plural = _("product performance (days)")

    def __str__(self) -> str:
        return f"{self.day} {self.product_id}"


class ExperimentShopper(models.Model):
    """Rollup: one shopper of a running A/B test, by a keyed hash of their key (never the key).

    The per-shopper sums the tests need (revenue per shopper is not a sum of daily totals).
    Deleted with the shopper on erasure.
    """

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="+")
    arm = models.ForeignKey(ExperimentArm, on_delete=models.CASCADE, related_name="+")
    subject = models.CharField(_("shopper (keyed hash)"), max_length=64)
    bundles_shown = models.PositiveIntegerField(default=0)
    bundles_clicked = models.PositiveIntegerField(default=0)
    orders = models.PositiveIntegerField(default=0)
    revenue = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    attributed_orders = models.PositiveIntegerField(default=0)
    attributed_revenue = models.DecimalField(max_digits=14, decimal_places=2, default=0)

    class Meta:
        verbose_name = _("A/B test shopper")
        verbose_name_plural = _("A/B test shoppers")
        constraints = [
            models.UniqueConstraint(
                fields=["experiment", "subject"], name="cart_recommender_experiment_subject"
            ),
        ]
        indexes = [models.Index(fields=["subject"], name="cr_expshopper_subject")]

    def __str__(self) -> str:
        return f"{self.experiment_id}/{self.arm_id}/{self.subject[:8]}"


class RollupCursor(models.Model):
    """How far the rollups have read the events table (the newest event id they saw)."""

    name = models.CharField(max_length=32, unique=True, default="performance")
    last_event_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("rollup cursor")
        verbose_name_plural = _("rollup cursors")

    def __str__(self) -> str:
        return f"{self.name}: event {self.last_event_id}"
