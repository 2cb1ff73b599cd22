"""Shopify and Stripe context and actions (issue #6).

Wired in through the hooks described in connector/areas.py."""

# Stripe (issue #6, Stripe half): the "stripe" service, the stripe.dispute and approvals.execute
# job handlers register at import.
from connector.commerce import approvals, disputes, payments, stripe_webhooks  # noqa: F401


def configure_env_tenant(runtime, tenant_id: str) -> None:
    payments.configure_env_tenant(runtime, tenant_id)


def register_web(app) -> None:
    from connector.commerce import approvals_api

    stripe_webhooks.register_web(app)
    approvals_api.register_web(app)


def register_cli(cli) -> None:
    # Imported here: connector.cli loads the areas while it is itself being imported.
    from connector.commerce import stripe_cli

    stripe_cli.register_cli(cli)
