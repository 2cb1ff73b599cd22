"""Shopify Admin GraphQL emulator (sandbox): the real ShopifyAPI SDK talks to it over HTTP.

- ``POST /admin/api/<version>/graphql.json`` (``routes_graphql.py``), parsed, validated and
  executed by graphql-core against a slice of the real 2026-10 schema (see
  ``shopify_schema.py``). Supported: ``orders(first, after, query, sortKey, reverse)``,
  ``order(id)``, ``job(id)`` and the ``orderCancel`` mutation (``resolvers.py``).
- Every answer carries ``extensions.cost`` with a leaky-bucket ``throttleStatus``. Tests can
  drain the bucket, force THROTTLED answers, delay answers (to exercise client timeouts) or fail
  them with an HTTP status (5xx, 429, 402, ...) through ``ShopifyState``.
- ``send_webhook`` delivers a signed Shopify webhook to the sidecar (``webhooks.py``).

Orders, customers and fulfillments (``model.py``) live in memory in a thread-safe
``ShopifyState`` (``state.py``); ``seed_demo`` loads the demo shop (``demo.py``). Imports no
vendor SDK; graphql-core is imported only when an app is built or a document
is resolved.
"""

from __future__ import annotations

from connector.devkit.sandbox.shopify.app import create_app, main, sidecar_settings
from connector.devkit.sandbox.shopify.model import (
    ShopCustomer,
    ShopFulfillment,
    ShopLineItem,
    ShopOrder,
    ShopTracking,
    gid,
    parse_gid,
)
from connector.devkit.sandbox.shopify.state import ShopifyState
from connector.devkit.sandbox.shopify.webhooks import (
    send_state_webhook,
    send_webhook,
    sign_webhook,
    webhook_headers,
)

__all__ = [
    "ShopCustomer",
    "ShopFulfillment",
    "ShopLineItem",
    "ShopOrder",
    "ShopTracking",
    "ShopifyState",
    "create_app",
    "gid",
    "main",
    "parse_gid",
    "send_state_webhook",
    "send_webhook",
    "sidecar_settings",
    "sign_webhook",
    "webhook_headers",
]
