"""``deskguard zendesk ...``: webhook and trigger setup, polling, status, the app package."""

from __future__ import annotations

import click

from connector.cli_context import echo_json, tenant_option, tenant_runtime
from connector.panel.cli import package_app


@click.group("zendesk")
def zendesk_group() -> None:
    """Zendesk intake: webhook + trigger setup, polling, status, the app package.

    Example: deskguard zendesk setup --tenant acme --url https://deskguard.example.com
    """


@zendesk_group.command("setup")
@tenant_option
@click.option(
    "--url", "public_url", help="Public URL of this sidecar (default DESKGUARD_PUBLIC_URL)."
)
@click.pass_context
def setup_cmd(ctx: click.Context, tenant: str | None, public_url: str | None) -> None:
    """Create (idempotently) the Zendesk webhook and trigger; store the signing secret encrypted.

    Example: deskguard zendesk setup --tenant acme --url https://deskguard.example.com
    """
    from connector.zendesk.setup import setup_zendesk

    runtime, tenant_id = tenant_runtime(ctx, tenant)
    echo_json(setup_zendesk(runtime, tenant_id, public_url))


@zendesk_group.command("poll")
@tenant_option
@click.option("--max-requests", type=int, help="Stop after this many export requests.")
@click.option(
    "--reset-since",
    type=int,
    metavar="UNIX_TIME",
    help="Forget the stored cursor first and start again at this time.",
)
@click.pass_context
def poll_cmd(
    ctx: click.Context, tenant: str | None, max_requests: int | None, reset_since: int | None
) -> None:
    """Poll the incremental ticket export once now (the scheduler does this every interval).

    Example: deskguard zendesk poll --tenant acme
    """
    from connector.zendesk.poller import poll_tenant, reset_cursor

    runtime, tenant_id = tenant_runtime(ctx, tenant)
    if reset_since is not None:
        reset_cursor(runtime, tenant_id, start_time=reset_since, actor="cli")
    result = poll_tenant(runtime, tenant_id, max_requests=max_requests).to_dict()
    result.pop("job_ids", None)
    echo_json(result)


@zendesk_group.command("status")
@tenant_option
@click.option("--check", is_flag=True, help="Also call Zendesk to verify the credentials.")
@click.pass_context
def status_cmd(ctx: click.Context, tenant: str | None, check: bool) -> None:
    """Setup record, poll cursor, intake queue counts and backlog batch progress for a tenant
    (no secrets).

    Example: deskguard zendesk status --tenant acme --check
    """
    from connector.zendesk.poller import poll_state
    from connector.zendesk.service import WEBHOOK_SECRET, account, auth_kind, zendesk_configured

    runtime, tenant_id = tenant_runtime(ctx, tenant)
    db = runtime.db
    counts = dict(
        db.conn.execute(
            "SELECT state, COUNT(*) FROM jobs WHERE tenant_id = ? AND kind = 'zendesk.ticket'"
            " GROUP BY state",
            (tenant_id,),
        ).fetchall()
    )
    out = {
        "tenant": tenant_id,
        "credentials_configured": zendesk_configured(runtime, tenant_id),
        "auth": auth_kind(runtime, tenant_id),
        "webhook_secret_stored": runtime.secrets.get(db, tenant_id, WEBHOOK_SECRET) is not None,
        "account": account(db, tenant_id),
        "poll": poll_state(db, tenant_id),
        "jobs": counts,
        "batches": dict(
            db.conn.execute(
                "SELECT CASE WHEN done_at IS NULL THEN 'pending'"
                " ELSE COALESCE(outcome, 'done') END, COUNT(*)"
                " FROM zendesk_batch_tickets WHERE tenant_id = ? GROUP BY 1",
                (tenant_id,),
            ).fetchall()
        ),
    }
    if check:
        out["api_user"] = runtime.services(tenant_id).require_desk().current_user()
    echo_json(out)


@zendesk_group.command("migrate-auth")
@tenant_option
@click.pass_context
def migrate_auth_cmd(ctx: click.Context, tenant: str | None) -> None:
    """Move a tenant from its (deprecated) API token to OAuth, keeping its webhook, trigger,
    signing secret, poll cursor and settings.

    Needs DESKGUARD_ZENDESK_OAUTH_CLIENT_ID and _SECRET. Obtains a token by the client-credentials
    grant, checks it with /users/me, remembers the API-token agent as a former Deskguard author
    (loop safety), then deletes the stored API token. Zendesk deactivates API tokens on 30 April
    2027. Remove DESKGUARD_ZENDESK_EMAIL/_API_TOKEN from the environment afterwards.

    Example: deskguard zendesk migrate-auth --tenant acme
    """
    from connector.zendesk.service import migrate_to_oauth

    runtime, tenant_id = tenant_runtime(ctx, tenant)
    echo_json(migrate_to_oauth(runtime, tenant_id))


@zendesk_group.command("disconnect")
@tenant_option
@click.pass_context
def disconnect_cmd(ctx: click.Context, tenant: str | None) -> None:
    """Delete Deskguard's trigger and webhook in Zendesk, revoke the OAuth token and forget it.

    Example: deskguard zendesk disconnect --tenant acme
    """
    from connector.zendesk.connect import disconnect

    runtime, tenant_id = tenant_runtime(ctx, tenant)
    echo_json(disconnect(runtime, tenant_id, actor="cli"))


zendesk_group.add_command(package_app)
