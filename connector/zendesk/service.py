"""The "zendesk" service: builds a tenant's Zendesk adapter from the ledger, and the small ledger
records the intake keeps (account ids from setup, Deskguard's own ticket versions).

Per tenant, the base URL lives on the ``tenants`` row; the OAuth token pair (``oauth.py``) and
the webhook signing secret in the encrypted secret store. How a tenant authenticates, first
match wins:

1. stored OAuth tokens (connected at /connect/zendesk, or obtained earlier by the
   client-credentials grant);
2. the self-hosted env tenant with DESKGUARD_ZENDESK_OAUTH_CLIENT_ID/_SECRET: the
   client-credentials grant of that client, obtained on first use;
3. deprecated: an agent email + API token (Zendesk deactivates API tokens on 30 April 2027).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlite_utils

from connector import audit
from connector.audit import now_iso
from connector.db import transaction
from connector.errors import ConfigError
from connector.tenants import ensure_tenant, get_tenant
from connector.zendesk.oauth import (
    CLIENT_CREDENTIALS,
    StoredTokens,
    TenantTokens,
    ZendeskConnected,
    load_tokens,
    oauth_client,
    oauth_config,
    save_tokens,
)

if TYPE_CHECKING:
    from connector.runtime import Runtime

API_TOKEN = "zendesk_api_token"  # secret names in the secret store
WEBHOOK_SECRET = "zendesk_webhook_secret"
OWN_UPDATES_KEEP_SECONDS = 7 * 24 * 3600


def normalize_updated_at(value: Any) -> str:
    """A ticket version as ``YYYY-MM-DDTHH:MM:SSZ`` (UTC, seconds: Zendesk's resolution), from an
    ISO-8601 string (any offset) or unix seconds. Raises ValueError on anything else."""
    if isinstance(value, bool):
        raise ValueError("updated_at must be a timestamp")
    if isinstance(value, int | float):
        moment = datetime.fromtimestamp(float(value), UTC)
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        moment = (
            datetime.fromtimestamp(int(text), UTC)
            if text.isascii() and text.isdecimal()
            else datetime.fromisoformat(text.replace("Z", "+00:00"))
        )
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    elif isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    else:
        raise ValueError("updated_at must be an ISO-8601 timestamp")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def zendesk_url_from_config(config) -> str:
    url = config.get("zendesk_url") or ""
    if not url and config.get("zendesk_subdomain"):
        url = f"https://{config.zendesk_subdomain}.zendesk.com"
    return url


def configure_env_tenant(runtime: Runtime, tenant_id: str) -> None:
    """Store the env tenant's Zendesk URL/email on its row and its token/secret encrypted.

    Secrets are written only when they changed, so restarts do not add audit rows."""
    config = runtime.config
    db = runtime.db
    url = zendesk_url_from_config(config)
    fields = {
        k: v
        for k, v in (
            ("zendesk_url", url),
            ("zendesk_email", config.get("zendesk_email") or ""),
            ("zendesk_subdomain", config.get("zendesk_subdomain") or ""),
        )
        if v
    }
    if fields:
        ensure_tenant(db, tenant_id, **fields)
    # Once an OAuth client is configured the API token is not stored again: `deskguard zendesk
    # migrate-auth` deletes it, and a restart must not bring it back.
    api_token = None if oauth_config(config) else config.get("zendesk_api_token")
    for name, value in (
        (API_TOKEN, api_token),
        (WEBHOOK_SECRET, config.get("zendesk_webhook_secret")),
    ):
        if not value:
            continue
        current = runtime.secrets.get(db, tenant_id, name)
        if current is None or current.reveal() != value:
            runtime.secrets.put(db, tenant_id, name, value)


def tenant_base_url(runtime: Runtime, tenant_id: str) -> str:
    tenant = get_tenant(runtime.db, tenant_id)
    url = tenant.get("zendesk_url") or (
        f"https://{tenant['zendesk_subdomain']}.zendesk.com"
        if tenant.get("zendesk_subdomain")
        else ""
    )
    if not url:
        raise ConfigError(f"tenant {tenant_id!r} has no Zendesk URL: set DESKGUARD_ZENDESK_URL")
    return str(url)


def tenant_tokens(runtime: Runtime, tenant_id: str) -> TenantTokens | None:
    """The tenant's OAuth token source, or None when it has no OAuth (API-token fallback)."""
    cfg = oauth_config(runtime.config)
    stored = load_tokens(runtime, runtime.db, tenant_id)
    # The self-hosted tenant (the one the environment configures) may use the client-credentials
    # grant; its id is chosen as in connector.bootstrap.env_tenant_id.
    config = runtime.config
    is_env_tenant = tenant_id == (
        config.get("tenant_id") or config.get("zendesk_subdomain") or "default"
    )
    if cfg is None:
        if stored is not None:
            raise ConfigError(
                f"tenant {tenant_id!r} is connected by OAuth but no OAuth client is configured: "
                "set DESKGUARD_ZENDESK_OAUTH_CLIENT_ID and DESKGUARD_ZENDESK_OAUTH_CLIENT_SECRET"
            )
        return None
    if stored is None and not is_env_tenant:
        return None
    allow_cc = (stored.grant == CLIENT_CREDENTIALS) if stored is not None else is_env_tenant
    client = oauth_client(cfg, tenant_base_url(runtime, tenant_id))
    return TenantTokens(runtime, tenant_id, client, cfg, allow_client_credentials=allow_cc)


def build_desk(runtime: Runtime, tenant_id: str):
    """Service factory for "zendesk": the tenant's ``ZendeskDesk`` (OAuth, or the deprecated API
    token when the tenant has not moved yet)."""
    from adapters.zendesk import ZendeskDesk

    db = runtime.db
    url = tenant_base_url(runtime, tenant_id)
    config = runtime.config
    record = account(db, tenant_id)
    common: dict[str, Any] = {
        "timeout": config.get("zendesk_timeout_seconds", 15.0),
        # zenpy sleeps out a 429's Retry-After within this budget; never longer than a worker
        # may be held (DESKGUARD_VENDOR_MAX_WAIT_SECONDS): beyond it the job is re-queued with
        # the vendor's delay (connector/waits.py).
        "ratelimit_budget": max(
            1,
            int(
                min(
                    float(config.get("zendesk_ratelimit_budget_seconds", 60)),
                    float(config.get("vendor_max_wait_seconds", 30)),
                )
            ),
        ),
        "api_user_id": record.get("api_user_id"),
        "former_api_user_ids": record.get("former_api_user_ids") or (),
        "on_own_update": lambda ticket_id, updated_at: record_own_update(
            runtime.db, tenant_id, ticket_id, updated_at
        ),
        "on_api_user": lambda user_id: save_account(runtime.db, tenant_id, api_user_id=user_id),
    }
    tokens = tenant_tokens(runtime, tenant_id)
    if tokens is not None:
        return ZendeskDesk(url, "", "", oauth=tokens, **common)
    token = runtime.secrets.get(db, tenant_id, API_TOKEN)
    if token is None:
        raise ConfigError(
            f"tenant {tenant_id!r} has no Zendesk credentials: set "
            "DESKGUARD_ZENDESK_OAUTH_CLIENT_ID and DESKGUARD_ZENDESK_OAUTH_CLIENT_SECRET "
            "(self-hosted) or connect it at /connect/zendesk (see docs/zendesk.md)"
        )
    tenant = get_tenant(db, tenant_id)
    return ZendeskDesk(url, tenant.get("zendesk_email") or "", token.reveal(), **common)


def auth_kind(runtime: Runtime, tenant_id: str) -> str:
    """``oauth``, ``api_token`` (deprecated) or ``none``."""
    try:
        if tenant_tokens(runtime, tenant_id) is not None:
            return "oauth"
    except ConfigError:
        return "none"
    if runtime.secrets.get(runtime.db, tenant_id, API_TOKEN) is not None:
        return "api_token"
    return "none"


def zendesk_configured(runtime: Runtime, tenant_id: str) -> bool:
    try:
        tenant = get_tenant(runtime.db, tenant_id)
    except Exception:
        return False
    has_url = bool(tenant.get("zendesk_url") or tenant.get("zendesk_subdomain"))
    kind = auth_kind(runtime, tenant_id)
    return has_url and (
        kind == "oauth" or (kind == "api_token" and bool(tenant.get("zendesk_email")))
    )


def migrate_to_oauth(runtime: Runtime, tenant_id: str) -> dict[str, Any]:
    """``deskguard zendesk migrate-auth``: the tenant's API token → OAuth (client credentials).

    Only credentials change: the webhook, trigger and signing secret (account objects, not tied
    to a token), the poll cursor, decisions and settings are not touched. The API-token agent is
    kept as a former author so Deskguard's earlier notes still count as its own."""
    db = runtime.db
    cfg = oauth_config(runtime.config)
    if cfg is None:
        raise ConfigError(
            "set DESKGUARD_ZENDESK_OAUTH_CLIENT_ID and DESKGUARD_ZENDESK_OAUTH_CLIENT_SECRET first "
            "(a confidential OAuth client: Admin Center > Apps and integrations > APIs > OAuth "
            "clients)"
        )
    had_api_token = runtime.secrets.get(db, tenant_id, API_TOKEN) is not None
    stored = load_tokens(runtime, db, tenant_id)
    if stored is None:
        client = oauth_client(cfg, tenant_base_url(runtime, tenant_id))
        pair = client.client_credentials(
            scope=cfg.scope, expires_in=cfg.expires_in, refresh_expires_in=cfg.refresh_expires_in
        )
        save_tokens(runtime, db, tenant_id, StoredTokens(pair, CLIENT_CREDENTIALS))
    runtime.forget_services(tenant_id)
    desk = build_desk(runtime, tenant_id)
    if desk.auth_kind != "oauth":
        raise ConfigError(f"tenant {tenant_id!r} could not be moved to OAuth")
    me = desk.current_user()  # proves the token works before the API token is dropped
    save_account(db, tenant_id, api_user_id=int(me["id"]))
    with transaction(db):
        if had_api_token:
            runtime.secrets.delete(db, tenant_id, API_TOKEN)
        audit.record(
            db,
            tenant_id,
            ZendeskConnected(
                grant=CLIENT_CREDENTIALS,
                scope=cfg.scope,
                connected_by="cli: deskguard zendesk migrate-auth",
                api_user_id=int(me["id"]),
            ),
        )
    runtime.forget_services(tenant_id)
    record = account(db, tenant_id)
    return {
        "tenant": tenant_id,
        "auth": "oauth",
        "api_token_deleted": had_api_token,
        "api_user": {"id": me["id"], "email": me["email"]},
        "former_api_user_ids": record.get("former_api_user_ids", []),
        "webhook_id": record.get("webhook_id"),
        "trigger_id": record.get("trigger_id"),
    }


# --- ledger records ------------------------------------------------------------------------------
def account(db: sqlite_utils.Database, tenant_id: str) -> dict[str, Any]:
    row = db.conn.execute(
        "SELECT api_user_id, webhook_id, webhook_endpoint, trigger_id, updated_at,"
        " former_api_user_ids FROM zendesk_accounts WHERE tenant_id = ?",
        (tenant_id,),
    ).fetchone()
    if row is None:
        return {}
    out = dict(
        zip(
            ("api_user_id", "webhook_id", "webhook_endpoint", "trigger_id", "updated_at"),
            row[:5],
            strict=True,
        )
    )
    out["former_api_user_ids"] = [int(i) for i in json.loads(row[5] or "[]")]
    return out


def save_account(db: sqlite_utils.Database, tenant_id: str, **fields: Any) -> None:
    allowed = {"api_user_id", "webhook_id", "webhook_endpoint", "trigger_id"}
    if set(fields) - allowed:
        raise ValueError(f"unknown account fields: {sorted(set(fields) - allowed)}")
    with transaction(db):
        db.conn.execute(
            "INSERT INTO zendesk_accounts (tenant_id, updated_at) VALUES (?, ?)"
            " ON CONFLICT (tenant_id) DO NOTHING",
            (tenant_id, now_iso()),
        )
        if fields.get("api_user_id") is not None:
            _remember_former_user(db, tenant_id, int(fields["api_user_id"]))
        for name, value in fields.items():
            db.conn.execute(
                f"UPDATE zendesk_accounts SET {name} = ?, updated_at = ? WHERE tenant_id = ?",
                (value, now_iso(), tenant_id),
            )


def _remember_former_user(db: sqlite_utils.Database, tenant_id: str, new_user_id: int) -> None:
    """When Deskguard starts writing as another user (API token → OAuth, or a reconnect by
    another admin), keep the previous one: its marked comments stay Deskguard's."""
    row = db.conn.execute(
        "SELECT api_user_id, former_api_user_ids FROM zendesk_accounts WHERE tenant_id = ?",
        (tenant_id,),
    ).fetchone()
    if row is None or row[0] is None or int(row[0]) == new_user_id:
        return
    former = [int(i) for i in json.loads(row[1] or "[]")]
    if int(row[0]) not in former:
        former.append(int(row[0]))
    db.conn.execute(
        "UPDATE zendesk_accounts SET former_api_user_ids = ? WHERE tenant_id = ?",
        (json.dumps(former), tenant_id),
    )


def record_own_update(
    db: sqlite_utils.Database, tenant_id: str, ticket_id: int, updated_at: str
) -> None:
    with transaction(db):
        db.conn.execute(
            "INSERT INTO zendesk_own_updates"
            " (tenant_id, ticket_id, updated_at, created_at) VALUES (?,?,?,?)"
            " ON CONFLICT (tenant_id, ticket_id, updated_at) DO NOTHING",
            (tenant_id, int(ticket_id), normalize_updated_at(updated_at), time.time()),
        )


def is_own_update(
    db: sqlite_utils.Database, tenant_id: str, ticket_id: int, updated_at: str
) -> bool:
    return (
        db.conn.execute(
            "SELECT 1 FROM zendesk_own_updates"
            " WHERE tenant_id = ? AND ticket_id = ? AND updated_at = ?",
            (tenant_id, int(ticket_id), normalize_updated_at(updated_at)),
        ).fetchone()
        is not None
    )


def prune(
    db: sqlite_utils.Database, *, webhook_seen_before: float, own_updates_before: float
) -> dict[str, int]:
    """Forget replay signatures older than the tolerance window and old own-update versions."""
    with transaction(db):
        seen = db.conn.execute(
            "DELETE FROM zendesk_webhook_seen WHERE seen_at < ?", (webhook_seen_before,)
        ).rowcount
        own = db.conn.execute(
            "DELETE FROM zendesk_own_updates WHERE created_at < ?", (own_updates_before,)
        ).rowcount
        batched = db.conn.execute(
            "DELETE FROM zendesk_batch_tickets WHERE done_at < ?", (own_updates_before,)
        ).rowcount
    return {"webhook_seen": seen, "own_updates": own, "batch_tickets": batched}
