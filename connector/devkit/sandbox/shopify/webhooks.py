"""Signed Shopify webhooks, as Shopify sends them: ``X-Shopify-Hmac-Sha256`` is the base64
HMAC-SHA256 of the raw body, keyed with the app secret, alongside the real header set, and the
bodies Shopify documents for the topics Deskguard acts on (``topic_payload``; see
docs/vendors/shopify.md, webhooks)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import requests

from connector.devkit.sandbox.shopify.model import iso
from connector.devkit.sandbox.shopify.state import ShopifyState

SANDBOX_SHOP_ID = 954889  # the shop id in Shopify's own compliance-webhook examples


def shop_payload(shop_domain: str, shop_id: int = SANDBOX_SHOP_ID) -> dict[str, Any]:
    """The ``app/uninstalled`` body: the shop, as the REST ``Shop`` resource (the fields the
    sidecar reads, plus a few others a real one carries)."""
    return {
        "id": shop_id,
        "name": "Deskguard Demo",
        "email": "owner@example.com",
        "domain": "shop.example.com",
        "myshopify_domain": shop_domain,
        "currency": "EUR",
        "iana_timezone": "Europe/Amsterdam",
    }


def topic_payload(
    topic: str,
    shop_domain: str,
    *,
    shop_id: int = SANDBOX_SHOP_ID,
    customer: dict[str, Any] | None = None,
    orders: list[int] | None = None,
    request_id: int = 9999,
) -> dict[str, Any]:
    """The body Shopify sends for ``topic`` (the three compliance topics and app/uninstalled)."""
    if topic == "app/uninstalled":
        return shop_payload(shop_domain, shop_id)
    body: dict[str, Any] = {"shop_id": shop_id, "shop_domain": shop_domain}
    if topic == "shop/redact":
        return body
    body["customer"] = customer or {"id": 191167, "email": "john@example.com", "phone": None}
    if topic == "customers/redact":
        return {**body, "orders_to_redact": list(orders or [])}
    if topic == "customers/data_request":
        return {**body, "orders_requested": list(orders or []), "data_request": {"id": request_id}}
    raise ValueError(f"no documented body for topic {topic!r}")


def sign_webhook(body: bytes, secret: str) -> str:
    """``X-Shopify-Hmac-Sha256``: base64 of the HMAC-SHA256 of the raw body, keyed with the app
    secret."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def webhook_headers(
    topic: str,
    body: bytes,
    *,
    secret: str,
    shop_domain: str,
    webhook_id: str | None = None,
    event_id: str | None = None,
    api_version: str = "2026-10",
    triggered_at: datetime | None = None,
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign_webhook(body, secret),
        "X-Shopify-Shop-Domain": shop_domain,
        "X-Shopify-API-Version": api_version,
        "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Shopify-Event-Id": event_id or str(uuid.uuid4()),
        "X-Shopify-Triggered-At": iso(triggered_at or datetime.now(UTC)) or "",
    }


def send_webhook(
    url: str,
    topic: str,
    payload: dict[str, Any],
    *,
    secret: str,
    shop_domain: str,
    webhook_id: str | None = None,
    event_id: str | None = None,
    timeout: float = 5.0,
    api_version: str = "2026-10",
):
    """POST a signed webhook to ``url`` (e.g. the sidecar's /webhooks/shopify/<tenant>)."""
    body = json.dumps(payload).encode()
    headers = webhook_headers(
        topic,
        body,
        secret=secret,
        shop_domain=shop_domain,
        webhook_id=webhook_id,
        event_id=event_id,
        api_version=api_version,
    )
    return requests.post(url, data=body, headers=headers, timeout=timeout)


def send_state_webhook(
    state: ShopifyState, url: str, topic: str, payload: dict[str, Any], **kwargs
):
    """``send_webhook`` signed with this shop's app secret and domain."""
    return send_webhook(
        url, topic, payload, secret=state.api_secret, shop_domain=state.shop_domain, **kwargs
    )
