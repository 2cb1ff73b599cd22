"""Shopify webhooks, received at ``POST /webhooks/shopify/<tenant>`` and ``POST /webhooks/shopify``
(connector/commerce/web.py; the second finds the tenants by ``X-Shopify-Shop-Domain``: Shopify's
mandatory privacy topics are configured once per app, not per shop).

Order of checks, each before the next step reads anything more:

1. ``X-Shopify-Hmac-Sha256`` = base64 HMAC-SHA256 of the *raw* body with the app's client secret
   (``DESKGUARD_SHOPIFY_API_SECRET``; a comma list is accepted during a secret rotation, when
   Shopify may keep signing with the old one for up to an hour), compared in constant time. Bad
   or missing: 401 and nothing else happens (Shopify requires 401 for the privacy topics).
2. Headers: the shop domain must be a valid myshopify.com domain.
3. The body is bound to its meaning (connector/commerce/shopify_shapes.py): it must be the shape
   Shopify documents for the header's topic, and the shop it names must be the header's shop;
   else 400 and nothing happens. The signature covers the body only, so this is what stops a
   body captured for one topic from being re-sent as another.
4. Tenant and shop: the header's shop must be the tenant's shop, and a shop id already seen in a
   signed body for that shop must match (``ShopMismatch``, 400).
5. Dedupe, three ways (a duplicate answers 200 and does nothing): ``X-Shopify-Webhook-Id`` (a
   redelivery), ``X-Shopify-Event-Id`` (Shopify's documented duplicate marker, the same across
   subscriptions; "Ignore duplicate webhooks",
   https://shopify.dev/apps/build/webhooks/ignore-duplicates) and the SHA-256 of the body (the
   same signed bytes under new, unsigned ids: a replay).
6. Act, in the same transaction that records the delivery, so a crash leaves nothing half done
   and Shopify's retry redoes it: ``app/uninstalled`` purges the shop's token;
   ``customers/data_request`` writes an export file; ``customers/redact`` and ``shop/redact``
   erase (connector/commerce/privacy.py) and delete that customer's / every export file. Other
   topics are recorded and ignored.

All of it is local SQLite work, well inside Shopify's 5-second answer limit.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from connector import audit, logs
from connector.audit import now_iso
from connector.commerce import privacy, shopify_oauth
from connector.commerce.events import ShopifyTokenPurged, ShopifyWebhookReceived
from connector.commerce.shopify_shapes import ShopMismatch, SignedBody
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


# --- a delivery, as checked ----------------------------------------------------------------------
@dataclass(frozen=True)
class Delivery:
    """One verified delivery: the headers, the shop, the body's digest and, for the topics
    Deskguard acts on, the body as checked against that topic's documented shape."""

    topic: str
    webhook_id: str
    event_id: str
    api_version: str
    triggered_at: str
    shop: str
    body_sha256: str
    payload: dict[str, Any]
    signed: SignedBody | None = None


def body_digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


# --- topic handlers: fn(runtime, tenant_id, delivery) -> outcome ---------------------------------
Handler = Callable[["Runtime", str, Delivery], str]


def app_uninstalled(runtime: Runtime, tenant_id: str, delivery: Delivery) -> str:
    db = runtime.db
    cur = db.conn.execute(
        "DELETE FROM secrets WHERE tenant_id = ? AND name LIKE 'shopify%'", (tenant_id,)
    )
    audit.record(
        db,
        tenant_id,
        ShopifyTokenPurged(
            shop=delivery.shop, reason="app/uninstalled", secrets_deleted=cur.rowcount
        ),
    )
    # The marketplace install goes too: the shop is unlinked from every tenant that held it and
    # its stored install row (and offline token) deleted, in this same transaction.
    shopify_oauth.unlink_shop(runtime, delivery.shop, reason="app/uninstalled")
    runtime.forget_services(tenant_id)
    return f"token purged ({cur.rowcount} secret{'s' if cur.rowcount != 1 else ''})"


def _subject(signed: SignedBody | None) -> privacy.CustomerSubject:
    if signed is None or signed.customer is None:  # the shape check guarantees both
        raise ValueError("a customer topic without a checked customer")
    customer = signed.customer
    return privacy.CustomerSubject(
        email=customer.email.lower(),
        customer_id=str(customer.id or ""),
        order_ids=tuple(str(o) for o in signed.order_ids),
    )


def customers_data_request(runtime: Runtime, tenant_id: str, delivery: Delivery) -> str:
    subject = _subject(delivery.signed)
    request_id = str(delivery.signed.request_id if delivery.signed else delivery.webhook_id)
    path = privacy.export_customer(
        runtime.db,
        runtime.config,
        tenant_id,
        subject,
        request_id=request_id,
        shop_domain=delivery.shop,
    )
    return f"exported to {path.name}"


def customers_redact(runtime: Runtime, tenant_id: str, delivery: Delivery) -> str:
    subject = _subject(delivery.signed)
    counts = privacy.erase_customer(
        runtime.db, tenant_id, subject, request=f"customers/redact {delivery.webhook_id}"
    )
    files = privacy.delete_customer_exports(runtime.config, tenant_id, subject)
    return "erased " + json.dumps({**counts, "export_files": files}, sort_keys=True)


def shop_redact(runtime: Runtime, tenant_id: str, delivery: Delivery) -> str:
    counts = privacy.erase_shop(
        runtime.db, tenant_id, delivery.shop, request=f"shop/redact {delivery.webhook_id}"
    )
    files = privacy.delete_tenant_exports(runtime.config, tenant_id)
    runtime.forget_services(tenant_id)
    return "erased " + json.dumps({**counts, "export_files": files}, sort_keys=True)


# Each topic's handler: fn(runtime, tenant_id, delivery) -> outcome.
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


def _duplicate_of(db, tenant_id: str, delivery: Delivery) -> str | None:
    """Why this delivery was already received (webhook id, event id or body digest), or None."""
    checks = (
        ("webhook_id", "webhook_id", delivery.webhook_id),
        ("event_id", "event_id", delivery.event_id),
        ("body_sha256", "body_sha256", delivery.body_sha256),
    )
    for reason, column, value in checks:
        if not value:
            continue
        row = db.conn.execute(
            "SELECT webhook_id FROM shopify_webhook_deliveries"
            f" WHERE tenant_id = ? AND {column} = ? LIMIT 1",
            (tenant_id, value),
        ).fetchone()
        if row is not None:
            return reason
    return None


def _bind_shop_id(db, tenant_id: str, delivery: Delivery) -> None:
    """A shop's id never changes: a signed body naming another id for this shop is refused."""
    if delivery.signed is None:
        return
    row = db.conn.execute(
        "SELECT shop_id FROM shopify_webhook_deliveries WHERE tenant_id = ? AND shop_domain = ?"
        " AND shop_id IS NOT NULL ORDER BY received_at LIMIT 1",
        (tenant_id, delivery.shop),
    ).fetchone()
    if row is not None and row[0] != delivery.signed.shop_id:
        raise ShopMismatch(
            f"the signed body names shop id {delivery.signed.shop_id}, but {delivery.shop} "
            f"has shop id {row[0]}"
        )


def deliver(runtime: Runtime, tenant_id: str, delivery: Delivery) -> dict:
    db = runtime.db
    privacy.expire_exports(runtime.config, tenant_id=tenant_id)
    with transaction(db):
        _bind_shop_id(db, tenant_id, delivery)
        duplicate = _duplicate_of(db, tenant_id, delivery)
        if duplicate is not None:
            logs.log(
                LOG,
                logging.INFO,
                "shopify.webhook_duplicate",
                tenant=tenant_id,
                topic=delivery.topic,
                same=duplicate,
            )
            return {"tenant": tenant_id, "duplicate": True, "same": duplicate}
        db.conn.execute(
            "INSERT INTO shopify_webhook_deliveries (tenant_id, webhook_id, event_id, topic,"
            " shop_domain, api_version, triggered_at, received_at, body_sha256, shop_id)"
            " VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                tenant_id,
                delivery.webhook_id,
                delivery.event_id,
                delivery.topic,
                delivery.shop,
                delivery.api_version,
                delivery.triggered_at,
                now_iso(),
                delivery.body_sha256,
                delivery.signed.shop_id if delivery.signed else None,
            ),
        )
        handler = HANDLERS.get(delivery.topic)
        outcome = handler(runtime, tenant_id, delivery) if handler else "ignored"
        db.conn.execute(
            "UPDATE shopify_webhook_deliveries SET outcome = ?"
            " WHERE tenant_id = ? AND webhook_id = ?",
            (outcome, tenant_id, delivery.webhook_id),
        )
        audit.record(
            db,
            tenant_id,
            ShopifyWebhookReceived(
                topic=delivery.topic,
                shop=delivery.shop,
                webhook_id=delivery.webhook_id,
                event_id=delivery.event_id,
                outcome=outcome,
            ),
        )
    logs.log(
        LOG,
        logging.INFO,
        "shopify.webhook",
        tenant=tenant_id,
        topic=delivery.topic,
        outcome=outcome,
    )
    return {"tenant": tenant_id, "duplicate": False, "outcome": outcome}


__all__ = [
    "HANDLERS",
    "Delivery",
    "ShopifyTokenPurged",
    "ShopifyWebhookReceived",
    "body_digest",
    "deliver",
    "sign",
    "verify_signature",
]
