"""``deskguard kill-switch``, ``deskguard policy``, ``deskguard decisions`` and
``deskguard replay``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from connector.cli_context import echo_json, tenant_option
from connector.cli_context import tenant_runtime as _tenant
from connector.errors import BadRequest
from connector.timeutil import parse_since

if TYPE_CHECKING:
    from connector.runtime import Runtime


def _policy_file(runtime: Runtime) -> str | None:
    return runtime.config.get("policy_file") or None


@click.group("kill-switch")
def kill_switch() -> None:
    """Stop (on) or resume (off) every write to Zendesk, Shopify and Stripe for a tenant.

    Takes effect for the very next write, including jobs already running; blocked jobs are
    deferred, not lost, and run when the switch is off again.

    Example: deskguard kill-switch on --tenant acme --reason "bad replies"
    """


def _flip(ctx: click.Context, tenant: str | None, on: bool | None, reason: str, actor: str) -> None:
    from connector.pipeline import killswitch

    runtime, tenant_id = _tenant(ctx, tenant)
    changed = None
    if on is not None:
        changed = killswitch.set_switch(
            runtime.db, tenant_id, on, actor=f"cli:{actor}", reason=reason
        )
    out = killswitch.status(runtime.db, tenant_id)
    if changed is not None:
        out["changed"] = changed
    echo_json(out)


_reason_option = click.option("--reason", default="", help="Why (recorded in the audit log).")
_actor_option = click.option(
    "--actor", default="cli", show_default=True, help="Who is flipping it (recorded)."
)


@kill_switch.command("on")
@tenant_option
@_reason_option
@_actor_option
@click.pass_context
def kill_switch_on(ctx: click.Context, tenant: str | None, reason: str, actor: str) -> None:
    """Stop every vendor write for the tenant, from the very next one.

    Example: deskguard kill-switch on --tenant acme --reason "bad replies"
    """
    _flip(ctx, tenant, True, reason, actor)


@kill_switch.command("off")
@tenant_option
@_reason_option
@_actor_option
@click.pass_context
def kill_switch_off(ctx: click.Context, tenant: str | None, reason: str, actor: str) -> None:
    """Resume vendor writes for the tenant; deferred jobs run, oldest first.

    Example: deskguard kill-switch off --tenant acme --reason "replies fixed"
    """
    _flip(ctx, tenant, False, reason, actor)


@kill_switch.command("status")
@tenant_option
@click.pass_context
def kill_switch_status(ctx: click.Context, tenant: str | None) -> None:
    """Whether the switch is on, since when, who flipped it and why.

    Example: deskguard kill-switch status --tenant acme
    """
    _flip(ctx, tenant, None, "", "cli")


@click.group("policy")
def policy_group() -> None:
    """Show and change a tenant's decision policy (modes, thresholds, caps, go-live gate).

    Example: deskguard policy show --tenant acme
    """


@policy_group.command("show")
@tenant_option
@click.pass_context
def policy_show(ctx: click.Context, tenant: str | None) -> None:
    """Print the effective policy with each category's mode and go-live status.

    Example: deskguard policy show --tenant acme
    """
    from connector.pipeline import decisions

    runtime, tenant_id = _tenant(ctx, tenant)
    echo_json(decisions.policy_view(runtime.db, tenant_id, policy_file=_policy_file(runtime)))


@policy_group.command("set-mode")
@click.argument("assignments", nargs=-1)
@tenant_option
@click.option(
    "--default",
    "default_mode",
    type=click.Choice(["off", "shadow", "assist", "auto"]),
    help="Mode of every category without its own.",
)
@click.option(
    "--rollout",
    "rollouts",
    multiple=True,
    help="CATEGORY=PERCENT: share of tickets that get the mode.",
)
@click.option("--reason", default="", help="Why (recorded in the audit log).")
@click.option(
    "--override-reason", help="Switch to auto although the go-live gate is not met (recorded)."
)
@click.pass_context
def policy_set_mode(
    ctx: click.Context,
    assignments: tuple[str, ...],
    tenant: str | None,
    default_mode: str | None,
    rollouts: tuple[str, ...],
    reason: str,
    override_reason: str | None,
) -> None:
    """Set modes: CATEGORY=MODE ... (``*`` means every category). Auto needs the go-live gate.

    Example: deskguard policy set-mode --tenant acme order_status=auto refund=assist
    --rollout order_status=25
    """
    from connector.pipeline import decisions, policy

    runtime, tenant_id = _tenant(ctx, tenant)
    modes, pct = {}, {}
    try:
        for a in assignments:
            cat, mode = a.split("=", 1)
            modes[cat.strip()] = mode.strip()
        for r in rollouts:
            cat, value = r.split("=", 1)
            pct[cat.strip()] = float(value)
    except ValueError:
        raise BadRequest(
            "write assignments as CATEGORY=MODE and rollouts as CATEGORY=PERCENT"
        ) from None
    if not (modes or pct or default_mode):
        raise BadRequest("nothing to change: give CATEGORY=MODE, --rollout or --default")
    if default_mode:
        policy.set_default_mode(
            runtime.db,
            tenant_id,
            default_mode,
            actor="cli",
            reason=reason,
            override_reason=override_reason,
            policy_file=_policy_file(runtime),
        )
    if modes or pct:
        policy.set_category_modes(
            runtime.db,
            tenant_id,
            modes,
            actor="cli",
            reason=reason,
            override_reason=override_reason,
            rollout_percent=pct,
            policy_file=_policy_file(runtime),
        )
    view = decisions.policy_view(runtime.db, tenant_id, policy_file=_policy_file(runtime))
    echo_json(
        {
            "default_mode": view["default_mode"],
            "modes": {c: v["mode"] for c, v in view["categories"].items()},
            "rollout_percent": {
                c: v["rollout_percent"]
                for c, v in view["categories"].items()
                if v["rollout_percent"] < 100
            },
        }
    )


@policy_group.command("patch")
@click.argument("document")
@tenant_option
@click.option("--reason", default="", help="Why (recorded in the audit log).")
@click.option(
    "--override-reason", help="Switch to auto although the go-live gate is not met (recorded)."
)
@click.pass_context
def policy_patch(
    ctx: click.Context, document: str, tenant: str | None, reason: str, override_reason: str | None
) -> None:
    """Deep-merge a partial policy (JSON text, or @file.json) into the tenant's overrides.

    Example: deskguard policy patch '{"caps": {"auto_replies_per_hour": 10}}' --tenant acme
    """
    from connector.pipeline import decisions, policy

    runtime, tenant_id = _tenant(ctx, tenant)
    text = Path(document[1:]).read_text(encoding="utf-8") if document.startswith("@") else document
    try:
        patch = json.loads(text)
    except ValueError as exc:
        raise BadRequest(f"not valid JSON: {exc}") from None
    policy.update(
        runtime.db,
        tenant_id,
        patch,
        actor="cli",
        reason=reason,
        override_reason=override_reason,
        policy_file=_policy_file(runtime),
    )
    echo_json(decisions.policy_view(runtime.db, tenant_id, policy_file=_policy_file(runtime)))


@policy_group.command("go-live")
@tenant_option
@click.pass_context
def policy_go_live(ctx: click.Context, tenant: str | None) -> None:
    """Agreement with agents per category, its Wilson 95 % lower bound, whether each may switch
    to auto (the bound must reach the target), the category's current min_confidence, and the
    recommended threshold: the lowest confidence at which the bound on shadow-mode agreement
    still meets the target (null when none does yet).

    Example: deskguard policy go-live --tenant acme
    """
    from connector.pipeline import decisions

    runtime, tenant_id = _tenant(ctx, tenant)
    view = decisions.policy_view(runtime.db, tenant_id, policy_file=_policy_file(runtime))
    echo_json(
        {
            c: {**v["go_live"], "min_confidence": v["min_confidence"]}
            for c, v in view["categories"].items()
        }
    )


@click.group("decisions")
def decisions_group() -> None:
    """Read the pipeline's decisions and metrics.

    Example: deskguard decisions list --tenant acme --since 1d
    """


@decisions_group.command("list")
@tenant_option
@click.option("--category")
@click.option(
    "--outcome", type=click.Choice(["off", "shadow", "assist_note", "escalate", "auto_reply"])
)
@click.option("--since", help="ISO date/time or an age like 7d.")
@click.option("--limit", default=20, show_default=True, type=int)
@click.pass_context
def decisions_list(
    ctx: click.Context,
    tenant: str | None,
    category: str | None,
    outcome: str | None,
    since: str | None,
    limit: int,
) -> None:
    """Recent decisions, newest first.

    Example: deskguard decisions list --tenant acme --outcome escalate --since 1d
    """
    from connector.pipeline import decisions

    runtime, tenant_id = _tenant(ctx, tenant)
    echo_json(
        decisions.recent_decisions(
            runtime.db,
            tenant_id,
            limit=limit,
            category=category,
            outcome=outcome,
            since=parse_since(since) if since else None,
        )
    )


@decisions_group.command("show")
@click.argument("ticket_id", type=int)
@tenant_option
@click.pass_context
def decisions_show(ctx: click.Context, ticket_id: int, tenant: str | None) -> None:
    """One ticket's latest decision (brief, trace, context), earlier decisions and audit trail.

    Example: deskguard decisions show 1234 --tenant acme
    """
    from connector.pipeline import decisions

    runtime, tenant_id = _tenant(ctx, tenant)
    echo_json(decisions.ticket_decision(runtime.db, tenant_id, ticket_id))


@decisions_group.command("metrics")
@tenant_option
@click.option("--since", help="ISO date/time or an age like 7d.")
@click.pass_context
def decisions_metrics(ctx: click.Context, tenant: str | None, since: str | None) -> None:
    """Processed, automation and escalation rates, agreement and cost per category, caps used.

    Example: deskguard decisions metrics --tenant acme --since 7d
    """
    from connector.pipeline import decisions

    runtime, tenant_id = _tenant(ctx, tenant)
    echo_json(
        decisions.metrics(
            runtime.db,
            tenant_id,
            since=parse_since(since) if since else None,
            policy_file=_policy_file(runtime),
        )
    )


@click.command("replay")
@tenant_option
@click.option("--since", default="30d", show_default=True, help="ISO date/time or an age like 30d.")
@click.option("--limit", type=int, help="Stop after this many tickets.")
@click.option("--progress/--no-progress", default=True, help="Progress bar on stderr.")
@click.pass_context
def replay_cmd(
    ctx: click.Context, tenant: str | None, since: str, limit: int | None, progress: bool
) -> None:
    """Run the pipeline in shadow over past tickets and report, per category, the volume, what
    would have been automated, agreement with what agents did, and the estimated cost.

    Writes nothing to Zendesk. Classifying with Claude costs what the report estimates.

    Example: deskguard replay --tenant acme --since 30d
    """
    from connector.pipeline.replay import replay

    runtime, tenant_id = _tenant(ctx, tenant)
    since_iso = parse_since(since)
    if progress:
        with click.progressbar(
            length=limit or 0,
            label="replaying",
            file=sys.stderr,
            show_pos=True,
            show_percent=bool(limit),
        ) as bar:
            report = replay(
                runtime, tenant_id, since_iso, limit=limit, on_ticket=lambda _t: bar.update(1)
            )
    else:
        report = replay(runtime, tenant_id, since_iso, limit=limit)
    echo_json(report)
