"""``deskguard approvals ...`` and ``deskguard lookup payments``: JSON out, friendly errors."""

from __future__ import annotations

import click

from connector.cli import echo_json, ready_runtime
from connector.commerce import approvals
from connector.commerce.payments import lookup_payments
from connector.domain import to_dict


@click.group("approvals")
def approvals_group() -> None:
    """Refunds and order cancellations waiting for (or decided by) an agent."""


@approvals_group.command("list")
@click.option("--tenant", required=True, help="Tenant id.")
@click.option("--ticket", type=int, help="Only this Zendesk ticket.")
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice(approvals.STATES),
    help="Only these states (repeatable). Default: all.",
)
@click.option("--limit", default=200, show_default=True, type=click.IntRange(1, 10_000))
@click.pass_context
def approvals_list(
    ctx: click.Context, tenant: str, ticket: int | None, states: tuple[str, ...], limit: int
) -> None:
    """List approvals, newest first.

    Example: deskguard approvals list --tenant acme --state proposed
    """
    runtime = ready_runtime(ctx)
    items = approvals.list_approvals(
        runtime.db, tenant, ticket_id=ticket, states=states or None, limit=limit
    )
    echo_json({"approvals": [to_dict(a) for a in items]})


@approvals_group.command("show")
@click.argument("approval_id", type=int)
@click.option("--tenant", required=True, help="Tenant id.")
@click.pass_context
def approvals_show(ctx: click.Context, approval_id: int, tenant: str) -> None:
    """Show one approval with its result or error.

    Example: deskguard approvals show 12 --tenant acme
    """
    echo_json(to_dict(approvals.get(ready_runtime(ctx).db, tenant, approval_id)))


@approvals_group.command("approve")
@click.argument("approval_id", type=int)
@click.option("--tenant", required=True, help="Tenant id.")
@click.option("--agent", required=True, help="Who approves (recorded in the audit log).")
@click.option("--note", default="", help="Optional note for the audit log.")
@click.pass_context
def approvals_approve(
    ctx: click.Context, approval_id: int, tenant: str, agent: str, note: str
) -> None:
    """Approve and execute (refund in Stripe / cancel in Shopify). Running it again never executes twice;
    it retries an approval the kill switch deferred or a vendor error failed.

    Example: deskguard approvals approve 12 --tenant acme --agent jo@example.com
    """
    approval = approvals.approve(ready_runtime(ctx), tenant, approval_id, agent, note=note)
    echo_json(to_dict(approval))
    if approval.state == "failed":
        ctx.exit(1)


@approvals_group.command("reject")
@click.argument("approval_id", type=int)
@click.option("--tenant", required=True, help="Tenant id.")
@click.option("--agent", required=True, help="Who rejects (recorded in the audit log).")
@click.option("--note", default="", help="Optional reason for the audit log.")
@click.pass_context
def approvals_reject(
    ctx: click.Context, approval_id: int, tenant: str, agent: str, note: str
) -> None:
    """Reject a proposed action; nothing is sent to any vendor.

    Example: deskguard approvals reject 12 --tenant acme --agent jo@example.com --note "already refunded"
    """
    echo_json(to_dict(approvals.reject(ready_runtime(ctx), tenant, approval_id, agent, note=note)))


@click.command("payments")
@click.option("--tenant", required=True, help="Tenant id.")
@click.option("--email", required=True, help="Customer email.")
@click.pass_context
def lookup_payments_cmd(ctx: click.Context, tenant: str, email: str) -> None:
    """Stripe customer, recent charges and PaymentIntents, refunds and disputes for an email (JSON).

    Example: deskguard lookup payments --tenant acme --email jane.doe@example.com
    """
    echo_json(lookup_payments(ready_runtime(ctx), tenant, email))


@click.command("stripe")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8103, show_default=True, type=int)
@click.option(
    "--webhook-url",
    help="Deliver signed events here, e.g. http://127.0.0.1:8000/webhooks/stripe/acme.",
)
@click.option(
    "--search-lag",
    default=0.0,
    show_default=True,
    type=float,
    help="Seconds before a new customer shows up in search (exercises the list fallback).",
)
def sandbox_stripe(host: str, port: int, webhook_url: str | None, search_lag: float) -> None:
    """Run the Stripe sandbox with the demo account until Ctrl-C; prints its URL and settings as JSON.
    Open a dispute (and deliver charge.dispute.created) with
    `curl -X POST <url>/_sandbox/disputes -d '{"email": "jane.doe@example.com"}'`.

    Example: deskguard sandbox stripe --port 8103 --webhook-url http://127.0.0.1:8000/webhooks/stripe/acme
    """
    from connector.cli import _wait_for_signal
    from connector.sandbox.stripe import start_stripe_sandbox

    sandbox = start_stripe_sandbox(
        host=host, port=port, webhook_url=webhook_url, search_lag_seconds=search_lag
    )
    echo_json(
        {
            "url": sandbox.url,
            "webhook_url": webhook_url,
            "env": sandbox.env,
            "customers": sorted({c["email"] for c in sandbox.state.customers.values()}),
        }
    )
    try:
        _wait_for_signal()
    finally:
        sandbox.stop()


@click.command("shopify")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8102, show_default=True, type=int)
def sandbox_shopify(host: str, port: int) -> None:
    """Run the Shopify Admin GraphQL sandbox with the demo shop until Ctrl-C; prints its settings as JSON.

    Example: deskguard sandbox shopify --port 8102
    """
    from connector.cli import _wait_for_signal
    from connector.sandbox import serve_in_thread
    from connector.sandbox.shopify import ShopifyState, create_app, sidecar_settings
    from connector.settings import setting

    state = ShopifyState().seed_demo()
    server = serve_in_thread(create_app(state), host=host, port=port)
    env = {setting(name).env: value for name, value in sidecar_settings(state, server.url).items()}
    echo_json(
        {
            "url": server.url,
            "env": env,
            "customers": sorted({c.email for c in state.customers.values()}),
        }
    )
    try:
        _wait_for_signal()
    finally:
        server.stop()


@click.command("stripe")
@click.option("--lookups", default=200, show_default=True, type=click.IntRange(1))
@click.option("--webhooks", default=500, show_default=True, type=click.IntRange(1))
@click.option("--refunds", default=100, show_default=True, type=click.IntRange(1))
def bench_stripe(lookups: int, webhooks: int, refunds: int) -> None:
    """Stripe lookups, webhook intake and approved refunds against the sandbox (JSON figures).

    Example: deskguard bench stripe --lookups 200 --webhooks 500 --refunds 100
    """
    from connector.commerce.stripe_bench import stripe_benchmark

    echo_json(stripe_benchmark(lookups=lookups, webhooks=webhooks, refunds=refunds))


def register_cli(cli: click.Group) -> None:
    cli.add_command(approvals_group)
    if "bench" in cli.commands:
        cli.commands["bench"].add_command(bench_stripe)
    from connector.cli import LOOKUP_HELP, SANDBOX_HELP, shared_group

    sandbox = shared_group(cli, "sandbox", SANDBOX_HELP)
    sandbox.add_command(sandbox_stripe)
    sandbox.add_command(sandbox_shopify)
    shared_group(cli, "lookup", LOOKUP_HELP).add_command(lookup_payments_cmd)
