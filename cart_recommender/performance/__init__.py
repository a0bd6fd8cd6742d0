"""What bundles earn: bundle ids, attribution of later events, daily rollups, the dashboard's numbers.

- :mod:`.tags`: the id every rendered bundle carries (version, scorer, arm; signed).
- :mod:`.attribution`: which bundle an add-to-cart, purchase or refund is credited to, decided
  as the event is stored.
- :mod:`.rollups`: per-day counts per version, scorer and arm, and per A/B test shopper,
  updated incrementally by the ``update_performance`` task.
- :mod:`.report`: the funnel read back from the rollups (dashboard, CSV, REST).

See docs/performance.md.
"""
