"""The commerce area's HTTP endpoints: Shopify and Stripe webhooks, and the approvals API.

Webhooks (verified on the raw body before anything is parsed):

- ``POST /webhooks/shopify/<tenant>`` and ``POST /webhooks/shopify``
  (connector/commerce/shopify_webhooks.py)
- ``POST /webhooks/stripe/<tenant>`` (connector/commerce/stripe_webhooks.py)

Collaborative actions:

- ``GET  /api/v1/tenants/<t>/tickets/<id>/approvals``  a ticket's approvals (``?state=`` filter)
- ``GET  /api/v1/tenants/<t>/approvals``               the tenant's approvals (``?state=``)
- ``GET  /api/v1/tenants/<t>/approvals/<id>``          one approval
- ``POST /api/v1/tenants/<t>/approvals/<id>/approve``  body ``{"agent": "...", "note": "..."}``
- ``POST /api/v1/tenants/<t>/approvals/<id>/reject``   same body

Authenticated with the admin bearer token (``Authorization: Bearer $DESKGUARD_ADMIN_TOKEN``);
with no token configured the API is off (403). The side panel calls the same functions in
connector/commerce/approvals.py with its own agent authentication.
"""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify, request

from connector import logs
from connector.commerce import (
    approvals,
    shopify_oauth,
    shopify_shapes,
    shopify_webhooks,
    stripe_webhooks,
)
from connector.commerce.service import stripe_webhook_secrets, tenant_shop, tenants_for_shop
from connector.domain import to_dict
from connector.errors import BadRequest, DeskguardError
from connector.tenants import get_tenant
from connector.web_context import error_response, get_runtime, require_admin
from connector.webhook_shapes import loads_object

SHOPIFY_LOG = logs.get("commerce.shopify_webhooks")
STRIPE_LOG = logs.get("stripe.webhooks")
shopify_bp = Blueprint("shopify_webhooks", __name__)
stripe_bp = Blueprint("stripe_webhooks", __name__)
bp = Blueprint("approvals_api", __name__, url_prefix="/api/v1/tenants/<tenant>")


bp.before_request(require_admin)


def _states() -> tuple[str, ...] | None:
    raw = request.args.get("state", "")
    states = tuple(s for s in raw.split(",") if s)
    bad = [s for s in states if s not in approvals.STATES]
    if bad:
        raise BadRequest(f"unknown state {bad[0]!r}: expected one of {', '.join(approvals.STATES)}")
    return states or None


def _decision_body() -> tuple[str, str]:
    body = request.get_json(silent=True) if request.data else {}
    if body is None or not isinstance(body, dict):
        raise BadRequest(
            'body must be a JSON object like {"agent": "jo@example.com", "note": "..."}'
        )
    agent = str(body.get("agent") or "admin").strip()
    note = str(body.get("note") or "")
    if len(agent) > 200 or len(note) > 2000:
        raise BadRequest("agent or note is too long")
    return agent, note


@bp.get("/tickets/<int:ticket_id>/approvals")
def ticket_approvals(tenant: str, ticket_id: int):
    items = approvals.list_approvals(
        get_runtime().db, tenant, ticket_id=ticket_id, states=_states()
    )
    return jsonify({"approvals": [to_dict(a) for a in items]})


@bp.get("/approvals")
def tenant_approvals(tenant: str):
    items = approvals.list_approvals(get_runtime().db, tenant, states=_states())
    return jsonify({"approvals": [to_dict(a) for a in items]})


@bp.get("/approvals/<int:approval_id>")
def one_approval(tenant: str, approval_id: int):
    return jsonify(to_dict(approvals.get(get_runtime().db, tenant, approval_id)))


@bp.post("/approvals/<int:approval_id>/<any(approve, reject):decision>")
def decide(tenant: str, approval_id: int, decision: str):
    agent, note = _decision_body()
    fn = approvals.approve if decision == "approve" else approvals.reject
    approval = fn(get_runtime(), tenant, approval_id, agent, note=note)
    return jsonify(to_dict(approval))


# --- Shopify webhooks -----------------------------------------------------------------------------
def _receive_shopify(tenant_id: str | None):
    runtime = get_runtime()
    raw = request.get_data(cache=False)
    if not shopify_webhooks.verify_signature(
        raw, request.headers.get("X-Shopify-Hmac-Sha256"), runtime.config.shopify_api_secret
    ):
        logs.log(
            SHOPIFY_LOG,
            logging.WARNING,
            "shopify.webhook_rejected",
            reason="bad_signature",
            tenant=tenant_id,
        )
        return error_response(
            401, "invalid_signature", "X-Shopify-Hmac-Sha256 does not match the request body"
        )
    h = request.headers
    topic = (h.get("X-Shopify-Topic") or "").strip()
    webhook_id = (h.get("X-Shopify-Webhook-Id") or "").strip()
    shop = shopify_webhooks.clean_shop(h.get("X-Shopify-Shop-Domain") or "")
    if not topic or not webhook_id or shop is None:
        return error_response(
            400,
            "bad_request",
            "X-Shopify-Topic, X-Shopify-Webhook-Id and a valid X-Shopify-Shop-Domain are required",
        )
    try:
        payload = loads_object(raw)
        # The topic and shop headers are unsigned: the signed body must be that topic's shape
        # and name that shop before anything is looked up or done.
        signed = shopify_shapes.check(topic, payload, shop)
    except DeskguardError as exc:
        logs.log(
            SHOPIFY_LOG,
            logging.WARNING,
            "shopify.webhook_rejected",
            reason=exc.code,
            topic=topic,
            tenant=tenant_id,
        )
        raise
    delivery = shopify_webhooks.Delivery(
        topic=topic,
        webhook_id=webhook_id,
        event_id=(h.get("X-Shopify-Event-Id") or "").strip(),
        api_version=(h.get("X-Shopify-API-Version") or "").strip(),
        triggered_at=(h.get("X-Shopify-Triggered-At") or "").strip(),
        shop=shop,
        body_sha256=shopify_webhooks.body_digest(raw),
        payload=payload,
        signed=signed,
    )
    if tenant_id is None:
        tenants = tenants_for_shop(runtime.db, shop)
        if not tenants:  # no tenant holds this shop (at most an install not linked yet)
            if topic == "app/uninstalled":
                shopify_oauth.unlink_shop(runtime, shop, reason="app/uninstalled")
            return jsonify({"ok": True, "topic": topic, "deliveries": []})
    else:
        if tenant_shop(runtime.db, tenant_id) != shop:
            return error_response(
                404, "unknown_shop", f"shop {shop} is not connected to tenant {tenant_id}"
            )
        tenants = [tenant_id]
    deliveries = [shopify_webhooks.deliver(runtime, t, delivery) for t in tenants]
    return jsonify({"ok": True, "topic": topic, "deliveries": deliveries})


@shopify_bp.post("/webhooks/shopify/<tenant_id>")
def receive_for_tenant(tenant_id: str):
    return _receive_shopify(tenant_id)


@shopify_bp.post("/webhooks/shopify")
def receive_for_app():
    return _receive_shopify(None)


# --- Stripe webhooks ------------------------------------------------------------------------------
@stripe_bp.post("/webhooks/stripe/<tenant>")
def stripe_webhook(tenant: str):
    runtime = get_runtime()
    db = runtime.db
    try:
        get_tenant(db, tenant)
    except DeskguardError:
        return error_response(404, "unknown_tenant", f"unknown tenant {tenant!r}")
    secrets = stripe_webhook_secrets(runtime, tenant)
    if not secrets:
        # Not the sender's fault: 503 makes Stripe retry once the secret is configured.
        return error_response(
            503, "not_configured", "Stripe webhooks are not configured for this tenant"
        )
    raw = request.get_data(cache=False)  # the exact bytes Stripe signed
    try:
        event = stripe_webhooks.verify_event(
            raw,
            request.headers.get("Stripe-Signature"),
            secrets,
            tolerance=runtime.config.stripe_webhook_tolerance_seconds,
        )
        stripe_webhooks.check_event(event)
    except DeskguardError as exc:
        logs.log(
            STRIPE_LOG, logging.WARNING, "stripe.webhook_rejected", tenant=tenant, reason=exc.code
        )
        raise
    outcome = stripe_webhooks.record_event(db, runtime.queue, tenant, event)
    logs.log(
        STRIPE_LOG,
        logging.INFO,
        "stripe.webhook",
        tenant=tenant,
        event_id=outcome["event_id"],
        type=event["type"],
        duplicate=outcome["duplicate"],
        job=outcome.get("job_id"),
    )
    return jsonify(outcome), 200
