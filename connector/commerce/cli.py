"""``deskguard lookup ...`` (what the vendor adapters find for a customer, as JSON: support
diagnostics) and ``deskguard approvals ...`` (refunds and cancellations waiting for an agent)."""

from __future__ import annotations

import click

from connector.cli_context import echo_json, tenant_option, tenant_runtime
from connector.domain import to_dict

# The states of an approval (connector/commerce/approvals.py: STATES), repeated here so that
# `deskguard --help` does not load the approvals module; a test checks they agree.
APPROVAL_STATES = ("proposed", "approved", "executing", "done", "failed", "rejected")


@click.group("lookup")
def lookup() -> None:
    """Look up a customer's context in Shopify and Stripe (JSON).

    Example: deskguard lookup orders --tenant acme --email jane.doe@example.com
    """


@lookup.command("orders")
@tenant_option
@click.option("--email", help="Customer email: their most recent orders.")
@click.option("--order", "order_name", help="Order name as written: #1001, 1001 or 'order 1001'.")
@click.option(
    "--summary", is_flag=True, help="Also print the agent one-liner and the WISMO readiness."
)
@click.pass_context
def lookup_orders(
    ctx: click.Context, tenant: str | None, email: str | None, order_name: str | None, summary: bool
) -> None:
    """Shopify orders for an email or an order name, as the adapter maps them (JSON).

    Example: deskguard lookup orders --tenant acme --order 1001
    """
    if not email and not order_name:
        raise click.UsageError("give --email or --order (or both)")
    from connector.commerce import wismo

    runtime, tenant_id = tenant_runtime(ctx, tenant)
    orders = (
        runtime.services(tenant_id).require_orders().find_orders(email=email, order_name=order_name)
    )
    out = {
        "tenant": tenant_id,
        "query": {"email": email, "order": order_name},
        "count": len(orders),
        "orders": [to_dict(o) for o in orders],
    }
    if summary:
        ready, why = wismo.wismo_ready(orders)
        out["summaries"] = [wismo.agent_summary(o) for o in orders]
        out["wismo_ready"] = {"ready": ready, "reason": why}
    echo_json(out)


@click.group("approvals")
def approvals_group() -> None:
    """Refunds and order cancellations waiting for (or decided by) an agent.

    Example: deskguard approvals list --state proposed
    """


@approvals_group.command("list")
@tenant_option
@click.option("--ticket", type=int, help="Only this Zendesk ticket.")
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice(APPROVAL_STATES),
    help="Only these states (repeatable). Default: all.",
)
@click.option("--limit", default=200, show_default=True, type=click.IntRange(1, 10_000))
@click.pass_context
def approvals_list(
    ctx: click.Context, tenant: str | None, ticket: int | None, states: tuple[str, ...], limit: int
) -> None:
    """List approvals, newest first.

    Example: deskguard approvals list --tenant acme --state proposed
    """
    from connector.commerce import approvals

    runtime, tenant_id = tenant_runtime(ctx, tenant)
    items = approvals.list_approvals(
        runtime.db, tenant_id, ticket_id=ticket, states=states or None, limit=limit
    )
    echo_json({"approvals": [to_dict(a) for a in items]})


@approvals_group.command("show")
@click.argument("approval_id", type=int)
@tenant_option
@click.pass_context
def approvals_show(ctx: click.Context, approval_id: int, tenant: str | None) -> None:
    """Show one approval with its result or error.

    Example: deskguard approvals show 12 --tenant acme
    """
    from connector.commerce import approvals

    runtime, tenant_id = tenant_runtime(ctx, tenant)
    echo_json(to_dict(approvals.get(runtime.db, tenant_id, approval_id)))


@approvals_group.command("approve")
@click.argument("approval_id", type=int)
@tenant_option
@click.option("--agent", required=True, help="Who approves (recorded in the audit log).")
@click.option("--note", default="", help="Optional note for the audit log.")
@click.pass_context
def approvals_approve(
    ctx: click.Context, approval_id: int, tenant: str | None, agent: str, note: str
) -> None:
    """Approve and execute (refund in Stripe / cancel in Shopify). Running it again never executes
    twice; it retries an approval the kill switch deferred or a vendor error failed.

    Example: deskguard approvals approve 12 --tenant acme --agent jo@example.com
    """
    from connector.commerce import approvals

    runtime, tenant_id = tenant_runtime(ctx, tenant)
    approval = approvals.approve(runtime, tenant_id, approval_id, agent, note=note)
    echo_json(to_dict(approval))
    if approval.state == "failed":
        ctx.exit(1)


@approvals_group.command("reject")
@click.argument("approval_id", type=int)
@tenant_option
@click.option("--agent", required=True, help="Who rejects (recorded in the audit log).")
@click.option("--note", default="", help="Optional reason for the audit log.")
@click.pass_context
def approvals_reject(
    ctx: click.Context, approval_id: int, tenant: str | None, agent: str, note: str
) -> None:
    """Reject a proposed action; nothing is sent to any vendor.

    Example: deskguard approvals reject 12 --tenant acme --agent jo@example.com --note "refunded"
    """
    from connector.commerce import approvals

    runtime, tenant_id = tenant_runtime(ctx, tenant)
    echo_json(to_dict(approvals.reject(runtime, tenant_id, approval_id, agent, note=note)))


@lookup.command("payments")
@tenant_option
@click.option("--email", required=True, help="Customer email.")
@click.pass_context
def lookup_payments_cmd(ctx: click.Context, tenant: str | None, email: str) -> None:
    """Stripe customer, recent charges and PaymentIntents, refunds and disputes for an email (JSON).

    Example: deskguard lookup payments --tenant acme --email jane.doe@example.com
    """
    from connector.commerce.payments import lookup_payments

    runtime, tenant_id = tenant_runtime(ctx, tenant)
    echo_json(lookup_payments(runtime, tenant_id, email))
