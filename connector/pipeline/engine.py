"""``process_ticket``: the one function that orders the pipeline's stages.

load ticket → learn from agent tags → skip if nothing new from a person → redact → classify →
enrich (orders, payments) → history → suggest a reply → decide → caps → propose collaborative
actions (approvals rows an agent must approve) → compose the brief → record (decisions row + audit
chain) → act (through connector.actions) → complete.

Reading ``STAGES`` reads like the product description; every stage is timed and the timings go
into the decision's audit chain.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from connector import audit, logs
from connector.db import transaction
from connector.domain import Ticket
from connector.errors import KillSwitchEngaged, VendorError
from connector.pipeline import decisions, events, proposals, stages
from connector.pipeline.context import SKIP, TicketContext

if TYPE_CHECKING:
    from connector.runtime import Runtime

LOG = logs.get("pipeline")
Stage = Callable[["Runtime", TicketContext], TicketContext]

STAGES: tuple[Stage, ...] = (
    stages.load_ticket,
    stages.learn_from_agent_tags,
    stages.check_new_from_person,
    stages.redact_input,
    stages.classify,
    stages.enrich,
    stages.look_up_history,
    stages.suggest_reply,
    stages.decide,
    stages.apply_caps,
    proposals.propose_actions,
    stages.compose,
    stages.record_decision,
    stages.act,
)


@dataclass
class Result:
    ticket_id: int
    outcome: str
    reason: str = ""
    decision_id: int | None = None
    rule: str = ""
    category: str | None = None
    would_automate: bool = False
    context: TicketContext | None = None


def run_stages(
    runtime: Runtime, ctx: TicketContext, stage_list: tuple[Stage, ...] = STAGES
) -> TicketContext:
    for stage in stage_list:
        started = time.perf_counter()
        try:
            ctx = stage(runtime, ctx)
        finally:
            ctx.timings_ms[stage.__name__] = round((time.perf_counter() - started) * 1000, 2)
        if ctx.stop:
            break
    return ctx


def _complete(runtime: Runtime, ctx: TicketContext, status: str, error: str = "") -> None:
    if ctx.decision_id is None:
        return
    d = ctx.require_decision()
    total = round(sum(ctx.timings_ms.values()), 2)
    result = dict(ctx.action_result)
    if error:
        result["error"] = error[:500]
    db = runtime.db
    with transaction(db):
        decisions.complete(
            db,
            ctx.decision_id,
            status=status,
            outcome=d.outcome,
            rule=d.rule,
            reason=d.reason if status == "done" else f"{status}: {error or d.reason}",
            action=ctx.action_kind or None,
            action_result=audit.canonical_json(result),
            latency_ms=total,
            stage_ms=audit.canonical_json(ctx.timings_ms),
        )
        audit.record(
            db,
            ctx.tenant_id,
            events.DecisionCompleted(
                decision_id=ctx.decision_id,
                status=status,
                outcome=d.outcome,
                action=ctx.action_kind,
                result=result,
                stage_ms=dict(ctx.timings_ms),
                total_ms=total,
                ticket_id=ctx.ticket_id,
                job_id=ctx.job_id,
            ),
        )


def process_ticket(
    runtime: Runtime,
    tenant_id: str,
    ticket_id: int,
    *,
    job: Any = None,
    dry_run: bool = False,
    ticket: Ticket | None = None,
) -> Result:
    """Run the whole pipeline for one ticket event.

    Raises ``KillSwitchEngaged`` when a write was blocked (the worker defers the job; the
    decision row says ``deferred``), and vendor errors for the worker's retry policy.
    ``dry_run`` (replay) decides in shadow and writes nothing anywhere. ``ticket``: the ticket
    already read (the Zendesk batch handler reads 100 per request); the load stage then skips
    its read.
    """
    if ticket is not None and int(ticket.id) != int(ticket_id):
        raise ValueError(f"preloaded ticket {ticket.id} is not ticket {ticket_id}")
    ctx = TicketContext(
        tenant_id=tenant_id,
        ticket_id=int(ticket_id),
        job_id=getattr(job, "id", None),
        dry_run=dry_run,
        ticket=ticket,
    )
    with logs.bind(tenant=tenant_id, ticket=int(ticket_id)):
        try:
            ctx = run_stages(runtime, ctx)
        except KillSwitchEngaged as exc:
            _complete(runtime, ctx, "deferred", str(exc))
            raise
        except VendorError as exc:
            _complete(runtime, ctx, "failed", f"{type(exc).__name__}: {exc}")
            raise
        if ctx.stop:
            if not dry_run:
                audit.record(
                    runtime.db,
                    tenant_id,
                    events.PipelineSkipped(
                        reason=ctx.stop,
                        version=ctx.version,
                        ticket_id=ctx.ticket_id,
                        job_id=ctx.job_id,
                    ),
                )
            return Result(ctx.ticket_id, SKIP, ctx.stop, context=ctx)
        _complete(runtime, ctx, "done")
        d, category = ctx.require_decision(), ctx.require_reading().category
        logs.log(
            LOG,
            20,
            "pipeline.decided",
            category=category,
            outcome=d.outcome,
            rule=d.rule,
            ms=round(sum(ctx.timings_ms.values()), 1),
        )
        return Result(
            ctx.ticket_id,
            d.outcome,
            d.reason,
            ctx.decision_id,
            d.rule,
            category,
            d.would_automate,
            context=ctx,
        )
