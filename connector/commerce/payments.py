"""Stripe as a runtime service: credentials per tenant, the ``"stripe"`` service, payment lookups.

The Stripe key and webhook secret live encrypted in the secret store (``stripe_api_key``,
``stripe_webhook_secret``); ``configure_env_tenant`` copies them there from the settings for a
self-hosted tenant. The service factory builds one ``StripeAdapter`` per tenant from them.
"""

from __future__ import annotations

import logging
from typing import Any

from adapters.stripe import StripeAdapter, context_summary
from connector import logs
from connector.domain import PaymentContext, to_dict
from connector.errors import ConfigError
from connector.runtime import Runtime, register_service

LOG = logs.get("stripe")
API_KEY_SECRET = "stripe_api_key"
WEBHOOK_SECRET = "stripe_webhook_secret"


def configure_env_tenant(runtime: Runtime, tenant_id: str) -> None:
    """Store the env Stripe credentials for the self-host tenant (only when set and changed)."""
    cfg = runtime.config
    wanted = {API_KEY_SECRET: cfg.stripe_api_key, WEBHOOK_SECRET: cfg.stripe_webhook_secret}
    if not any(wanted.values()):
        return
    store = runtime.secrets
    changed = False
    for name, value in wanted.items():
        if value and store.get(runtime.db, tenant_id, name) != value:
            store.put(runtime.db, tenant_id, name, str(value))
            changed = True
    if changed:
        runtime.forget_services(tenant_id)


def stripe_service(runtime: Runtime, tenant_id: str) -> StripeAdapter:
    key = runtime.secrets.get(runtime.db, tenant_id, API_KEY_SECRET)
    if not key:
        raise ConfigError(
            f"Stripe is not configured for tenant {tenant_id!r}: set DESKGUARD_STRIPE_API_KEY"
        )
    cfg = runtime.config
    return StripeAdapter(
        key.reveal(),
        api_base=cfg.stripe_api_base,
        max_network_retries=cfg.stripe_max_network_retries,
        timeout=cfg.stripe_timeout_seconds,
        lookup_limit=cfg.stripe_lookup_limit,
    )


register_service("stripe", stripe_service)


def webhook_secret(runtime: Runtime, tenant_id: str) -> str | None:
    value = runtime.secrets.get(runtime.db, tenant_id, WEBHOOK_SECRET)
    return value.reveal() if value else None


def lookup_payments(runtime: Runtime, tenant_id: str, email: str) -> dict[str, Any]:
    """The Stripe context for one email, as JSON (``deskguard lookup payments``)."""
    ctx: PaymentContext = runtime.service("stripe", tenant_id).payment_context(email)
    logs.log(LOG, logging.INFO, "stripe.lookup", tenant=tenant_id, **context_summary(ctx))
    return to_dict(ctx)


# Stripe's zero-decimal currencies (amounts are whole units). From Stripe's currency docs; the
# reference notes for this project mark zero-decimal handling UNCONFIRMED, so only display uses it.
ZERO_DECIMAL = frozenset(
    [
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    ]
)


def format_minor(amount: int, currency: str) -> str:
    """``5890, "usd"`` → ``"58.90 USD"`` (display only; amounts stay integers everywhere else)."""
    cur = (currency or "").lower()
    if cur in ZERO_DECIMAL:
        return f"{amount} {cur.upper()}"
    sign = "-" if amount < 0 else ""
    whole, cents = divmod(abs(int(amount)), 100)
    return f"{sign}{whole}.{cents:02d} {cur.upper()}"
