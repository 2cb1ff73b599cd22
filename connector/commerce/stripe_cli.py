"""``deskguard stripe ...``: connect a tenant's Stripe account with a restricted key."""

from __future__ import annotations

import sys

import click

from connector.cli_context import echo_json, tenant_option, tenant_runtime


@click.group("stripe")
def stripe_group() -> None:
    """Connect Stripe for a tenant (key check, webhook endpoint, encrypted storage).

    Example: deskguard stripe connect --tenant acme
    """


@stripe_group.command("connect")
@tenant_option
@click.option(
    "--key-stdin",
    is_flag=True,
    help="Read the key from standard input instead of a hidden prompt (for scripts).",
)
@click.pass_context
def stripe_connect_cmd(ctx: click.Context, tenant: str | None, key_stdin: bool) -> None:
    """Check a restricted key's permissions, create the webhook endpoint at
    DESKGUARD_PUBLIC_URL/webhooks/stripe/<tenant> and store key and signing secret encrypted.
    Missing permissions are named and nothing is stored. The key is never an argument (it would
    land in the shell history).

    Example: deskguard stripe connect --tenant acme
    """
    from connector.commerce import stripe_connect

    runtime, tenant_id = tenant_runtime(ctx, tenant)  # an unknown tenant fails before the prompt
    if key_stdin:
        api_key = sys.stdin.readline().strip()
    else:
        api_key = click.prompt("Stripe restricted key (rk_...)", hide_input=True).strip()
    conn = stripe_connect.connect_stripe(runtime, tenant_id, api_key, actor="cli:stripe connect")
    echo_json(
        {
            "tenant": conn.tenant_id,
            "key_kind": conn.key_kind,
            "webhook_endpoint": {
                "id": conn.endpoint_id,
                "url": conn.endpoint_url,
                "created": conn.endpoint_created,
            },
            "warnings": conn.warnings,
        }
    )
