"""The ``deskguard`` command line (also ``python -m connector``).

One click group; areas add their own commands through ``register_cli`` (connector/areas.py).
Commands print JSON for machines unless they say otherwise, and turn Deskguard's errors into
one friendly line with a non-zero exit code.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import click

from connector import areas, logs
from connector.errors import DeskguardError
from connector.settings import SETTINGS, load_config, write_docs

if TYPE_CHECKING:
    from connector.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent

# Commands that read tickets with the local model start without loading every area (the web
# app, the vendor SDKs, the ledger): `deskguard classify` on a file should spend its time reading,
# not importing. Every other command loads all areas first, exactly as before.
FAST_COMMANDS = {
    "classify": "connector.classify.cli:classify_cmd",
    "eval": "connector.classify.cli:eval_cmd",
    "train": "connector.classify.cli:train_cmd",
}


class DeskguardGroup(click.Group):
    _areas_loaded = False

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except DeskguardError as exc:
            raise click.ClickException(exc.message or exc.code) from None

    def get_command(self, ctx, cmd_name):
        if cmd_name in FAST_COMMANDS and cmd_name not in self.commands:
            import importlib

            module, attr = FAST_COMMANDS[cmd_name].split(":")
            self.add_command(getattr(importlib.import_module(module), attr), cmd_name)
        elif cmd_name not in FAST_COMMANDS:
            self.load_areas()
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx):
        self.load_areas()
        return super().list_commands(ctx)

    def load_areas(self) -> None:
        """Let every area add its commands (once)."""
        if not DeskguardGroup._areas_loaded:
            DeskguardGroup._areas_loaded = True
            _register_areas()


def echo_json(value) -> None:
    click.echo(json.dumps(value, indent=2, default=str, ensure_ascii=False))


def get_runtime(ctx: click.Context) -> Runtime:
    """The runtime for this invocation, built lazily so `--help` never needs a config."""
    obj = ctx.ensure_object(dict)
    if "runtime" not in obj:
        from connector.runtime import Runtime

        config = load_config(obj.get("overrides"))
        logs.configure(config.log_level, config.log_format)
        obj["runtime"] = Runtime(config)
        ctx.call_on_close(obj["runtime"].close)
    return obj["runtime"]


def ready_runtime(ctx: click.Context) -> Runtime:
    """A runtime whose ledger is migrated and whose env tenant exists."""
    from connector.bootstrap import ensure_env_tenant
    from connector.db import migrate as apply_migrations

    runtime = get_runtime(ctx)
    runtime.secrets  # noqa: B018 - a missing or malformed DESKGUARD_SECRET_KEYS fails here, at start-up
    apply_migrations(runtime.db)
    ensure_env_tenant(runtime)
    return runtime


@click.group(cls=DeskguardGroup)
@click.option("--db", "db_path", help="Ledger file (overrides DESKGUARD_DB_PATH).")
@click.pass_context
def cli(ctx: click.Context, db_path: str | None) -> None:
    """Deskguard: AI triage sidecar for Zendesk, with Shopify and Stripe context.

    Example: deskguard config check
    """
    ctx.ensure_object(dict)["overrides"] = {"db_path": db_path} if db_path else {}


# --- config ---------------------------------------------------------------------------
@cli.group()
def config() -> None:
    """Inspect and document configuration."""


@config.command("check")
@click.pass_context
def config_check(ctx: click.Context) -> None:
    """Validate every setting and print the effective config (secrets masked).

    Example: deskguard config check
    """
    cfg = load_config(ctx.obj.get("overrides"))
    from connector.secrets import SecretBox

    if cfg.secret_keys:
        SecretBox(cfg.secret_keys)  # malformed keys fail here, naming the variable
    problems = []
    if not cfg.secret_keys:
        problems.append("DESKGUARD_SECRET_KEYS is not set (needed to store tokens)")
    echo_json(
        {
            "ok": not problems,
            "problems": problems,
            "settings": {
                k: {"value": v, "source": cfg.source(k)} for k, v in cfg.redacted().items()
            },
        }
    )
    if problems:
        sys.exit(1)


@config.command("docs")
@click.option("--write", is_flag=True, help="Rewrite .env.example and the README table.")
def config_docs(write: bool) -> None:
    """Print (or --write) .env.example and the README settings table from the settings table.

    Example: deskguard config docs --write
    """
    from connector.settings import env_example_text, readme_table_text

    if write:
        changed = write_docs(ROOT)
        click.echo("updated: " + (", ".join(p.name for p in changed) or "nothing"))
    else:
        click.echo(env_example_text())
        click.echo(readme_table_text())


# --- ledger ---------------------------------------------------------------------------
@cli.command()
@click.pass_context
def migrate(ctx: click.Context) -> None:
    """Apply pending schema migrations to the ledger.

    Example: deskguard migrate
    """
    from connector.db import migrate as apply_migrations
    from connector.db import pending_migrations

    runtime = get_runtime(ctx)
    applied = apply_migrations(runtime.db)
    echo_json({"applied": applied, "pending": pending_migrations(runtime.db)})


@cli.group("secrets")
def secrets_group() -> None:
    """Manage the encryption keys for secrets at rest."""


@secrets_group.command("new-key")
def secrets_new_key() -> None:
    """Print a fresh Fernet key for DESKGUARD_SECRET_KEYS.

    Example: deskguard secrets new-key
    """
    from connector.secrets import new_key

    click.echo(new_key())


@secrets_group.command("rotate")
@click.pass_context
def secrets_rotate(ctx: click.Context) -> None:
    """Re-encrypt every stored secret under the first key of DESKGUARD_SECRET_KEYS.

    Example: DESKGUARD_SECRET_KEYS=new,old deskguard secrets rotate
    """
    from connector.db import migrate as apply_migrations

    runtime = get_runtime(ctx)
    apply_migrations(runtime.db)
    echo_json({"rotated": runtime.secrets.rotate(runtime.db)})


@cli.group("audit")
def audit_group() -> None:
    """Verify and export the tamper-evident audit log."""


@audit_group.command("verify")
@click.pass_context
def audit_verify(ctx: click.Context) -> None:
    """Walk the hash chain; exit 1 naming the first bad row.

    Example: deskguard audit verify
    """
    from connector import audit

    result = audit.verify(get_runtime(ctx).db)
    echo_json(
        {"ok": result.ok, "rows": result.rows, "bad_row": result.bad_row, "problem": result.problem}
    )
    if not result.ok:
        sys.exit(1)


@audit_group.command("export")
@click.option("--since", help="ISO date/time or a relative age like 7d, 12h.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl")
@click.option("--tenant", help="Only this tenant.")
@click.pass_context
def audit_export(ctx: click.Context, since: str | None, fmt: str, tenant: str | None) -> None:
    """Export audit events to stdout.

    Example: deskguard audit export --since 7d --format csv > audit.csv
    """
    from connector import audit
    from connector.timeutil import parse_since

    audit.export(
        get_runtime(ctx).db,
        sys.stdout,
        fmt=fmt,
        since=parse_since(since) if since else None,
        tenant_id=tenant,
    )


# --- queue and processes --------------------------------------------------------------
@cli.group("queue")
def queue_group() -> None:
    """Inspect and repair the durable job queue."""


@queue_group.command("status")
@click.option("--tenant", help="Only this tenant.")
@click.pass_context
def queue_status(ctx: click.Context, tenant: str | None) -> None:
    """Counts per state, depth, age of the oldest ready job, recent dead letters.

    Example: deskguard queue status
    """
    echo_json(ready_runtime(ctx).queue.status(tenant))


@queue_group.command("retry-dead")
@click.option("--tenant", help="Only this tenant.")
@click.option("--job", "job_ids", multiple=True, type=int, help="Only these job ids.")
@click.pass_context
def queue_retry_dead(ctx: click.Context, tenant: str | None, job_ids: tuple[int, ...]) -> None:
    """Move dead-lettered jobs back to the queue with a fresh attempt budget.

    Example: deskguard queue retry-dead --tenant acme
    """
    echo_json({"requeued": ready_runtime(ctx).queue.retry_dead(tenant, list(job_ids) or None)})


def _wait_for_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.is_set():
        stop.wait(0.5)


@cli.command()
@click.option("--threads", type=int, help="Worker threads (default DESKGUARD_WORKER_THREADS).")
@click.option(
    "--scheduler/--no-scheduler",
    default=None,
    help="Also run the scheduler (default DESKGUARD_RUN_SCHEDULER).",
)
@click.pass_context
def worker(ctx: click.Context, threads: int | None, scheduler: bool | None) -> None:
    """Run queue workers (and, in exactly one process, the scheduler) until SIGINT/SIGTERM.

    Example: deskguard worker --threads 4
    """
    from connector import scheduler as scheduler_mod
    from connector.worker import WorkerPool

    runtime = ready_runtime(ctx)
    run_sched = runtime.config.run_scheduler if scheduler is None else scheduler
    sched = lock = None
    if run_sched:
        sched, lock = scheduler_mod.start(runtime)
    pool = WorkerPool(runtime, threads or runtime.config.worker_threads)
    pool.start()
    click.echo(
        f"deskguard worker: {pool.threads} threads, scheduler {'on' if sched else 'off'}", err=True
    )
    try:
        _wait_for_signal()
    finally:
        pool.stop()
        if sched:
            sched.shutdown(wait=False)
            lock.release()


@cli.command("scheduler")
@click.pass_context
def scheduler_cmd(ctx: click.Context) -> None:
    """Run only the scheduler (polling, kill-switch sync) until SIGINT/SIGTERM.

    Example: deskguard scheduler
    """
    from connector import scheduler as scheduler_mod

    runtime = ready_runtime(ctx)
    sched, lock = scheduler_mod.start(runtime)
    try:
        _wait_for_signal()
    finally:
        sched.shutdown(wait=False)
        lock.release()


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, type=int, show_default=True)
@click.option("--workers", default=2, type=int, show_default=True, help="gunicorn web workers.")
@click.option("--threads", default=4, type=int, show_default=True, help="Threads per web worker.")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, workers: int, threads: int) -> None:
    """Run the web app under gunicorn (never runs the scheduler).

    Example: deskguard serve --host 0.0.0.0 --port 8000
    """
    ready_runtime(ctx)  # migrate and configure the env tenant once, before forking
    from connector.gunicorn_app import run

    run(host=host, port=port, workers=workers, threads=threads, overrides=ctx.obj.get("overrides"))


SANDBOX_HELP = """Run the vendor sandboxes (emulators) standalone.

Example: deskguard sandbox stripe --port 8103
"""
LOOKUP_HELP = """Look up a customer's context in Shopify and Stripe (JSON).

Example: deskguard lookup orders --tenant acme --email jane.doe@example.com
"""


def shared_group(cli_group: click.Group, name: str, help_text: str) -> click.Group:
    """A command group several areas add to (`sandbox`, `lookup`, ...): the existing one, or a new one.

    Areas register in a fixed order (connector/areas.py), but none should depend on it.
    """
    group = cli_group.commands.get(name)
    if group is None:
        group = click.Group(name, help=help_text)
        cli_group.add_command(group)
    if not isinstance(group, click.Group):
        raise TypeError(f"`deskguard {name}` is a command, not a group")
    return group


def _register_areas() -> None:
    from connector.bench import bench
    from connector.demo import demo_command

    cli.add_command(bench)
    cli.add_command(demo_command)
    for register in areas.hook("register_cli"):
        register(cli)


def main() -> None:
    cli(obj={})


# Areas register their commands on first use of the group (DeskguardGroup.load_areas), so
# `CliRunner().invoke(cli, ...)` and `deskguard --help` still see every command.


__all__ = ["SETTINGS", "cli", "echo_json", "get_runtime", "main", "ready_runtime"]
