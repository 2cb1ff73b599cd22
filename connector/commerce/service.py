"""A tenant's commerce clients, Shopify (orders) and Stripe (payments), and their credentials.

- The shop domain lives on the tenant row (``tenants.shopify_shop``); the Admin API access token
  lives encrypted in the secret store under ``shopify_access_token``. Both are read on every call,
  so a token purged by the ``app/uninstalled`` webhook in one process is gone for all of them.
- ``configure_env_tenant`` stores ``DESKGUARD_SHOPIFY_SHOP`` and
  ``DESKGUARD_SHOPIFY_ACCESS_TOKEN`` for the self-host tenant at start-up (a malicious or
  malformed domain fails here with a clear ConfigError).
- The Stripe key and webhook secret live encrypted in the secret store (``stripe_api_key``,
  ``stripe_webhook_secret``); ``configure_env_tenant`` copies them there from the settings too.
- ``cancel_write_action`` builds the keyed, audited ``WriteAction`` for an approved cancellation,
  with a reconcile step that recognises an order that is already cancelled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlite_utils

from connector.actions import WriteAction
from connector.errors import ConfigError, PermanentError
from connector.tenants import ensure_tenant

if TYPE_CHECKING:
    from adapters.shopify import ShopifyAdmin
    from adapters.stripe import StripeAdapter
    from connector.runtime import Runtime

TOKEN_SECRET = "shopify_access_token"
STRIPE_API_KEY_SECRET = "stripe_api_key"
STRIPE_WEBHOOK_SECRET = "stripe_webhook_secret"


def tenant_shop(db: sqlite_utils.Database, tenant_id: str) -> str:
    row = db.conn.execute("SELECT shopify_shop FROM tenants WHERE id = ?", (tenant_id,)).fetchone()
    return (row[0] or "") if row else ""


def tenants_for_shop(db: sqlite_utils.Database, shop_domain: str) -> list[str]:
    return [
        r[0]
        for r in db.conn.execute(
            "SELECT id FROM tenants WHERE shopify_shop = ? ORDER BY id",
            (shop_domain.strip().lower(),),
        )
    ]


def credentials(runtime: Runtime, tenant_id: str):
    def read() -> tuple[str, str]:
        shop = tenant_shop(runtime.db, tenant_id)
        token = runtime.secrets.get(runtime.db, tenant_id, TOKEN_SECRET) if shop else None
        if not shop or not token:
            raise PermanentError(
                f"Shopify is not connected for tenant {tenant_id} (no shop domain or access "
                "token; set DESKGUARD_SHOPIFY_SHOP and DESKGUARD_SHOPIFY_ACCESS_TOKEN)",
                vendor="shopify",
                code="shopify_not_connected",
            )
        return shop, token

    return read


def build_orders(runtime: Runtime, tenant_id: str, **overrides: Any) -> ShopifyAdmin:
    """The tenant's Shopify adapter (credentials are read on every call)."""
    from adapters.shopify import ShopifyAdmin

    c = runtime.config
    kwargs = {
        "api_version": c.shopify_api_version,
        "admin_url": c.shopify_admin_url,
        "timeout": c.shopify_timeout_seconds,
        "throttle_max_wait": c.shopify_throttle_max_wait_seconds,
        "lookup_limit": c.shopify_lookup_limit,
        **overrides,
    }
    return ShopifyAdmin(credentials(runtime, tenant_id), **kwargs)


def configure_env_tenant(runtime: Runtime, tenant_id: str) -> None:
    """Store the env tenant's Shopify and Stripe credentials from the settings."""
    configure_env_shop(runtime, tenant_id)
    configure_env_stripe(runtime, tenant_id)


def configure_env_shop(runtime: Runtime, tenant_id: str) -> None:
    """Store the env tenant's shop domain and (encrypted) token from the settings."""
    from adapters.shopify import InvalidShopDomain, clean_shop_domain

    config = runtime.config
    if not config.shopify_shop:
        if config.shopify_access_token:
            raise ConfigError(
                "DESKGUARD_SHOPIFY_ACCESS_TOKEN is set but DESKGUARD_SHOPIFY_SHOP is empty"
            )
        return
    try:
        shop = clean_shop_domain(config.shopify_shop)
    except InvalidShopDomain:
        raise ConfigError(
            f"DESKGUARD_SHOPIFY_SHOP={config.shopify_shop!r} is invalid: it must be exactly "
            "<store>.myshopify.com"
        ) from None
    if tenant_shop(runtime.db, tenant_id) != shop:
        ensure_tenant(runtime.db, tenant_id, shopify_shop=shop)
        runtime.forget_services(tenant_id)
    token = config.shopify_access_token
    if token and runtime.secrets.get(runtime.db, tenant_id, TOKEN_SECRET) != token:
        runtime.secrets.put(runtime.db, tenant_id, TOKEN_SECRET, token)
        runtime.forget_services(tenant_id)


def configure_env_stripe(runtime: Runtime, tenant_id: str) -> None:
    """Store the env Stripe credentials for the self-host tenant (only when set and changed)."""
    cfg = runtime.config
    wanted = {
        STRIPE_API_KEY_SECRET: cfg.stripe_api_key,
        STRIPE_WEBHOOK_SECRET: cfg.stripe_webhook_secret,
    }
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


def build_payments(runtime: Runtime, tenant_id: str) -> StripeAdapter:
    """The tenant's Stripe adapter; ConfigError when no Stripe key is stored."""
    from adapters.stripe import StripeAdapter

    key = runtime.secrets.get(runtime.db, tenant_id, STRIPE_API_KEY_SECRET)
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


def stripe_webhook_secret(runtime: Runtime, tenant_id: str) -> str | None:
    value = runtime.secrets.get(runtime.db, tenant_id, STRIPE_WEBHOOK_SECRET)
    return value.reveal() if value else None


def cancel_write_action(
    runtime: Runtime,
    tenant_id: str,
    *,
    order_id: str,
    reason: str,
    notify_customer: bool,
    restock: bool,
    staff_note: str,
    idempotency_key: str,
    refund: bool = False,
    ticket_id: int | None = None,
    job_id: int | None = None,
) -> WriteAction:
    """The ``WriteAction`` for an approved ``orderCancel``; run it with ``actions.execute``.

    ``reconcile`` answers an earlier attempt whose outcome is unknown: when the order is already
    cancelled, its cancel state is recorded as the result instead of cancelling again.
    """
    from adapters.shopify import order_gid

    gid = order_gid(order_id)
    params = {
        "order_id": gid,
        "reason": reason,
        "notify_customer": bool(notify_customer),
        "restock": bool(restock),
        "refund": bool(refund),
        "staff_note": staff_note,
    }

    def send(_key: str) -> dict[str, Any]:
        return (
            runtime.services(tenant_id)
            .require_orders()
            .cancel_order(
                gid,
                reason=reason,
                notify_customer=notify_customer,
                restock=restock,
                staff_note=staff_note,
                refund=refund,
            )
        )

    def reconcile(_key: str) -> dict[str, Any] | None:
        return runtime.services(tenant_id).require_orders().reconcile_cancel(gid)

    return WriteAction(
        vendor="shopify",
        kind="shopify.cancel_order",
        idempotency_key=idempotency_key,
        params=params,
        send=send,
        reconcile=reconcile,
        ticket_id=ticket_id,
        job_id=job_id,
    )
