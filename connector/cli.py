"""The ``deskguard`` command line (also ``python -m connector``): the root group, which adds
every command group by name.

Commands print JSON for machines unless they say otherwise, and turn Deskguard's errors into one
friendly line with a non-zero exit code. Area modules keep their heavy imports inside the
commands, so ``deskguard --help`` and ``deskguard classify`` start fast.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from connector.classify import cli as classify_cli
from connector.classify import redact_cli
from connector.cli_context import (
    ROOT,
    catch_stop_signals,
    check_tenant,
    cli_config,
    echo_json,
    get_runtime,
    ledger_overrides,
    ready_runtime,
    tenant_filter_option,
    wait_for_signal,
)
from connector.commerce import cli as commerce_cli
from connector.commerce import stripe_cli
from connector.devkit import cli as devkit_cli
from connector.errors import DeskguardError
from connector.panel import cli as panel_cli
from connector.pipeline import cli as pipeline_cli
from connector.settings import write_docs
from connector.zendesk import cli as zendesk_cli

if TYPE_CHECKING:
    from connector.runtime import Runtime


class DeskguardGroup(click.Group):
    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except DeskguardError as exc:
            raise click.ClickException(exc.message or exc.code) from None
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:
            from connector.db import DatabaseErrors  # here: `--help` must not load the drivers

            if not isinstance(exc, DatabaseErrors):
                raise
            # a corrupted, foreign or read-only ledger; a refused login
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise click.ClickException(
                f"the ledger cannot be used ({type(exc).__name__}: {first}); check "
                "DESKGUARD_DB_PATH or DESKGUARD_DATABASE_URL, its permissions, or restore it "
                "from a backup"
            ) from None


_env_file_option = click.option(
    "--env-file",
    "env_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Read settings from this file instead of ./.env (the environment still wins).",
)


@click.group(cls=DeskguardGroup)
@click.version_option(package_name="deskguard", message="deskguard %(version)s")
@click.option(
    "--db",
    "db_path",
    help="Ledger: a SQLite file or a postgresql:// URL (overrides DESKGUARD_DB_PATH and "
    "DESKGUARD_DATABASE_URL).",
)
@_env_file_option
@click.pass_context
def cli(ctx: click.Context, db_path: str | None, env_file: str | None) -> None:
    """Deskguard: AI triage sidecar for Zendesk, with Shopify and Stripe context.

    Example: deskguard --env-file /etc/deskguard/env config check
    """
    obj = ctx.ensure_object(dict)
    obj["overrides"] = ledger_overrides(db_path) if db_path else {}
    obj["env_file"] = env_file


# --- config ---------------------------------------------------------------------------
@cli.group()
def config() -> None:
    """Check and document the settings (environment, .env file, defaults).

    Example: deskguard config check --online
    """


@config.command("check")
@_env_file_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@click.option("--all", "show_all", is_flag=True, help="List every setting, defaults included.")
@click.option("--online", is_flag=True, help="Also call each configured vendor once (read-only).")
@click.pass_context
def config_check(
    ctx: click.Context, env_file: str | None, as_json: bool, show_all: bool, online: bool
) -> None:
    """Find mistakes in the settings: bad values, settings that contradict each other (shop
    domain, key kinds, Claude without a key, plain-http URLs, Zendesk sign-in), names that are
    not settings (with the one meant), weak tokens, outdated vendor versions. Prints problems,
    warnings and the settings in effect (secrets masked); exits 1 on a problem.

    --online also calls Zendesk (users/me), Shopify (an order search), Stripe (a customer
    search) and Anthropic (a one-token message) with the configured credentials, and prints the
    URL and a hint for each that fails (exit 1).

    Example: deskguard config check --online
    """
    from connector.cli_context import env_file as root_env_file
    from connector.config_check import check_config, format_report, online_checks

    report = check_config(ctx.obj.get("overrides"), env_file or root_env_file(ctx))
    if online:
        report.online = online_checks(report.config)
    if as_json:
        echo_json(report.as_dict())
    else:
        click.echo(format_report(report, show_all=show_all))
    if not report.ok:
        sys.exit(1)


@config.command("docs")
@click.option("--write", is_flag=True, help="Rewrite .env.example and docs/configuration.md.")
def config_docs(write: bool) -> None:
    """Print (or --write) .env.example and the docs/configuration.md table from the settings table.

    Example: deskguard config docs --write
    """
    from connector.settings import env_example_text, settings_table_text

    if write:
        changed = write_docs(ROOT)
        click.echo("updated: " + (", ".join(p.name for p in changed) or "nothing"))
    else:
        click.echo(env_example_text())
        click.echo(settings_table_text())


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
    """Manage the encryption keys for secrets at rest.

    Example: deskguard secrets new-key
    """


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
    """Verify and export the tamper-evident audit log.

    Example: deskguard audit verify
    """


@audit_group.command("verify")
@click.option(
    "--expect-head",
    "expect_head",
    help="A head from `deskguard audit head` (JSON text, or a file of them: the last line counts)."
    " Also finds rows cut off the end, which the chain alone cannot show.",
)
@click.pass_context
def audit_verify(ctx: click.Context, expect_head: str | None) -> None:
    """Walk the keyed hash chain; exit 1 naming the first bad row or what differs from the head.

    Example: deskguard audit verify --expect-head /var/log/deskguard/audit-heads.jsonl
    """
    from connector import audit

    expected = None
    if expect_head:
        try:
            expected = audit.load_head(expect_head)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--expect-head") from None
    result = audit.verify(get_runtime(ctx).db, expect_head=expected)
    echo_json(result.as_dict())
    if not result.ok:
        sys.exit(1)


@audit_group.command("head")
@tenant_filter_option
@click.pass_context
def audit_head(ctx: click.Context, tenant: str | None) -> None:
    """Print the signed head: last digest, row count, time and an HMAC over them (of every
    tenant's rows: the whole chain, what `audit verify --expect-head` compares).

    Keep it somewhere the ledger's writer cannot reach.

    Example: deskguard audit head >> /mnt/worm/deskguard-heads.jsonl
    """
    from connector import audit

    runtime = get_runtime(ctx)
    if tenant is not None:
        check_tenant(runtime, tenant)  # unknown: an error, not a signed empty head
    click.echo(audit.canonical_json(audit.head(runtime.db, tenant_id=tenant)))


@audit_group.command("seal")
@click.pass_context
def audit_seal(ctx: click.Context) -> None:
    """Append a keyed `audit.sealed` row that binds every earlier row (once, after upgrading a
    ledger written before the chain was keyed).

    Example: deskguard audit seal
    """
    from connector import audit

    runtime = ready_runtime(ctx)
    echo_json({"sealed_by_row": audit.seal(runtime.db), "verify": audit.verify(runtime.db).ok})


@audit_group.command("keys")
@click.pass_context
def audit_keys_cmd(ctx: click.Context) -> None:
    """List the audit keys (id and source, never the key) and how many rows each signed.

    Example: deskguard audit keys
    """
    from connector import audit, audit_keys

    db = get_runtime(ctx).db
    keyring = audit_keys.for_db(db)
    signed = audit.rows_per_key(db)
    echo_json(
        {
            "keys": [{**k, "rows": signed.get(k["key_id"], 0)} for k in keyring.describe()],
            "unkeyed_rows": signed.get("", 0),
            "rows_of_keys_not_configured": {
                kid: n for kid, n in signed.items() if kid and keyring.get(kid) is None
            },
        }
    )


@audit_group.command("new-key")
def audit_new_key() -> None:
    """Print a fresh 256-bit key for DESKGUARD_AUDIT_KEYS (prepend it to rotate).

    Example: deskguard audit new-key
    """
    from connector.audit_keys import new_key

    click.echo(new_key())


@audit_group.command("export")
@click.option("--since", help="ISO date/time or a relative age like 7d, 12h.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl")
@tenant_filter_option
@click.pass_context
def audit_export(ctx: click.Context, since: str | None, fmt: str, tenant: str | None) -> None:
    """Export audit events to stdout.

    Example: deskguard audit export --since 7d --format csv > audit.csv
    """
    from connector import audit
    from connector.timeutil import parse_since

    runtime = get_runtime(ctx)
    if tenant is not None:
        check_tenant(runtime, tenant)
    audit.export(
        runtime.db,
        sys.stdout,
        fmt=fmt,
        since=parse_since(since) if since else None,
        tenant_id=tenant,
    )


# --- queue and processes --------------------------------------------------------------
@cli.group("queue")
def queue_group() -> None:
    """Inspect and repair the durable job queue.

    Example: deskguard queue status
    """


def _queue_runtime(ctx: click.Context, tenant: str | None) -> Runtime:
    runtime = ready_runtime(ctx)
    if tenant is not None:
        check_tenant(runtime, tenant)
    return runtime


@queue_group.command("status")
@tenant_filter_option
@click.pass_context
def queue_status(ctx: click.Context, tenant: str | None) -> None:
    """Counts per state, depth, age of the oldest ready job, recent dead letters.

    Example: deskguard queue status
    """
    echo_json(_queue_runtime(ctx, tenant).queue.status(tenant))


@queue_group.command("retry-dead")
@tenant_filter_option
@click.option("--job", "job_ids", multiple=True, type=int, help="Only these job ids.")
@click.pass_context
def queue_retry_dead(ctx: click.Context, tenant: str | None, job_ids: tuple[int, ...]) -> None:
    """Move dead-lettered jobs back to the queue with a fresh attempt budget.

    Example: deskguard queue retry-dead --tenant acme
    """
    runtime = _queue_runtime(ctx, tenant)
    echo_json({"requeued": runtime.queue.retry_dead(tenant, list(job_ids) or None)})


@cli.command()
@click.option("--threads", type=int, help="Worker threads (default DESKGUARD_WORKER_THREADS).")
@click.option(
    "--scheduler/--no-scheduler",
    default=None,
    help="Also run the scheduler (default DESKGUARD_RUN_SCHEDULER).",
)
@click.option(
    "--standby",
    is_flag=True,
    help="Run the scheduler whenever no live process holds its lease: start it if free, else "
    "wait and take over when the holder's lease expires (for several identical workers).",
)
@click.pass_context
def worker(ctx: click.Context, threads: int | None, scheduler: bool | None, standby: bool) -> None:
    """Run queue workers (and, in exactly one process, the scheduler) until SIGINT/SIGTERM.

    Example: deskguard worker --threads 4; on several machines: deskguard worker --standby
    """
    from connector.worker import stop_on_signals

    stop = stop_on_signals()  # first: SIGTERM while starting up still ends the worker cleanly
    click.echo("deskguard worker: starting", err=True)
    from connector import scheduler as scheduler_mod
    from connector.jobs import worker_pool

    runtime = ready_runtime(ctx)
    run_sched = runtime.config.run_scheduler if scheduler is None else scheduler
    sched = lock = None
    pool = worker_pool(runtime, threads or runtime.config.worker_threads)
    retry_every = runtime.config.scheduler_lease_seconds / 3
    try:
        if not stop.is_set():
            _load_language_models()  # before the scheduler's lease: see the function
        if standby and not stop.is_set():
            started = scheduler_mod.try_start(runtime)
            sched, lock = started if started else (None, None)
        elif run_sched and not stop.is_set():
            sched, lock = scheduler_mod.start(runtime)
        if not stop.is_set():
            pool.start()
            state = "on" if sched else ("standby" if standby else "off")
            click.echo(
                f"deskguard worker: {pool.threads} threads, scheduler {state}, ready", err=True
            )
        while not stop.wait(retry_every if standby else 0.5):
            if not standby or (sched is not None and sched.running):
                continue
            if sched is not None and lock is not None:  # this process lost the lease
                scheduler_mod.stop(sched, lock)
                sched = lock = None
            started = scheduler_mod.try_start(runtime)
            if started:
                sched, lock = started
                click.echo("deskguard worker: took over the scheduler", err=True)
    finally:
        pool.stop()
        if sched and lock is not None:
            scheduler_mod.stop(sched, lock)


def _load_language_models() -> None:
    """Load the language detector's models now, before the scheduler and the worker threads
    start. Loading takes 1.5–2.6 s (docs/BENCHMARKS.md) and holds the GIL all that time: on the
    first reading instead, it would stall the thread that renews the scheduler's lease (and
    every other thread) in a running worker, and the first ticket would wait for it."""
    import time

    from connector.classify.signals.language import warm_up

    started = time.monotonic()
    warm_up()
    click.echo(
        f"deskguard worker: language models loaded in {time.monotonic() - started:.1f} s", err=True
    )


@cli.command("scheduler")
@click.pass_context
def scheduler_cmd(ctx: click.Context) -> None:
    """Run only the scheduler (polling, kill-switch sync) until SIGINT/SIGTERM.

    Example: deskguard scheduler
    """
    from connector import scheduler as scheduler_mod

    stop = catch_stop_signals()  # from the first instant: a stop during start-up is clean
    runtime = ready_runtime(ctx)
    sched, lock = scheduler_mod.start(runtime)
    try:
        wait_for_signal(stop)
    finally:
        scheduler_mod.stop(sched, lock)


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
    runtime = ready_runtime(ctx)  # migrate and configure the env tenant once, before forking
    from connector.gunicorn_app import run

    # With --env-file the workers get the settings as read here (they would read ./.env).
    overrides = dict(runtime.config) if ctx.obj.get("env_file") else ctx.obj.get("overrides")
    # No open connection may cross the fork: each web worker opens its own (a PostgreSQL pool's
    # sockets and threads, a SQLite handle).
    runtime.close()
    run(host=host, port=port, workers=workers, threads=threads, overrides=overrides)


# --- backups --------------------------------------------------------------------------
@cli.command("backup")
@click.option("--dest", help="Folder for the copy (default DESKGUARD_BACKUP_DIR).")
@click.option("--keep", type=click.IntRange(min=1), help="Backups to keep (DESKGUARD_BACKUP_KEEP).")
@click.pass_context
def backup_cmd(ctx: click.Context, dest: str | None, keep: int | None) -> None:
    """Copy the live ledger, verify the copy, rotate old ones.

    SQLite: the online backup API (deskguard-<time>.db). PostgreSQL: pg_dump of the ledger's
    schema (deskguard-<time>.dump), read back with pg_restore. Safe while web and worker
    processes run. Prints the new file, its size and row counts.

    Example: deskguard backup --dest /var/backups/deskguard --keep 30
    """
    from connector.backup import backup, backup_postgres

    cfg = cli_config(ctx)
    keep = keep if keep is not None else cfg.backup_keep
    if cfg.database_url:
        result = backup_postgres(cfg.database_url, dest or cfg.backup_dir, keep=keep)
    else:
        result = backup(cfg.db_path, dest or cfg.backup_dir, keep=keep)
    echo_json(result.as_dict())


@cli.command("restore")
@click.argument("backup_file", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Overwrite even if the ledger looks in use.")
@click.option(
    "--idle-seconds",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="A ledger written more recently than this counts as live.",
)
@click.pass_context
def restore_cmd(ctx: click.Context, backup_file: str, force: bool, idle_seconds: float) -> None:
    """Replace the ledger with a verified backup (the old ledger is kept beside it).

    Refuses while a worker holds the scheduler lease or the ledger was written recently (on
    PostgreSQL: while other sessions are connected); stop `deskguard serve` and `deskguard
    worker` first. A PostgreSQL ledger takes a .dump file; the schema it replaces is kept
    renamed.

    Example: deskguard restore backups/deskguard-20261207T030000000000Z.db
    """
    from connector.backup import restore, restore_postgres

    cfg = cli_config(ctx)
    if cfg.database_url:
        echo_json(restore_postgres(backup_file, cfg.database_url, force=force))
    else:
        echo_json(restore(backup_file, cfg.db_path, force=force, idle_seconds=idle_seconds))


# Every command group, by name. The dev kit (emulators, benchmarks, the demo) is added here and
# nowhere else: no product module imports it.
for _command in (
    classify_cli.classify_cmd,
    classify_cli.eval_cmd,
    classify_cli.train_cmd,
    redact_cli.redact_cmd,
    commerce_cli.lookup,
    commerce_cli.approvals_group,
    stripe_cli.stripe_group,
    panel_cli.app_group,
    panel_cli.feedback_group,
    pipeline_cli.kill_switch,
    pipeline_cli.policy_group,
    pipeline_cli.decisions_group,
    pipeline_cli.replay_cmd,
    zendesk_cli.zendesk_group,
    *devkit_cli.COMMANDS,
):
    cli.add_command(_command)


def main() -> None:
    cli(obj={})
