"""Stripe PaymentIntents: list (filter by ``customer``) and retrieve."""

from __future__ import annotations

from flask import Blueprint

from connector.devkit.sandbox.stripe.api import get_obj, list_page, stripe_route
from connector.devkit.sandbox.stripe.state import StripeState


def payment_intents_blueprint(state: StripeState) -> Blueprint:
    bp = Blueprint("payment_intents", __name__)

    @stripe_route(bp, state, "GET", "/payment_intents")
    def list_payment_intents(params):
        rows = [
            p
            for p in state.payment_intents.values()
            if not params.get("customer") or p["customer"] == params["customer"]
        ]
        return list_page(rows, params, "/v1/payment_intents")

    @stripe_route(bp, state, "GET", "/payment_intents/<obj_id>")
    def retrieve_payment_intent(params, obj_id: str):
        return get_obj(state.payment_intents, obj_id, "payment_intent")

    return bp
