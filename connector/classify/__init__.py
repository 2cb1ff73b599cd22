"""Ticket understanding (issue #4).

Wired in through the hooks described in connector/areas.py."""

from __future__ import annotations

# Imported when the areas are loaded (connector/areas.py), not with this package, so that
# `deskguard classify` and the local model start without the ledger and the web stack.
WIRING = ("connector.classify.engine",)  # registers the "classifier" service


def configure_env_tenant(runtime, tenant_id: str) -> None:
    """Store DESKGUARD_ANTHROPIC_API_KEY encrypted for the env tenant (only when it changed)."""
    from connector.classify import engine as _engine

    key = runtime.config.get("anthropic_api_key")
    if key and _engine.anthropic_key(runtime, tenant_id) != key:
        runtime.secrets.put(runtime.db, tenant_id, _engine.API_KEY_SECRET, key)
        runtime.forget_services(tenant_id)


def register_cli(cli) -> None:
    # Imported here: connector.cli loads the areas while it is itself being imported.
    from connector.classify import claude_cli

    claude_cli.register_cli(cli)  # `sandbox anthropic`, `bench redact`, `bench claude`
    from connector.classify import cli as local_cli

    local_cli.register_cli(cli)  # `classify`, `eval`, `train`, `bench local`
