"""Integrations with host frameworks: install one beside ``cart_recommender`` and it configures
the adapter, the signal receivers and the URLs the framework needs (see ``oscar``)."""
