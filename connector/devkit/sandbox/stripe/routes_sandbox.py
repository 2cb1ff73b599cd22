"""The Stripe sandbox's control plane for the demo and tests (``/_sandbox/...``; loopback
only, no auth): inject failures, register webhook endpoints, add customers, open disputes (which
delivers ``charge.dispute.created``), read the request log."""

from __future__ import annotations

from flask import Blueprint, request

from connector.devkit.sandbox.stripe.api import respond
from connector.devkit.sandbox.stripe.state import StripeState


def sandbox_control_blueprint(state: StripeState) -> Blueprint:
    bp = Blueprint("sandbox_control", __name__, url_prefix="/_sandbox")

    @bp.post("/fail")
    def sandbox_fail():
        data = request.get_json(force=True)
        state.fail(
            data.get("method", "GET"),
            data["path"],
            int(data.get("status", 500)),
            int(data.get("times", 1)),
        )
        return respond(200, {"ok": True})

    @bp.post("/webhook_endpoints")
    def sandbox_webhook_endpoint():
        data = request.get_json(force=True)
        state.add_webhook_endpoint(data["url"], data["secret"])
        return respond(200, {"ok": True})

    @bp.post("/customers")
    def sandbox_customer():
        data = request.get_json(force=True)
        return respond(200, state.add_customer(data["email"], data.get("name", "")))

    @bp.post("/disputes")
    def sandbox_dispute():
        data = request.get_json(force=True)
        charge_id = data.get("charge")
        if not charge_id and data.get("email"):
            charges = state.charges_of(data["email"])
            charge_id = charges[0]["id"] if charges else None
        if charge_id not in state.charges:
            return respond(
                404, {"error": {"type": "invalid_request_error", "message": "no such charge"}}
            )
        dispute, event = state.open_dispute(
            charge_id,
            reason=data.get("reason", "fraudulent"),
            due_in_days=float(data.get("due_in_days", 7)),
            deliver=bool(data.get("deliver", True)),
        )
        deliveries = [d.__dict__ for d in state.deliveries if d.event_id == event["id"]]
        return respond(200, {"dispute": dispute, "event": event, "deliveries": deliveries})

    @bp.get("/requests")
    def sandbox_requests():
        with state.lock:
            return respond(200, {"requests": list(state.requests)})

    return bp
