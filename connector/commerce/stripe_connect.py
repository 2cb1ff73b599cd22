"""Connecting a tenant's Stripe account with a key an admin pastes (console or CLI).

1. The key must be a restricted key (``rk_live_``/``rk_test_``) or a secret key (``sk_``; taken,
   with a warning, since it can do everything). "Restricted API keys",
   https://docs.stripe.com/keys/restricted-api-keys.
2. Each permission Deskguard needs (``adapters.stripe.REQUIRED_PERMISSIONS``: read on Customers,
   Charges, PaymentIntents, Refunds, Disputes and Webhook Endpoints; write on Refunds and
   Webhook Endpoints) is probed with a call that changes nothing; Stripe's permission error
   (HTTP 403) on a probe names that permission as missing, and nothing is stored.
3. Our webhook endpoint is created through the API (``POST /v1/webhook_endpoints``; url =
   ``DESKGUARD_PUBLIC_URL`` + ``/webhooks/stripe/<tenant>``, the events
   connector/commerce/stripe_webhooks.py handles). Stripe returns its signing secret only at
   creation ("Webhook Endpoints", https://stripe.com/docs/api/webhook_endpoints), so an existing
   endpoint is reused only while we still hold its secret, which makes connecting twice create
   one endpoint.
4. Key and signing secret are stored encrypted (``stripe_api_key``, ``stripe_webhook_secret``;
   the latter in the comma-separated ``whsec_`` list format the webhook receiver reads), the
   endpoint id as the tenant setting ``stripe_webhook_endpoint``, all in one transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from connector import audit, logs, tenants
from connector.commerce.service import STRIPE_API_KEY_SECRET, STRIPE_WEBHOOK_SECRET
from connector.commerce.stripe_webhooks import HANDLED_EVENTS
from connector.db import transaction
from connector.errors import BadRequest, ConfigError, PermanentError

if TYPE_CHECKING:
    from connector.runtime import Runtime

LOG = logs.get("commerce.stripe_connect")
ENDPOINT_SETTING = "stripe_webhook_endpoint"
WEBHOOK_PATH = "/webhooks/stripe/{tenant}"


class MissingPermissions(BadRequest):
    code = "stripe_permissions_missing"

    def __init__(self, missing: list[str]):
        super().__init__(
            "The Stripe key lacks these permissions: "
            + ", ".join(missing)
            + ". Edit the restricted key in the Stripe Dashboard (Developers > API keys) and "
            "paste it again."
        )
        self.missing = missing


@audit.event
@dataclass(frozen=True)
class StripeConnected(audit.Event):
    kind: ClassVar[str] = "stripe.connected"
    key_kind: str  # restricted | secret
    endpoint_id: str
    endpoint_created: bool
    actor: str


@dataclass(frozen=True)
class StripeConnection:
    tenant_id: str
    key_kind: str
    endpoint_id: str
    endpoint_url: str
    endpoint_created: bool
    warnings: list[str] = field(default_factory=list)


def key_kind(api_key: str) -> str:
    key = api_key.strip()
    if key.startswith(("rk_live_", "rk_test_")):
        return "restricted"
    if key.startswith(("sk_live_", "sk_test_")):
        return "secret"
    raise BadRequest("a Stripe key starts with rk_live_, rk_test_ (restricted) or sk_ (secret)")


def webhook_url(runtime: Runtime, tenant_id: str) -> str:
    base = runtime.config.public_url
    if not base:
        raise ConfigError(
            "set DESKGUARD_PUBLIC_URL (the https URL Stripe reaches this sidecar at) before "
            "connecting Stripe: the webhook endpoint is created there"
        )
    return base.rstrip("/") + WEBHOOK_PATH.format(tenant=tenant_id)


def connect_stripe(
    runtime: Runtime, tenant_id: str, api_key: str, *, actor: str
) -> StripeConnection:
    """Check ``api_key``, set up the webhook endpoint and store both secrets for the tenant."""
    from adapters.stripe import StripeAdapter, StripeKeyCheck

    tenants.get_tenant(runtime.db, tenant_id)  # NotFound for an unknown tenant
    api_key = api_key.strip()
    kind = key_kind(api_key)
    url = webhook_url(runtime, tenant_id)
    cfg = runtime.config
    check = StripeKeyCheck(
        StripeAdapter(
            api_key,
            api_base=cfg.stripe_api_base,
            api_version=cfg.stripe_api_version,
            max_network_retries=cfg.stripe_max_network_retries,
            max_wait_seconds=cfg.vendor_max_wait_seconds,
            timeout=cfg.stripe_timeout_seconds,
        )
    )
    missing = check.missing_permissions()
    if missing:
        raise MissingPermissions(missing)
    same_key = _stored(runtime, tenant_id, STRIPE_API_KEY_SECRET) == api_key
    have_secret = same_key and bool(_stored(runtime, tenant_id, STRIPE_WEBHOOK_SECRET))
    endpoint = check.ensure_webhook_endpoint(
        url, sorted(HANDLED_EVENTS), tenant_id=tenant_id, have_secret=have_secret
    )
    if endpoint.created and not endpoint.secret:
        raise PermanentError("Stripe created the webhook endpoint without a signing secret")
    _store(runtime, tenant_id, api_key, kind, endpoint, actor)
    warnings = []
    if kind == "secret":
        warnings.append(
            "a secret key can do anything in the Stripe account; a restricted key with only the "
            "permissions above is safer"
        )
    logs.log(
        LOG,
        logging.INFO,
        "stripe.connected",
        tenant=tenant_id,
        key_kind=kind,
        endpoint=endpoint.id,
        created=endpoint.created,
    )
    return StripeConnection(tenant_id, kind, endpoint.id, url, endpoint.created, warnings)


def _stored(runtime: Runtime, tenant_id: str, name: str) -> str | None:
    value = runtime.secrets.get(runtime.db, tenant_id, name)
    return value.reveal() if value else None


def _store(runtime: Runtime, tenant_id: str, api_key: str, kind: str, endpoint, actor: str) -> None:
    db, store = runtime.db, runtime.secrets
    with transaction(db):
        store.put(db, tenant_id, STRIPE_API_KEY_SECRET, api_key)
        if endpoint.secret:
            store.put(db, tenant_id, STRIPE_WEBHOOK_SECRET, endpoint.secret)
        tenants.set_setting(
            db,
            tenant_id,
            ENDPOINT_SETTING,
            {"id": endpoint.id, "url": endpoint.url},
            actor=actor,
            reason="Stripe connected",
        )
        audit.record(
            db,
            tenant_id,
            StripeConnected(
                key_kind=kind,
                endpoint_id=endpoint.id,
                endpoint_created=endpoint.created,
                actor=actor[:200],
            ),
        )
    runtime.forget_services(tenant_id)


def connection_state(runtime: Runtime, tenant_id: str) -> dict[str, object]:
    """What the console shows: whether a key and a signing secret are stored, and the
    endpoint (never the secrets themselves)."""
    store, db = runtime.secrets, runtime.db
    key = store.get(db, tenant_id, STRIPE_API_KEY_SECRET)
    return {
        "connected": bool(key) and bool(store.get(db, tenant_id, STRIPE_WEBHOOK_SECRET)),
        "key_kind": None if not key else "restricted" if key.startswith("rk_") else "secret",
        "endpoint": tenants.get_setting(db, tenant_id, ENDPOINT_SETTING),
    }
