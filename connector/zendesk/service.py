"""The "zendesk" service: builds a tenant's Zendesk adapter from the ledger, and the small ledger
records the intake keeps (account ids from setup, Deskguard's own ticket versions).

Per tenant, the base URL and agent email live on the ``tenants`` row and the API token and the
webhook signing secret in the encrypted secret store. For the self-hosted env tenant they come
from settings through ``configure_env_tenant``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlite_utils

from connector.audit import now_iso
from connector.db import transaction
from connector.errors import ConfigError
from connector.tenants import ensure_tenant, get_tenant

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
            if text.isdigit()
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
    for name, value in (
        (API_TOKEN, config.get("zendesk_api_token")),
        (WEBHOOK_SECRET, config.get("zendesk_webhook_secret")),
    ):
        if not value:
            continue
        current = runtime.secrets.get(db, tenant_id, name)
        if current is None or current.reveal() != value:
            runtime.secrets.put(db, tenant_id, name, value)


def build_desk(runtime: Runtime, tenant_id: str):
    """Service factory for "zendesk": the tenant's ``ZendeskDesk``."""
    from adapters.zendesk import ZendeskDesk

    db = runtime.db
    tenant = get_tenant(db, tenant_id)
    url = tenant.get("zendesk_url") or (
        f"https://{tenant['zendesk_subdomain']}.zendesk.com"
        if tenant.get("zendesk_subdomain")
        else ""
    )
    if not url:
        raise ConfigError(f"tenant {tenant_id!r} has no Zendesk URL: set DESKGUARD_ZENDESK_URL")
    token = runtime.secrets.get(db, tenant_id, API_TOKEN)
    if token is None:
        raise ConfigError(
            f"tenant {tenant_id!r} has no Zendesk API token: set DESKGUARD_ZENDESK_API_TOKEN"
        )
    config = runtime.config
    return ZendeskDesk(
        url,
        tenant.get("zendesk_email") or "",
        token.reveal(),
        timeout=config.get("zendesk_timeout_seconds", 15.0),
        ratelimit_budget=config.get("zendesk_ratelimit_budget_seconds", 60),
        api_user_id=account(db, tenant_id).get("api_user_id"),
        on_own_update=lambda ticket_id, updated_at: record_own_update(
            runtime.db, tenant_id, ticket_id, updated_at
        ),
        on_api_user=lambda user_id: save_account(runtime.db, tenant_id, api_user_id=user_id),
    )


def zendesk_configured(runtime: Runtime, tenant_id: str) -> bool:
    try:
        tenant = get_tenant(runtime.db, tenant_id)
    except Exception:
        return False
    has_url = bool(tenant.get("zendesk_url") or tenant.get("zendesk_subdomain"))
    return (
        has_url
        and bool(tenant.get("zendesk_email"))
        and runtime.secrets.get(runtime.db, tenant_id, API_TOKEN) is not None
    )


# --- ledger records ------------------------------------------------------------------------------
def account(db: sqlite_utils.Database, tenant_id: str) -> dict[str, Any]:
    row = db.conn.execute(
        "SELECT api_user_id, webhook_id, webhook_endpoint, trigger_id, updated_at"
        " FROM zendesk_accounts WHERE tenant_id = ?",
        (tenant_id,),
    ).fetchone()
    if row is None:
        return {}
    return dict(
        zip(
            ("api_user_id", "webhook_id", "webhook_endpoint", "trigger_id", "updated_at"),
            row,
            strict=True,
        )
    )


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
        for name, value in fields.items():
            db.conn.execute(
                f"UPDATE zendesk_accounts SET {name} = ?, updated_at = ? WHERE tenant_id = ?",
                (value, now_iso(), tenant_id),
            )


def record_own_update(
    db: sqlite_utils.Database, tenant_id: str, ticket_id: int, updated_at: str
) -> None:
    with transaction(db):
        db.conn.execute(
            "INSERT OR IGNORE INTO zendesk_own_updates"
            " (tenant_id, ticket_id, updated_at, created_at) VALUES (?,?,?,?)",
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
