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

ROOT = Path(__file__).resolve().parent.parent


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str, ensure_ascii=False))


def get_runtime(ctx: click.Context) -> Runtime:
    """The runtime for this invocation, built lazily so `--help` never needs a config."""
    obj = ctx.ensure_object(dict)
    if "runtime" not in obj:
        from connector import logs
        from connector.runtime import Runtime
        from connector.settings import load_config

        config = load_config(obj.get("overrides"))
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


def wait_for_signal() -> None:
    """Block until SIGINT or SIGTERM."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.is_set():
        stop.wait(0.5)
