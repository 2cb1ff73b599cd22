"""``deskguard zendesk ...`` and ``deskguard sandbox zendesk``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from connector.cli import echo_json, ready_runtime


def _tenant(runtime, tenant: str | None) -> str:
    from connector.bootstrap import env_tenant_id
    from connector.tenants import get_tenant

    tenant_id = tenant or env_tenant_id(runtime)
    get_tenant(runtime.db, tenant_id)  # NotFound → a friendly CLI error
    return tenant_id


def _zendesk_group(cli: click.Group) -> click.Group:
    """The ``zendesk`` group, shared with other areas (the app package command lives there too)."""
    group = cli.commands.get("zendesk")
    if group is None:

        @cli.group("zendesk")
        def group() -> None:
            """Zendesk intake: webhook + trigger setup, polling, status.

            Example: deskguard zendesk setup --tenant acme --url https://deskguard.example.com
            """

    return group


def register(cli: click.Group) -> None:
    group = _zendesk_group(cli)

    @group.command("setup")
    @click.option("--tenant", help="Tenant id (default: the env tenant).")
    @click.option(
        "--url", "public_url", help="Public URL of this sidecar (default DESKGUARD_PUBLIC_URL)."
    )
    @click.pass_context
    def setup_cmd(ctx: click.Context, tenant: str | None, public_url: str | None) -> None:
        """Create (idempotently) the Zendesk webhook and trigger; store the signing secret encrypted.

        Example: deskguard zendesk setup --tenant acme --url https://deskguard.example.com
        """
        from connector.zendesk.setup import setup_zendesk

        runtime = ready_runtime(ctx)
        echo_json(setup_zendesk(runtime, _tenant(runtime, tenant), public_url))

    @group.command("poll")
    @click.option("--tenant", help="Tenant id (default: the env tenant).")
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

        runtime = ready_runtime(ctx)
        tenant_id = _tenant(runtime, tenant)
        if reset_since is not None:
            reset_cursor(runtime, tenant_id, start_time=reset_since, actor="cli")
        result = poll_tenant(runtime, tenant_id, max_requests=max_requests).to_dict()
        result.pop("job_ids", None)
        echo_json(result)

    @group.command("status")
    @click.option("--tenant", help="Tenant id (default: the env tenant).")
    @click.option("--check", is_flag=True, help="Also call Zendesk to verify the credentials.")
    @click.pass_context
    def status_cmd(ctx: click.Context, tenant: str | None, check: bool) -> None:
        """Setup record, poll cursor, intake queue counts and backlog batch progress for a tenant (no secrets).

        Example: deskguard zendesk status --tenant acme --check
        """
        from connector.zendesk.poller import poll_state
        from connector.zendesk.service import WEBHOOK_SECRET, account, zendesk_configured

        runtime = ready_runtime(ctx)
        tenant_id = _tenant(runtime, tenant)
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
            "webhook_secret_stored": runtime.secrets.get(db, tenant_id, WEBHOOK_SECRET) is not None,
            "account": account(db, tenant_id),
            "poll": poll_state(db, tenant_id),
            "jobs": counts,
            "batches": dict(
                db.conn.execute(
                    "SELECT CASE WHEN done_at IS NULL THEN 'pending' ELSE COALESCE(outcome, 'done') END, COUNT(*)"
                    " FROM zendesk_batch_tickets WHERE tenant_id = ? GROUP BY 1",
                    (tenant_id,),
                ).fetchall()
            ),
        }
        if check:
            out["api_user"] = runtime.service("zendesk", tenant_id).current_user()
        echo_json(out)

    _register_sandbox(cli)
    _register_bench(cli)


def _register_bench(cli: click.Group) -> None:
    bench = cli.commands.get("bench")
    if bench is None:
        return

    @bench.command("intake")
    @click.option("--seconds", default=10.0, show_default=True, help="Length of each load phase.")
    @click.option(
        "--connections", default=16, show_default=True, help="Keep-alive connections of the client."
    )
    @click.option(
        "--rate",
        default=200.0,
        show_default=True,
        help="Deliveries per second in the latency phase.",
    )
    @click.option(
        "--web-workers", default=2, show_default=True, help="gunicorn workers of `deskguard serve`."
    )
    @click.option(
        "--web-threads", default=4, show_default=True, help="Threads per gunicorn worker."
    )
    @click.option(
        "--tickets",
        default=50,
        show_default=True,
        help="Tickets for the API-calls-per-ticket phase.",
    )
    @click.option(
        "--calls-only", is_flag=True, help="Only the API-calls-per-ticket phase (no load phases)."
    )
    def bench_intake(
        seconds: float,
        connections: int,
        rate: float,
        web_workers: int,
        web_threads: int,
        tickets: int,
        calls_only: bool,
    ) -> None:
        """Signed webhook deliveries against `deskguard serve` from a second process: throughput, ack
        latency at a fixed rate, every accepted delivery in the queue; Zendesk API calls per ticket
        with webhooks and for a polled backlog (one job per ticket, in batches, in batches in shadow).

        Example: deskguard bench intake --seconds 10 --rate 200 --tickets 200
        """
        from connector.zendesk.bench import intake_benchmark

        echo_json(
            intake_benchmark(
                seconds=seconds,
                connections=connections,
                rate=rate,
                web_workers=web_workers,
                web_threads=web_threads,
                tickets=tickets,
                calls_only=calls_only,
            )
        )


def _register_sandbox(cli: click.Group) -> None:
    group = cli.commands.get("sandbox")
    if group is None:

        @cli.group("sandbox", invoke_without_command=True)
        @click.pass_context
        def group(ctx: click.Context) -> None:
            """Run the vendor sandboxes (emulators) standalone; without a subcommand, the Zendesk one.

            Example: deskguard sandbox zendesk --port 8101 --seed demo
            """
            if ctx.invoked_subcommand is None:
                ctx.invoke(sandbox_zendesk)

    @group.command("zendesk")
    @click.option("--host", default="127.0.0.1", show_default=True)
    @click.option("--port", default=8101, type=int, show_default=True)
    @click.option(
        "--seed",
        default="demo",
        show_default=True,
        help="'demo' (built-in tickets), 'none', or a JSON file with a list of tickets.",
    )
    @click.option(
        "--email", default="deskguard@example.com", show_default=True, help="API agent email."
    )
    @click.option(
        "--token", default=None, help="API token to accept (default: a random one, printed)."
    )
    @click.option(
        "--rate-limit", default=700, type=int, show_default=True, help="API requests per minute."
    )
    def sandbox_zendesk(
        host: str, port: int, seed: str, email: str, token: str | None, rate_limit: int
    ) -> None:
        """Run the Zendesk sandbox until Ctrl-C; prints its URL and API credentials as JSON.

        Example: deskguard sandbox zendesk --port 8101 --seed demo
        """
        from connector.cli import _wait_for_signal
        from connector.sandbox.zendesk import start_zendesk_sandbox
        from connector.sandbox.zendesk_state import demo_tickets

        sandbox = start_zendesk_sandbox(
            host=host,
            port=port,
            agent_email=email,
            agent_token=token,
            rate_limit_per_minute=rate_limit or None,
        )
        if seed == "demo":
            ids = sandbox.state.seed(demo_tickets())
        elif seed == "none":
            ids = []
        else:
            ids = sandbox.state.seed(json.loads(Path(seed).read_text()))
        echo_json(
            {
                "url": sandbox.url,
                "email": sandbox.agent_email,
                "api_token": sandbox.agent_token,
                "seeded_tickets": ids,
                "env": {
                    "DESKGUARD_ZENDESK_URL": sandbox.url,
                    "DESKGUARD_ZENDESK_EMAIL": sandbox.agent_email,
                    "DESKGUARD_ZENDESK_API_TOKEN": sandbox.agent_token,
                },
            }
        )
        try:
            _wait_for_signal()
        finally:
            sandbox.stop()
