"""Shopper segments: who buys what, grouped at every retrain, and what the shop does with them.

* :mod:`.compute`: the retrain's segments stage (features, k-means, matching, profiles, rows);
  the grouping itself is :mod:`cart_recommender.ml.segments`;
* :mod:`.reports`: what the admin and the API show (the current segments, a segment's history);
* serving reads a shopper's segment in memory (:mod:`cart_recommender.serving.segments`) to
  apply the segment's own rules and category cap, and templates read it with
  ``{% cart_recommender_segment %}``.
"""
