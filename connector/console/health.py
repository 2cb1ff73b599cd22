"""What the console shows about a tenant's connections: connected or not, how, and the last
error each one gave (a problem building the client, the poller's last error, the last failed
write to that vendor)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from connector.connections.web import overview
from connector.zendesk.poller import poll_state

if TYPE_CHECKING:
    from connector.runtime import Runtime

VENDORS = (
    ("zendesk", "desk", "Zendesk"),
    ("shopify", "orders", "Shopify"),
    ("stripe", "payments", "Stripe"),
)


def _last_failed_write(runtime: Runtime, tenant_id: str, vendor: str) -> dict[str, Any] | None:
    row = runtime.db.conn.execute(
        "SELECT kind, error, updated_at FROM actions WHERE tenant_id = ? AND vendor = ?"
        " AND state = 'failed' ORDER BY id DESC LIMIT 1",
        (tenant_id, vendor),
    ).fetchone()
    if row is None:
        return None
    return {"what": row[0], "error": row[1] or "failed", "at": row[2]}


def _detail(runtime: Runtime, tenant_id: str, vendor: str, state: dict[str, Any]) -> str:
    if vendor == "zendesk":
        from connector.zendesk.service import tenant_base_url

        where = state.get("subdomain") or urlsplit(tenant_base_url(runtime, tenant_id)).netloc
        return f"{where}, {state.get('auth') or 'OAuth client credentials'}"
    if vendor == "shopify":
        return f"{state.get('shop') or 'shop from settings'}, {state.get('via') or 'env settings'}"
    return f"{state.get('key_kind') or 'env'} key"


def connections(runtime: Runtime, tenant_id: str) -> list[dict[str, Any]]:
    """One entry per vendor: name, connected, detail, last_error ({what, error, at} or None)."""
    row = next((t for t in overview(runtime)["tenants"] if t["id"] == tenant_id), None) or {}
    problems = runtime.services(tenant_id).problems
    poll = poll_state(runtime.db, tenant_id) or {}
    out = []
    for vendor, service, label in VENDORS:
        state = row.get(vendor) or {}
        # Built without a problem means usable (env settings count, not only stored tokens);
        # the Shopify adapter reads its credentials per call, so the shop must be known too.
        connected = service not in problems and (
            vendor != "shopify" or bool(state.get("connected"))
        )
        last = _last_failed_write(runtime, tenant_id, vendor)
        if vendor == "zendesk" and poll.get("last_error"):
            last = {"what": "poll", "error": poll["last_error"], "at": poll.get("last_poll_at")}
        if service in problems:
            last = {"what": "setup", "error": problems[service], "at": None}
        out.append(
            {
                "vendor": vendor,
                "name": label,
                "connected": connected,
                "detail": _detail(runtime, tenant_id, vendor, state) if connected else "",
                "last_error": last,
            }
        )
    return out
