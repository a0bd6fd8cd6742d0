"""Admin screens of cart_recommender, registered on the default admin site.

- Model versions: list with holdout metrics against the baselines, a read-only detail page
  with plots, "Retrain now" with a live progress bar, cancel, activate and roll back.
- Activations: the audit trail. Behaviour events: a read-only list and the data overview.
- Bundle rules: merchants' pinned and blocked companions.
- Erasures: the audit trail of forgotten shoppers, and "Forget a shopper" (see privacy.py).
- Bundle performance: the dashboard of what bundles earn (performance.py).
- A/B tests: arms, start, stop, results with intervals, promote the winner (experiments.py).
- Segments: the overview with plots and a page per segment (segments.py).
"""

from django.contrib import admin

from cart_recommender.admin.activation import ActivationAdmin
from cart_recommender.admin.data import EventAdmin
from cart_recommender.admin.experiments import ExperimentAdmin
from cart_recommender.admin.performance import BundlePerformanceAdmin
from cart_recommender.admin.privacy import ErasureAdmin
from cart_recommender.admin.rules import BundleRuleAdmin
from cart_recommender.admin.segments import SegmentAdmin
from cart_recommender.admin.versions import ModelVersionAdmin
from cart_recommender.models import (
           Activation,
           BundleDay,
           BundleRule,
           Erasure,
           Event,
           Experiment,
           ModelVersion,
           Segment,
)

admin.site.register(ModelVersion, ModelVersionAdmin)
admin.site.register(Activation, ActivationAdmin)
admin.site.register(Event, EventAdmin)
admin.site.register(BundleRule, BundleRuleAdmin)
admin.site.register(Erasure, ErasureAdmin)
admin.site.register(BundleDay, BundlePerformanceAdmin)
admin.site.register(Experiment, ExperimentAdmin)
admin.site.register(Segment, SegmentAdmin)

__all__ = ["ActivationAdmin", "BundlePerformanceAdmin", "BundleRuleAdmin", "ErasureAdmin", "EventAdmin",
           "ExperimentAdmin", "ModelVersionAdmin", "SegmentAdmin"]
