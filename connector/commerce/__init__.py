"""Shopify and Stripe context and actions (issue #6).

Wired in through the hooks described in connector/areas.py."""

# Stripe (issue #6, Stripe half): the "stripe" service, the stripe.dispute and approvals.execute
# job handlers register at import.
from connector.commerce import (  # noqa: F401
    approvals,
    disputes,
    payments,
    shopify_service,  # registers the "shopify" service
    shopify_webhooks,
    stripe_webhooks,
)


def configure_env_tenant(runtime, tenant_id: str) -> None:
    shopify_service.configure_env_tenant(runtime, tenant_id)
    payments.configure_env_tenant(runtime, tenant_id)


def register_web(app) -> None:
    from connector.commerce import approvals_api

    stripe_webhooks.register_web(app)
    approvals_api.register_web(app)
    shopify_webhooks.register_web(app)


def register_cli(cli) -> None:
    # Imported here: connector.cli loads the areas while it is itself being imported.
    from connector.commerce import cli as commerce_cli
    from connector.commerce import stripe_cli

    commerce_cli.register_cli(cli)  # the `lookup` group and `lookup orders`
    stripe_cli.register_cli(cli)
