"""The ``deskguard`` command line (also ``python -m connector``): the root group, which adds
every command group by name.

Commands print JSON for machines unless they say otherwise, and turn Deskguard's errors into one
friendly line with a non-zero exit code. Area modules keep their heavy imports inside the
commands, so ``deskguard --help`` and ``deskguard classify`` start fast.
"""

from __future__ import annotations

import sys

import click

from connector.classify import cli as classify_cli
from connector.cli_context import ROOT, echo_json, get_runtime, ready_runtime, wait_for_signal
from connector.commerce import cli as commerce_cli
from connector.devkit import cli as devkit_cli
from connector.errors import DeskguardError
from connector.panel import cli as panel_cli
from connector.pipeline import cli as pipeline_cli
from connector.settings import load_config, write_docs
from connector.zendesk import cli as zendesk_cli


class DeskguardGroup(click.Group):
    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except DeskguardError as exc:
            raise click.ClickException(exc.message or exc.code) from None


@click.group(cls=DeskguardGroup)
@click.version_option(package_name="deskguard", message="deskguard %(version)s")
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
    from connector.jobs import worker_pool

    runtime = ready_runtime(ctx)
    run_sched = runtime.config.run_scheduler if scheduler is None else scheduler
    sched = lock = None
    if run_sched:
        sched, lock = scheduler_mod.start(runtime)
    pool = worker_pool(runtime, threads or runtime.config.worker_threads)
    pool.start()
    click.echo(
        f"deskguard worker: {pool.threads} threads, scheduler {'on' if sched else 'off'}", err=True
    )
    try:
        wait_for_signal()
    finally:
        pool.stop()
        if sched and lock is not None:
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
        wait_for_signal()
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


# --- backups --------------------------------------------------------------------------
@cli.command("backup")
@click.option("--dest", help="Folder for the copy (default DESKGUARD_BACKUP_DIR).")
@click.option("--keep", type=click.IntRange(min=1), help="Backups to keep (DESKGUARD_BACKUP_KEEP).")
@click.pass_context
def backup_cmd(ctx: click.Context, dest: str | None, keep: int | None) -> None:
    """Copy the live ledger with SQLite's online backup API, verify the copy, rotate old ones.

    Safe while web and worker processes run. Prints the new file, its size and row counts.

    Example: deskguard backup --dest /var/backups/deskguard --keep 30
    """
    from connector.backup import backup

    cfg = load_config(ctx.obj.get("overrides"))
    result = backup(
        cfg.db_path, dest or cfg.backup_dir, keep=keep if keep is not None else cfg.backup_keep
    )
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

    Refuses while a worker holds the scheduler lock or the ledger was written recently; stop
    `deskguard serve` and `deskguard worker` first.

    Example: deskguard restore backups/deskguard-20261207T030000000000Z.db
    """
    from connector.backup import restore

    cfg = load_config(ctx.obj.get("overrides"))
    echo_json(restore(backup_file, cfg.db_path, force=force, idle_seconds=idle_seconds))


# Every command group, by name. The dev kit (emulators, benchmarks, the demo) is added here and
# nowhere else: no product module imports it.
for _command in (
    classify_cli.classify_cmd,
    classify_cli.eval_cmd,
    classify_cli.train_cmd,
    commerce_cli.lookup,
    commerce_cli.approvals_group,
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
