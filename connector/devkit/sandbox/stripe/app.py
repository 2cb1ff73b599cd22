"""The Stripe sandbox's Flask app: one blueprint per API resource, each route running through
the shared pipeline in ``api.py``, plus the ``/_sandbox`` control plane."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Flask

from connector.devkit.sandbox.stripe.api import unknown_urls_blueprint
from connector.devkit.sandbox.stripe.demo import seed_demo
from connector.devkit.sandbox.stripe.routes_charges import charges_blueprint
from connector.devkit.sandbox.stripe.routes_customers import customers_blueprint
from connector.devkit.sandbox.stripe.routes_disputes import disputes_blueprint
from connector.devkit.sandbox.stripe.routes_payment_intents import payment_intents_blueprint
from connector.devkit.sandbox.stripe.routes_refunds import refunds_blueprint
from connector.devkit.sandbox.stripe.routes_sandbox import sandbox_control_blueprint
from connector.devkit.sandbox.stripe.routes_webhook_endpoints import webhook_endpoints_blueprint
from connector.devkit.sandbox.stripe.state import StripeState

BLUEPRINTS: tuple[Callable[[StripeState], Blueprint], ...] = (
    customers_blueprint,
    charges_blueprint,
    payment_intents_blueprint,
    refunds_blueprint,
    disputes_blueprint,
    webhook_endpoints_blueprint,
    unknown_urls_blueprint,
    sandbox_control_blueprint,
)


def create_app(state: StripeState | None = None, *, seed: bool = True) -> Flask:
    """The emulator as a Flask app. ``state`` defaults to a fresh account (demo data when
    ``seed``)."""
    if state is None:
        state = StripeState()
        if seed:
            seed_demo(state)
    app = Flask("deskguard-sandbox-stripe")
    app.extensions["stripe_state"] = state
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint(state))
    return app
