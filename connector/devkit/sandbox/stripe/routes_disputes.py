"""Stripe disputes: list (filter by ``charge`` and ``payment_intent``) and retrieve."""

from __future__ import annotations

from flask import Blueprint

from connector.devkit.sandbox.stripe.api import by_charge_or_pi, get_obj, stripe_route
from connector.devkit.sandbox.stripe.state import StripeState


def disputes_blueprint(state: StripeState) -> Blueprint:
    bp = Blueprint("disputes", __name__)

    @stripe_route(bp, state, "GET", "/disputes")
    def list_disputes(params):
        return by_charge_or_pi(state.disputes, params, "/v1/disputes")

    @stripe_route(bp, state, "GET", "/disputes/<obj_id>")
    def retrieve_dispute(params, obj_id: str):
        return get_obj(state.disputes, obj_id, "dispute")

    return bp
