"""A tenant's commerce clients, Shopify (orders) and Stripe (payments), and their credentials.

- The shop domain lives on the tenant row (``tenants.shopify_shop``); the Admin API access token
  lives encrypted in the secret store under ``shopify_access_token`` (a legacy custom app's static
  ``shpat_`` token, or the offline token of a marketplace install once an admin linked the shop,
  connector/commerce/shopify_oauth.py). Both are read on every call, so a token purged by the
  ``app/uninstalled`` webhook in one process is gone for all of them.
- Without a stored token, a tenant whose shop runs our Dev Dashboard app gets tokens by the client
  credentials grant (``DESKGUARD_SHOPIFY_CLIENT_ID`` + ``DESKGUARD_SHOPIFY_API_SECRET``). The token
  is cached encrypted under ``shopify_client_token`` with its expiry, renewed
  ``shopify_token_renew_margin_seconds`` before it expires and once when Shopify answers 401.
  One renewal at a time: a lock per process, then a ledger write transaction (``BEGIN
  IMMEDIATE``) across processes, inside which the cache is read again, so a renewal another
  process finished meanwhile is used instead of asking Shopify twice.
- ``configure_env_tenant`` stores ``DESKGUARD_SHOPIFY_SHOP`` and
  ``DESKGUARD_SHOPIFY_ACCESS_TOKEN`` for the self-host tenant at start-up (a malicious or
  malformed domain fails here with a clear ConfigError).
- The Stripe key and webhook secret live encrypted in the secret store (``stripe_api_key``,
  ``stripe_webhook_secret``); ``configure_env_tenant`` copies them there from the settings too.
- ``cancel_write_action`` builds the keyed, audited ``WriteAction`` for an approved cancellation,
  with a reconcile step that recognises an order that is already cancelled.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sqlite_utils

from connector.actions import WriteAction
from connector.db import transaction
from connector.errors import ConfigError, PermanentError
from connector.tenants import ensure_tenant

if TYPE_CHECKING:
    from adapters.shopify import ShopifyAdmin
    from adapters.stripe import StripeAdapter
    from connector.runtime import Runtime

TOKEN_SECRET = "shopify_access_token"
CLIENT_TOKEN_SECRET = "shopify_client_token"  # JSON {"token", "expires_at"}; "shopify" prefix:
# the app/uninstalled purge (DELETE ... name LIKE 'shopify%') removes it too
_RENEWAL_LOCK = threading.Lock()
_now = time.time  # the clock token expiry is judged by (tests move it)
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


def credentials(runtime: Runtime, tenant_id: str) -> Callable[[], tuple[str, str]]:
    """``() -> (shop, token)`` read on every call: the stored token, else a client-credentials
    token (renewed when due)."""

    def read() -> tuple[str, str]:
        shop = tenant_shop(runtime.db, tenant_id)
        token = runtime.secrets.get(runtime.db, tenant_id, TOKEN_SECRET) if shop else None
        if shop and token:
            return shop, token
        if shop and client_credentials_configured(runtime):
            return shop, client_token(runtime, tenant_id, shop)
        raise PermanentError(
            f"Shopify is not connected for tenant {tenant_id} (no shop domain or access "
            "token; install the app and link the shop on /admin/connections, or set "
            "DESKGUARD_SHOPIFY_SHOP with DESKGUARD_SHOPIFY_CLIENT_ID and "
            "DESKGUARD_SHOPIFY_API_SECRET)",
            vendor="shopify",
            code="shopify_not_connected",
        )

    return read


def client_credentials_configured(runtime: Runtime) -> bool:
    c = runtime.config
    return bool(c.shopify_client_id and c.shopify_api_secret)


def _app_secret(runtime: Runtime) -> str:
    """The client secret that signs token requests: the first of a rotation's ``new,old``."""
    return str.__str__(runtime.config.shopify_api_secret or "").split(",")[0].strip()


def _cached_client_token(runtime: Runtime, tenant_id: str) -> tuple[str, float | None] | None:
    raw = runtime.secrets.get(runtime.db, tenant_id, CLIENT_TOKEN_SECRET)
    if raw is None:
        return None
    try:
        data = json.loads(raw.reveal())
        return str(data["token"]), data.get("expires_at")
    except (ValueError, KeyError, TypeError):
        return None


def _usable(
    cached: tuple[str, float | None] | None, rejected: str | None, runtime: Runtime
) -> str | None:
    if cached is None or cached[0] == rejected:
        return None
    token, expires_at = cached
    margin = runtime.config.shopify_token_renew_margin_seconds
    if expires_at is not None and _now() >= float(expires_at) - margin:
        return None
    return token


def client_token(
    runtime: Runtime, tenant_id: str, shop: str, *, rejected: str | None = None
) -> str:
    """The tenant's client-credentials token, renewed when it is due or was ``rejected`` (401)."""
    token = _usable(_cached_client_token(runtime, tenant_id), rejected, runtime)
    if token:
        return token
    from adapters.shopify import client_credentials_token

    c = runtime.config
    with _RENEWAL_LOCK, transaction(runtime.db):
        token = _usable(_cached_client_token(runtime, tenant_id), rejected, runtime)
        if token:
            return token  # renewed by another thread or process while we waited
        fresh = client_credentials_token(
            shop,
            c.shopify_client_id,
            _app_secret(runtime),
            admin_url=c.shopify_admin_url,
            timeout=c.shopify_timeout_seconds,
            clock=_now,
        )
        value = json.dumps({"token": fresh.token, "expires_at": fresh.expires_at})
        runtime.secrets.put(runtime.db, tenant_id, CLIENT_TOKEN_SECRET, value)
        return fresh.token


def renew_rejected_token(runtime: Runtime, tenant_id: str) -> Callable[[str], None]:
    """The adapter's ``on_rejected_token``: a rejected client-credentials token is renewed at
    once; a rejected stored token (static or OAuth) cannot be renewed here, so nothing happens
    and the retry fails the same way."""

    def renew(token: str) -> None:
        shop = tenant_shop(runtime.db, tenant_id)
        if not shop or not client_credentials_configured(runtime):
            return
        if runtime.secrets.get(runtime.db, tenant_id, TOKEN_SECRET):
            return
        client_token(runtime, tenant_id, shop, rejected=token)

    return renew


def build_orders(runtime: Runtime, tenant_id: str, **overrides: Any) -> ShopifyAdmin:
    """The tenant's Shopify adapter (credentials are read on every call)."""
    from adapters.shopify import ShopifyAdmin

    c = runtime.config
    kwargs = {
        "api_version": c.shopify_api_version,
        "admin_url": c.shopify_admin_url,
        "timeout": c.shopify_timeout_seconds,
        # Never hold a worker longer than DESKGUARD_VENDOR_MAX_WAIT_SECONDS (connector/waits.py).
        "throttle_max_wait": min(c.shopify_throttle_max_wait_seconds, c.vendor_max_wait_seconds),
        "lookup_limit": c.shopify_lookup_limit,
        "on_rejected_token": renew_rejected_token(runtime, tenant_id),
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
        api_version=cfg.stripe_api_version,
        max_network_retries=cfg.stripe_max_network_retries,
        max_wait_seconds=cfg.vendor_max_wait_seconds,
        timeout=cfg.stripe_timeout_seconds,
        lookup_limit=cfg.stripe_lookup_limit,
    )


def stripe_webhook_secrets(runtime: Runtime, tenant_id: str) -> list[str]:
    """The tenant's Stripe webhook signing secrets. The stored value may hold several,
    comma-separated (a rotation: the new ``whsec_`` and the one being retired); empty: none."""
    value = runtime.secrets.get(runtime.db, tenant_id, STRIPE_WEBHOOK_SECRET)
    if not value:
        return []
    return [part.strip() for part in value.reveal().split(",") if part.strip()]


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
