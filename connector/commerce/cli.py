"""``deskguard lookup ...``: what the vendor adapters find for a customer, as JSON (support diagnostics).

This module owns the ``lookup`` group and ``lookup orders``; the Stripe half adds ``lookup payments``
to the same group (connector/commerce/stripe_cli.py).
"""

from __future__ import annotations

import click

from connector.cli import echo_json, ready_runtime
from connector.domain import to_dict


@click.group("lookup")
def lookup() -> None:
    """Look up a customer's context in Shopify and Stripe (JSON).

    Example: deskguard lookup orders --tenant acme --email jane.doe@example.com
    """


@lookup.command("orders")
@click.option("--tenant", required=True, help="Tenant id.")
@click.option("--email", help="Customer email: their most recent orders.")
@click.option("--order", "order_name", help="Order name as written: #1001, 1001 or 'order 1001'.")
@click.option(
    "--summary", is_flag=True, help="Also print the agent one-liner and the WISMO readiness."
)
@click.pass_context
def lookup_orders(
    ctx: click.Context, tenant: str, email: str | None, order_name: str | None, summary: bool
) -> None:
    """Shopify orders for an email or an order name, as the adapter maps them (JSON).

    Example: deskguard lookup orders --tenant acme --order 1001
    """
    if not email and not order_name:
        raise click.UsageError("give --email or --order (or both)")
    from connector.commerce import wismo

    runtime = ready_runtime(ctx)
    orders = runtime.service("shopify", tenant).find_orders(email=email, order_name=order_name)
    out = {
        "tenant": tenant,
        "query": {"email": email, "order": order_name},
        "count": len(orders),
        "orders": [to_dict(o) for o in orders],
    }
    if summary:
        ready, why = wismo.wismo_ready(orders)
        out["summaries"] = [wismo.agent_summary(o) for o in orders]
        out["wismo_ready"] = {"ready": ready, "reason": why}
    echo_json(out)


def register_cli(cli: click.Group) -> None:
    from connector.commerce.shopify_bench import bench_shopify

    bench = cli.commands.get("bench")
    if isinstance(bench, click.Group) and "shopify" not in bench.commands:
        bench.add_command(bench_shopify)
    existing = cli.commands.get("lookup")
    if existing is None:
        cli.add_command(lookup)
    elif "orders" not in getattr(existing, "commands", {}):
        existing.add_command(lookup_orders)
