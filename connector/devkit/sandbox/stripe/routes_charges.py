"""Stripe charges: list (filter by ``customer`` and ``payment_intent``) and retrieve."""

from __future__ import annotations

from flask import Blueprint

from connector.devkit.sandbox.stripe.api import get_obj, list_page, stripe_route
from connector.devkit.sandbox.stripe.state import StripeState


def charges_blueprint(state: StripeState) -> Blueprint:
    bp = Blueprint("charges", __name__)

    @stripe_route(bp, state, "GET", "/charges")
    def list_charges(params):
        rows = [
            c
            for c in state.charges.values()
            if (not params.get("customer") or c["customer"] == params["customer"])
            and (
                not params.get("payment_intent") or c["payment_intent"] == params["payment_intent"]
            )
        ]
        return list_page(rows, params, "/v1/charges")

    @stripe_route(bp, state, "GET", "/charges/<obj_id>")
    def retrieve_charge(params, obj_id: str):
        return get_obj(state.charges, obj_id, "charge")

    return bp
