"""Shopify and Stripe context and actions (issue #6).

Wired in through the hooks described in connector/areas.py."""
