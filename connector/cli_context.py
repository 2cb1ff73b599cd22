"""What every ``deskguard`` command shares: the runtime of one invocation, JSON output, the
tenant to act on, and waiting for Ctrl-C.

Kept free of heavy imports (the runtime, the ledger, flask, vendor SDKs load on first use), so
``deskguard --help`` and ``deskguard classify`` start fast.
"""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from connector.runtime import Runtime
    from connector.settings import Config

ROOT = Path(__file__).resolve().parent.parent


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str, ensure_ascii=False))


def env_file(ctx: click.Context) -> str:
    """The .env file this invocation reads: ``--env-file`` of the root group, else ./.env."""
    return str(ctx.ensure_object(dict).get("env_file") or ".env")


def cli_config(ctx: click.Context, *, invalid: list[str] | None = None) -> Config:
    """The effective settings of this invocation (``--db`` and ``--env-file`` applied)."""
    from connector.settings import load_config

    obj = ctx.ensure_object(dict)
    return load_config(obj.get("overrides"), dotenv_path=env_file(ctx), invalid=invalid)


def get_runtime(ctx: click.Context) -> Runtime:
    """The runtime for this invocation, built lazily so `--help` never needs a config."""
    obj = ctx.ensure_object(dict)
    if "runtime" not in obj:
        from connector import logs
        from connector.runtime import Runtime

        config = cli_config(ctx)
        logs.configure(config.log_level, config.log_format)
        obj["runtime"] = Runtime(config)
        ctx.call_on_close(obj["runtime"].close)
    runtime: Runtime = obj["runtime"]
    return runtime


def ready_runtime(ctx: click.Context) -> Runtime:
    """A runtime whose ledger is migrated and whose env tenant exists."""
    from connector.bootstrap import ensure_env_tenant
    from connector.db import migrate as apply_migrations

    runtime = get_runtime(ctx)
    runtime.secrets  # noqa: B018 - a missing or malformed DESKGUARD_SECRET_KEYS fails here, at start-up
    apply_migrations(runtime.db)
    ensure_env_tenant(runtime)
    return runtime


# --- the tenant a command acts on ------------------------------------------------------------
# Every `--tenant` is one of two options, made here and nowhere else:
# - ``tenant_option``: the tenant the command acts on; without it, the env tenant
#   (DESKGUARD_TENANT_ID, else DESKGUARD_ZENDESK_SUBDOMAIN, else "default": the tenant that
#   connector/bootstrap.py configures from the environment).
# - ``tenant_filter_option``: commands that read across tenants (the queue, the audit chain)
#   narrow to one tenant; without it, every tenant.
# Either way an unknown tenant is an error naming it and the known ones (``resolve_tenant``).
TENANT_HELP = (
    "Tenant id (default: the env tenant: DESKGUARD_TENANT_ID, else DESKGUARD_ZENDESK_SUBDOMAIN)."
)
TENANT_FILTER_HELP = "Only this tenant (default: every tenant)."
KNOWN_SHOWN = 20  # tenants listed in the error at most


def tenant_option(fn: Any) -> Any:
    return click.option("--tenant", metavar="TENANT", help=TENANT_HELP)(fn)


def tenant_filter_option(fn: Any) -> Any:
    return click.option("--tenant", metavar="TENANT", help=TENANT_FILTER_HELP)(fn)


def unknown_tenant_message(tenant_id: str, known: list[str]) -> str:
    shown = ", ".join(known[:KNOWN_SHOWN]) or "none"
    more = f" and {len(known) - KNOWN_SHOWN} more" if len(known) > KNOWN_SHOWN else ""
    return f"unknown tenant {tenant_id!r} (known tenants: {shown}{more})"


def check_tenant(runtime: Runtime, tenant_id: str) -> str:
    """``tenant_id`` when the ledger knows it; else one line naming it and the known tenants."""
    from connector.errors import NotFound
    from connector.tenants import get_tenant, list_tenants

    try:
        get_tenant(runtime.db, tenant_id)
    except NotFound:
        raise click.ClickException(
            unknown_tenant_message(tenant_id, list_tenants(runtime.db))
        ) from None
    return tenant_id


def resolve_tenant(runtime: Runtime, tenant: str | None) -> str:
    """The tenant a ``tenant_option`` command acts on: ``--tenant``, else the env tenant."""
    from connector.bootstrap import env_tenant_id

    return check_tenant(runtime, tenant or env_tenant_id(runtime))


def tenant_runtime(ctx: click.Context, tenant: str | None) -> tuple[Runtime, str]:
    """A ready runtime (ledger migrated, env tenant configured) and the checked tenant."""
    runtime = ready_runtime(ctx)
    return runtime, resolve_tenant(runtime, tenant)


def catch_stop_signals() -> threading.Event:
    """From now on SIGINT and SIGTERM set the returned event instead of killing the process.
    Call it before the process says it is ready, so a stop that follows at once is a clean one."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def wait_for_signal(stop: threading.Event | None = None) -> None:
    """Block until SIGINT or SIGTERM (caught since ``catch_stop_signals``, or from now)."""
    stop = stop or catch_stop_signals()
    while not stop.is_set():
        stop.wait(0.5)


# --- which ledger a command or a child process uses -----------------------------------------
def ledger_overrides(location: str) -> dict[str, str]:
    """``--db``: a postgresql:// URL selects that server, anything else a SQLite file (and then
    a DESKGUARD_DATABASE_URL from the environment does not apply)."""
    if location.startswith(("postgresql://", "postgres://")):
        return {"database_url": location}
    return {"db_path": location, "database_url": ""}


def ledger_env(location: str) -> dict[str, str]:
    """``ledger_overrides`` as environment variables, for a child process (benchmarks, tests)."""
    from connector.settings import SETTINGS

    names = {s.name: s.env for s in SETTINGS}
    return {names[name]: value for name, value in ledger_overrides(location).items()}
