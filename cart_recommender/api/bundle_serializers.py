"""The shape of a bundle answer, for the OpenAPI schema (see :mod:`cart_recommender.api.schema`).

The views answer with :meth:`Bundle.to_dict <cart_recommender.serving.bundle.Bundle.to_dict>`
(a serializer round trip would cost more than the bundle); these classes only describe it, and
the schemathesis test checks that real answers match them.
"""

from __future__ import annotations

from rest_framework import serializers


class BundleItemSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    url = serializers.CharField(allow_blank=True)
    image_url = serializers.CharField(allow_blank=True)
    price = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True, coerce_to_string=True)
    category = serializers.CharField(allow_null=True)
    score = serializers.FloatField()
    reason = serializers.CharField(help_text='Why it is offered, e.g. "Often bought with Blue mug".')
    source = serializers.ChoiceField(
        choices=["pinned", "model", "copurchase", "personal", "popularity", "catalog"],
        help_text="Which scorer proposed it.",
    )


class BundleSerializer(serializers.Serializer):
    items = BundleItemSerializer(many=True)
    total = serializers.DecimalField(max_digits=12, decimal_places=2, coerce_to_string=True)
    discount_percent = serializers.DecimalField(max_digits=5, decimal_places=2, coerce_to_string=True)
    discount = serializers.DecimalField(max_digits=12, decimal_places=2, coerce_to_string=True)
    total_after_discount = serializers.DecimalField(max_digits=12, decimal_places=2, coerce_to_string=True)
    cart_total = serializers.DecimalField(max_digits=12, decimal_places=2, coerce_to_string=True)
    free_shipping_threshold = serializers.DecimalField(
        max_digits=12, decimal_places=2, allow_null=True, coerce_to_string=True
    )
    reaches_free_shipping = serializers.BooleanField()
    model_version = serializers.CharField(help_text='The serving model version\'s id, or "baseline".')
    method = serializers.CharField(help_text="The scorer that proposed most of the bundle.")
    bundle_id = serializers.CharField(
        allow_blank=True,
        help_text="This rendering's id; send it with the bundle's impression and click events "
        "(beacon) so what the shopper then adds or buys is credited to it. Empty for an empty bundle.",
    )
    experiment_arm = serializers.CharField(
        allow_null=True, help_text="The A/B test arm the shopper is in, or null outside a test."
    )
