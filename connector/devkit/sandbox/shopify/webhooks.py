"""Signed Shopify webhooks, as Shopify sends them: ``X-Shopify-Hmac-Sha256`` is the base64
HMAC-SHA256 of the raw body, keyed with the app secret, alongside the real header set."""

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
    api_version: str = "2025-01",
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
    api_version: str = "2025-01",
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
