"""The dev kit's commands: ``deskguard sandbox ...`` (vendor emulators), ``deskguard bench ...``
(benchmarks; figures go in docs/BENCHMARKS.md) and ``deskguard demo``.

The CLI root (connector/cli.py) adds these three in one place; no product module imports the
dev kit.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from connector.cli_context import catch_stop_signals, echo_json
from connector.cli_context import wait_for_signal as _wait_for_signal
from connector.devkit.bench import bench
from connector.devkit.bench.backup import bench_backup
from connector.devkit.bench.claude import bench_claude, bench_redact
from connector.devkit.bench.faults import bench_crash, bench_hold, bench_waits
from connector.devkit.bench.local import bench_local
from connector.devkit.bench.metrics import bench_metrics
from connector.devkit.bench.panel import bench_panel
from connector.devkit.bench.pipeline import bench_pipeline
from connector.devkit.bench.scaleout import bench_scaleout
from connector.devkit.bench.shopify import bench_shopify
from connector.devkit.bench.stripe import bench_stripe
from connector.devkit.bench.zendesk import bench_intake
from connector.devkit.demo import demo_command


@click.group("sandbox", invoke_without_command=True)
@click.pass_context
def sandbox(ctx: click.Context) -> None:
    """Run the vendor sandboxes (emulators) standalone; without a subcommand, the Zendesk one.

    Example: deskguard sandbox zendesk --port 8101 --seed demo
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(sandbox_zendesk)


@click.command("zendesk")
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
@click.option("--token", default=None, help="API token to accept (default: a random one, printed).")
@click.option(
    "--rate-limit", default=700, type=int, show_default=True, help="API requests per minute."
)
def sandbox_zendesk(
    host: str, port: int, seed: str, email: str, token: str | None, rate_limit: int
) -> None:
    """Run the Zendesk sandbox until Ctrl-C; prints its URL and API credentials as JSON.

    Example: deskguard sandbox zendesk --port 8101 --seed demo
    """
    stop = catch_stop_signals()  # before the URL is printed: a stop right after is clean
    from connector.devkit.sandbox.zendesk import start_zendesk_sandbox
    from connector.devkit.sandbox.zendesk_state import demo_tickets

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
        _wait_for_signal(stop)
    finally:
        sandbox.stop()


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
    """Run the Stripe sandbox with the demo account until Ctrl-C; prints its URL and settings as
    JSON. Open a dispute (and deliver charge.dispute.created) with
    `curl -X POST <url>/_sandbox/disputes -d '{"email": "jane.doe@example.com"}'`.

    Example: deskguard sandbox stripe --port 8103 --webhook-url http://127.0.0.1:8000/webhooks/stripe/acme
    """
    stop = catch_stop_signals()  # before the URL is printed: a stop right after is clean
    from connector.devkit.sandbox.stripe import start_stripe_sandbox

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
        _wait_for_signal(stop)
    finally:
        sandbox.stop()


@click.command("shopify")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8102, show_default=True, type=int)
def sandbox_shopify(host: str, port: int) -> None:
    """Run the Shopify Admin GraphQL sandbox with the demo shop until Ctrl-C; prints its settings
    as JSON.

    Example: deskguard sandbox shopify --port 8102
    """
    stop = catch_stop_signals()  # before the URL is printed: a stop right after is clean
    from connector.devkit.sandbox import serve_in_thread
    from connector.devkit.sandbox.shopify import ShopifyState, create_app, sidecar_settings
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
        _wait_for_signal(stop)
    finally:
        server.stop()


@click.command("anthropic")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8104, show_default=True, type=int)
@click.option("--api-key", default=None, help="Key to accept (default: the sandbox demo key).")
def sandbox_anthropic(host: str, port: int, api_key: str | None) -> None:
    """Run the Anthropic Messages API sandbox until Ctrl-C; prints its URL and settings as JSON.
    Make the next 3 requests fail with
    `curl -X POST <url>/_sandbox/fail -d '{"status": 529, "times": 3}'`.

    Example: deskguard sandbox anthropic --port 8104
    """
    stop = catch_stop_signals()  # before the URL is printed: a stop right after is clean
    from connector.devkit.sandbox.anthropic import DEMO_API_KEY, start_anthropic_sandbox

    sandbox = start_anthropic_sandbox(api_key=api_key or DEMO_API_KEY, host=host, port=port)
    echo_json({"url": sandbox.url, "env": sandbox.env})
    try:
        _wait_for_signal(stop)
    finally:
        sandbox.stop()


for _command in (sandbox_zendesk, sandbox_shopify, sandbox_stripe, sandbox_anthropic):
    sandbox.add_command(_command)

for _command in (
    bench_backup,
    bench_claude,
    bench_crash,
    bench_hold,
    bench_intake,
    bench_local,
    bench_metrics,
    bench_panel,
    bench_pipeline,
    bench_redact,
    bench_scaleout,
    bench_shopify,
    bench_stripe,
    bench_waits,
):
    bench.add_command(_command)

COMMANDS = (sandbox, bench, demo_command)
