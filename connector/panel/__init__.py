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
