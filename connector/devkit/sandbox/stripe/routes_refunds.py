"""Stripe refunds: list (filter by ``charge`` and ``payment_intent``), create and retrieve.

``POST /v1/refunds`` validates like Stripe (charge or payment_intent, succeeded and not disputed,
amount within what is left, a known reason) and, with ``Idempotency-Key``, replays its first
answer (the pipeline in ``api.py``)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from connector.devkit.sandbox.stripe.api import (
    by_charge_or_pi,
    get_obj,
    invalid_request,
    stripe_route,
)
from connector.devkit.sandbox.stripe.state import REFUND_REASONS, StripeState


def refunds_blueprint(state: StripeState) -> Blueprint:
    bp = Blueprint("refunds", __name__)

    @stripe_route(bp, state, "GET", "/refunds")
    def list_refunds(params):
        return by_charge_or_pi(state.refunds, params, "/v1/refunds")

    @stripe_route(bp, state, "POST", "/refunds")
    def create_refund(params):
        return _create_refund(state, params)

    @stripe_route(bp, state, "GET", "/refunds/<obj_id>")
    def retrieve_refund(params, obj_id: str):
        return get_obj(state.refunds, obj_id, "refund")

    return bp


def _refunded_charge(state: StripeState, params: dict[str, Any]) -> dict[str, Any]:
    """The charge a refund request names (directly, or through its PaymentIntent), if it can
    still be refunded."""
    charge_id, pi_id = params.get("charge"), params.get("payment_intent")
    if not charge_id and not pi_id:
        raise invalid_request(
            "One of the following params should be provided for this request: "
            "payment_intent or charge."
        )
    if pi_id:
        pi = get_obj(state.payment_intents, pi_id, "payment_intent")
        if charge_id and charge_id != pi["latest_charge"]:
            raise invalid_request(
                "The charge does not belong to this payment_intent.", param="charge"
            )
        charge_id = pi["latest_charge"]
    charge = get_obj(state.charges, charge_id, "charge")
    if charge["status"] != "succeeded":
        raise invalid_request(
            "This charge cannot be refunded because it has not succeeded.", param="charge"
        )
    if charge["disputed"]:
        raise invalid_request(
            f"Charge {charge_id} has been charged back; cannot issue a refund.",
            code="charge_disputed",
        )
    return charge


def _amount(params: dict[str, Any], remaining: int) -> int:
    try:
        amount = int(params.get("amount", remaining))
    except ValueError:
        raise invalid_request("Invalid integer: amount", param="amount") from None
    if amount < 1:
        raise invalid_request(
            "Amount must be at least 1 cent.", code="amount_too_small", param="amount"
        )
    if amount > remaining:
        raise invalid_request(
            f"Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining})",
            code="amount_too_large",
            param="amount",
        )
    return amount


def _create_refund(state: StripeState, params: dict[str, Any]) -> dict[str, Any]:
    charge = _refunded_charge(state, params)
    remaining = charge["amount"] - charge["amount_refunded"]
    if remaining <= 0:
        raise invalid_request(
            f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded"
        )
    amount = _amount(params, remaining)
    reason = params.get("reason")
    if reason is not None and reason not in REFUND_REASONS:
        raise invalid_request(
            f"Invalid reason: must be one of {', '.join(REFUND_REASONS)}", param="reason"
        )
    metadata = params.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise invalid_request("Invalid object", param="metadata")
    refund = {
        "id": state.new_id("re"),
        "object": "refund",
        "amount": amount,
        "currency": charge["currency"],
        "charge": charge["id"],
        "payment_intent": charge["payment_intent"],
        "reason": reason,
        "status": "succeeded",
        "created": state.now(),
        "metadata": dict(metadata),
    }
    state.refunds[refund["id"]] = refund
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
    return refund
