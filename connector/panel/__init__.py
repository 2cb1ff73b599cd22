"""Zendesk app side panel, admin dashboard and app package (issue #7).

Wired in through the hooks described in connector/areas.py: ``register_web`` adds the side
panel (``/panel``) and the dashboard (``/admin``); ``register_cli`` adds ``deskguard app``,
``deskguard feedback`` and ``deskguard zendesk package-app``."""

from __future__ import annotations


def register_web(app) -> None:
    from connector.panel import admin_web, panel_web

    panel_web.register(app)
    admin_web.register(app)


def register_cli(cli) -> None:
    from connector.panel import commands

    commands.register(cli)


def demo_links(base_url: str, tenant_id: str, ticket_id: int | None = None) -> dict[str, str]:
    """URLs for `make demo` to print: the side panel for one ticket (needs DESKGUARD_DEMO_MODE=true)
    and the dashboard (sign in with DESKGUARD_ADMIN_TOKEN)."""
    from urllib.parse import urlencode

    base = base_url.rstrip("/")
    query = {"tenant": tenant_id, **({"ticket": str(ticket_id)} if ticket_id is not None else {})}
    return {"side_panel": f"{base}/panel/demo?{urlencode(query)}", "dashboard": f"{base}/admin/"}
