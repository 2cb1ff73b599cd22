"""CLI: ``deskguard app ...`` (app tokens), ``deskguard feedback export`` and
``deskguard zendesk package-app``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from connector.cli_context import tenant_option
from connector.errors import NotFound


def _tenant_runtime(ctx: click.Context, tenant: str | None):
    from connector.cli_context import tenant_runtime

    return tenant_runtime(ctx, tenant)


def _echo_json(value) -> None:
    from connector.cli_context import echo_json

    echo_json(value)


# --- app tokens --------------------------------------------------------------------------------
@click.group("app")
def app_group() -> None:
    """Tokens for the Zendesk app (its secure `api_token` setting).

    Example: deskguard app token --tenant acme --label "production app"
    """


@app_group.command("token")
@tenant_option
@click.option("--label", default="", help="A note to tell tokens apart, e.g. 'production app'.")
@click.pass_context
def app_token(ctx: click.Context, tenant: str | None, label: str) -> None:
    """Issue an app token for a tenant; it is printed once and stored only as a hash.

    Paste it into the Deskguard app's "API token" setting in Zendesk.

    Example: deskguard app token --tenant acme --label "production app"
    """
    from connector.panel.auth import issue_token

    runtime, tenant_id = _tenant_runtime(ctx, tenant)
    token_id, token = issue_token(runtime.db, tenant_id, label=label)
    _echo_json(
        {
            "tenant": tenant_id,
            "id": token_id,
            "token": token,
            "note": "shown once: paste it into the app's API token setting",
        }
    )


@app_group.command("tokens")
@tenant_option
@click.pass_context
def app_tokens(ctx: click.Context, tenant: str | None) -> None:
    """List a tenant's app tokens (prefixes only, never the tokens).

    Example: deskguard app tokens --tenant acme
    """
    from connector.panel.auth import list_tokens

    runtime, tenant_id = _tenant_runtime(ctx, tenant)
    _echo_json(list_tokens(runtime.db, tenant_id))


@app_group.command("revoke")
@tenant_option
@click.option(
    "--id", "token_id", required=True, type=int, help="Token id from `deskguard app tokens`."
)
@click.pass_context
def app_revoke(ctx: click.Context, tenant: str | None, token_id: int) -> None:
    """Revoke an app token; the app gets 401 until a new token is pasted in.

    Example: deskguard app revoke --tenant acme --id 3
    """
    from connector.panel.auth import revoke_token

    runtime, tenant_id = _tenant_runtime(ctx, tenant)
    if not revoke_token(runtime.db, tenant_id, token_id):
        raise NotFound(f"no live token {token_id} for tenant {tenant_id!r}")
    _echo_json({"revoked": token_id})


# --- feedback --------------------------------------------------------------------------------
@click.group("feedback")
def feedback_group() -> None:
    """Agent feedback from the side panel (the learning signal).

    Example: deskguard feedback export --tenant acme --out feedback.jsonl
    """


@feedback_group.command("export")
@tenant_option
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write JSONL here instead of stdout.",
)
@click.pass_context
def feedback_export(ctx: click.Context, tenant: str | None, out_path: Path | None) -> None:
    """Export judged decisions as training JSONL for `deskguard train`.

    One line per decision: {"id", "subject", "body", "label"}; the text is the redacted input
    the classifier saw. A summary goes to stderr.

    Example: deskguard feedback export --tenant acme --out feedback.jsonl
    """
    from connector.panel.feedback_export import ExportStats, training_rows

    runtime, tenant_id = _tenant_runtime(ctx, tenant)
    stats = ExportStats()
    out = out_path.open("w", encoding="utf-8") if out_path else sys.stdout
    try:
        for row in training_rows(runtime.db, tenant_id, stats):
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    finally:
        if out_path:
            out.close()
    click.echo(json.dumps({"exported": stats.exported, "skipped": stats.skipped}), err=True)


# --- the Zendesk app package ------------------------------------------------------------------
@click.command("package-app")
@click.option(
    "--sidecar-url", help="Public https URL of the sidecar (default DESKGUARD_PUBLIC_URL)."
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("dist/deskguard-zendesk-app.zip"),
    show_default=True,
)
@click.option(
    "--write-assets",
    is_flag=True,
    help="Also redraw the logos in connector/panel/zendesk_app/assets.",
)
@click.pass_context
def package_app(
    ctx: click.Context, sidecar_url: str | None, out_path: Path, write_assets: bool
) -> None:
    """Build the installable Zendesk app zip (manifest, translations, generated logos).

    Upload it in Zendesk Admin Center → Apps and integrations → Zendesk Support apps → Upload
    private app, then set API token to the output of `deskguard app token`.

    Example: deskguard zendesk package-app --sidecar-url https://deskguard.example.com
    """
    from connector.cli_context import get_runtime
    from connector.panel import app_package

    url = sidecar_url or get_runtime(ctx).config.public_url
    written = [str(p) for p in app_package.write_assets()] if write_assets else []
    path = app_package.build_package(out_path, url)
    _echo_json(
        {
            "package": str(path),
            "sidecar_url": app_package.check_sidecar_url(url),
            "problems": app_package.validate_zip(path),
            "assets_written": written,
        }
    )
