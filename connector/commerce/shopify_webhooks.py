"""Shopify webhooks, received at ``POST /webhooks/shopify/<tenant>`` and ``POST /webhooks/shopify``
(connector/commerce/web.py; the second finds the tenants by ``X-Shopify-Shop-Domain``: Shopify's
mandatory privacy topics are configured once per app, not per shop).

Order of checks, each before the next step reads anything more:

1. ``X-Shopify-Hmac-Sha256`` = base64 HMAC-SHA256 of the *raw* body with the app's client secret
   (``DESKGUARD_SHOPIFY_API_SECRET``; a comma list is accepted during a secret rotation, when
   Shopify may keep signing with the old one for up to an hour), compared in constant time. Bad
   or missing: 401 and nothing else happens (Shopify requires 401 for the privacy topics).
2. Headers, tenant and shop: the shop domain must be a valid myshopify.com domain connected to
   the tenant.
3. Dedupe on ``X-Shopify-Webhook-Id`` (the event id is stored too): a redelivery answers 200 and
   does nothing.
4. Act, in the same transaction that records the delivery, so a crash leaves nothing half done
   and Shopify's retry redoes it: ``app/uninstalled`` purges the shop's token;
   ``customers/data_request`` writes an export file; ``customers/redact`` and ``shop/redact``
   erase (connector/commerce/privacy.py). Other topics are recorded and ignored.

All of it is local SQLite work, well inside Shopify's 5-second answer limit.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from connector import audit, logs
from connector.audit import now_iso
from connector.commerce import privacy
from connector.commerce.events import ShopifyTokenPurged, ShopifyWebhookReceived
from connector.db import transaction

if TYPE_CHECKING:
    from connector.runtime import Runtime

LOG = logs.get("commerce.shopify_webhooks")


# --- signature --------------------------------------------------------------------------------
def sign(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def verify_signature(body: bytes, header: str | None, secrets: str | None) -> bool:
    """Constant-time check of ``X-Shopify-Hmac-Sha256`` against every configured secret."""
    if not header or not secrets:
        return False
    try:
        given = header.strip().encode("ascii")
    except UnicodeEncodeError:
        return False
    ok = False
    for secret in (s.strip() for s in str(secrets).split(",")):
        if secret:
            ok |= hmac.compare_digest(sign(body, secret).encode("ascii"), given)  # no early exit
    return ok


# --- topic handlers: fn(runtime, tenant_id, shop, payload, webhook_id) -> outcome ----------------
Handler = Callable[["Runtime", str, str, dict[str, Any], str], str]


def app_uninstalled(
    runtime: Runtime, tenant_id: str, shop: str, payload: dict[str, Any], webhook_id: str
) -> str:
    db = runtime.db
    cur = db.conn.execute(
        "DELETE FROM secrets WHERE tenant_id = ? AND name LIKE 'shopify%'", (tenant_id,)
    )
    audit.record(
        db,
        tenant_id,
        ShopifyTokenPurged(shop=shop, reason="app/uninstalled", secrets_deleted=cur.rowcount),
    )
    runtime.forget_services(tenant_id)
    return f"token purged ({cur.rowcount} secret{'s' if cur.rowcount != 1 else ''})"


def customers_data_request(
    runtime: Runtime, tenant_id: str, shop: str, payload: dict[str, Any], webhook_id: str
) -> str:
    subject = privacy.CustomerSubject.from_payload(payload, "orders_requested")
    request_id = str((payload.get("data_request") or {}).get("id") or webhook_id)
    path = privacy.export_customer(
        runtime.db, runtime.config, tenant_id, subject, request_id=request_id, shop_domain=shop
    )
    return f"exported to {path.name}"


def customers_redact(
    runtime: Runtime, tenant_id: str, shop: str, payload: dict[str, Any], webhook_id: str
) -> str:
    subject = privacy.CustomerSubject.from_payload(payload, "orders_to_redact")
    counts = privacy.erase_customer(
        runtime.db, tenant_id, subject, request=f"customers/redact {webhook_id}"
    )
    return "erased " + json.dumps(counts, sort_keys=True)


def shop_redact(
    runtime: Runtime, tenant_id: str, shop: str, payload: dict[str, Any], webhook_id: str
) -> str:
    counts = privacy.erase_shop(runtime.db, tenant_id, shop, request=f"shop/redact {webhook_id}")
    runtime.forget_services(tenant_id)
    return "erased " + json.dumps(counts, sort_keys=True)


# Each topic's handler: fn(runtime, tenant_id, shop, payload, webhook_id) -> outcome.
HANDLERS: dict[str, Handler] = {
    "app/uninstalled": app_uninstalled,
    "customers/data_request": customers_data_request,
    "customers/redact": customers_redact,
    "shop/redact": shop_redact,
}


# --- a delivery --------------------------------------------------------------------------------
def clean_shop(value: str) -> str | None:
    from adapters.shopify import InvalidShopDomain, clean_shop_domain

    try:
        return clean_shop_domain(value) if value else None
    except InvalidShopDomain:
        return None


def deliver(
    runtime: Runtime, tenant_id: str, headers: dict[str, str], shop: str, payload: dict[str, Any]
) -> dict:
    db = runtime.db
    with transaction(db):
        cur = db.conn.execute(
            "INSERT OR IGNORE INTO shopify_webhook_deliveries (tenant_id, webhook_id, event_id,"
            " topic, shop_domain, api_version, triggered_at, received_at)"
            " VALUES (?,?,?,?,?,?,?,?)",
            (
                tenant_id,
                headers["webhook_id"],
                headers["event_id"],
                headers["topic"],
                shop,
                headers["api_version"],
                headers["triggered_at"],
                now_iso(),
            ),
        )
        if cur.rowcount == 0:
            return {"tenant": tenant_id, "duplicate": True}
        handler = HANDLERS.get(headers["topic"])
        outcome = (
            handler(runtime, tenant_id, shop, payload, headers["webhook_id"])
            if handler
            else "ignored"
        )
        db.conn.execute(
            "UPDATE shopify_webhook_deliveries SET outcome = ?"
            " WHERE tenant_id = ? AND webhook_id = ?",
            (outcome, tenant_id, headers["webhook_id"]),
        )
        audit.record(
            db,
            tenant_id,
            ShopifyWebhookReceived(
                topic=headers["topic"],
                shop=shop,
                webhook_id=headers["webhook_id"],
                event_id=headers["event_id"],
                outcome=outcome,
            ),
        )
    logs.log(
        LOG,
        logging.INFO,
        "shopify.webhook",
        tenant=tenant_id,
        topic=headers["topic"],
        outcome=outcome,
    )
    return {"tenant": tenant_id, "duplicate": False, "outcome": outcome}


__all__ = [
    "HANDLERS",
    "ShopifyTokenPurged",
    "ShopifyWebhookReceived",
    "sign",
    "verify_signature",
]
