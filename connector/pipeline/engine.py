"""``process_ticket``: the one function that orders the pipeline's stages.

load ticket → learn from agent tags → skip if nothing new from a person → redact → classify →
enrich (orders, payments) → history → suggest a reply → decide → caps → propose collaborative
actions (approvals rows an agent must approve) → compose the brief → record (decisions row + audit
chain) → act (through connector.actions) → complete.

Reading ``STAGES`` reads like the product description; every stage is timed and the timings go
into the decision's audit chain.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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
    # Shared: an UPDATE of this decision's own row and audit appends (which take the chain's
    # lock); nothing here reads a row another writer could change in between.
    with transaction(db, shared=True):
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


def resume_recorded(runtime: Runtime, ctx: TicketContext) -> str | None:
    """One decision per ticket event: when this event already has an unfinished decision (held by
    the kill switch, or interrupted by a crash), put it back into ``ctx`` and return its category;
    the run then only acts. Held decisions of earlier versions are superseded (the ticket changed
    while they waited; this run decides the new version once). None: decide afresh."""
    db = runtime.db
    for old_id in decisions.held_for_other_versions(db, ctx.tenant_id, ctx.ticket_id, ctx.version):
        with transaction(db):
            decisions.complete(
                db, old_id, status="superseded", reason="superseded: the ticket changed while held"
            )
            audit.record(
                db,
                ctx.tenant_id,
                events.DecisionCompleted(
                    decision_id=old_id,
                    status="superseded",
                    outcome="",
                    action="",
                    result={},
                    stage_ms={},
                    total_ms=0.0,
                    ticket_id=ctx.ticket_id,
                    job_id=ctx.job_id,
                ),
            )
    recorded = decisions.unfinished_for_event(db, ctx.tenant_id, ctx.ticket_id, ctx.version)
    if recorded is None:
        # Before the loop-safety check may skip this ticket (our note is its latest comment):
        # finish decisions of this ticket whose write a dead worker completed but never recorded.
        complete_finished_writes(runtime, tenant_id=ctx.tenant_id, ticket_id=ctx.ticket_id)
        return None
    stages.resume_recorded(runtime, ctx, recorded)
    logs.log(LOG, 20, "pipeline.resumed", decision=ctx.decision_id, status=recorded["status"])
    return str(recorded["category"] or "")


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
    category: str | None = None
    with logs.bind(tenant=tenant_id, ticket=int(ticket_id)):
        try:
            ctx = run_stages(runtime, ctx, STAGES[:1])  # load the ticket
            category = None if dry_run else resume_recorded(runtime, ctx)
            ctx = run_stages(runtime, ctx, STAGES[1:] if category is None else (stages.act,))
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
        d = ctx.require_decision()
        if category is None:
            category = ctx.require_reading().category
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


def complete_reconciled(
    runtime: Runtime, tenant_id: str, ticket_id: int, key: str, kind: str, result: dict[str, Any]
) -> list[int]:
    """The reconciler found the write of a ticket event at the vendor: complete the decisions of
    that event that a crash left unfinished. Returns their ids."""
    prefix, suffix = f"{tenant_id}:{ticket_id}:", f":{kind}"
    if not (key.startswith(prefix) and key.endswith(suffix)):
        return []
    version = key[len(prefix) : -len(suffix)]
    db = runtime.db
    done = decisions.unfinished_for_action(db, tenant_id, ticket_id, version)
    for decision_id in done:
        _complete_after_write(runtime, tenant_id, ticket_id, decision_id, kind, result)
    return done


def complete_finished_writes(
    runtime: Runtime,
    *,
    tenant_id: str | None = None,
    ticket_id: int | None = None,
    older_than_s: float | None = None,
) -> list[int]:
    """Complete pending decisions whose write is already ``done``: the worker died between the
    write and completing the decision. ``older_than_s`` leaves alone decisions a live worker may
    be completing right now."""
    created_before = None
    if older_than_s is not None:
        created_before = (datetime.now(UTC) - timedelta(seconds=older_than_s)).isoformat(
            timespec="microseconds"
        )
    rows = decisions.pending_with_done_write(
        runtime.db, tenant_id=tenant_id, ticket_id=ticket_id, created_before=created_before
    )
    for decision_id, tenant, ticket, kind, action_id, stored in rows:
        result = {"action_id": action_id, "state": "done", **json.loads(stored)}
        _complete_after_write(runtime, tenant, ticket, decision_id, kind, result)
    return [r[0] for r in rows]


def _complete_after_write(
    runtime: Runtime,
    tenant_id: str,
    ticket_id: int,
    decision_id: int,
    kind: str,
    result: dict[str, Any],
) -> None:
    db = runtime.db
    with transaction(db):
        decisions.complete(
            db,
            decision_id,
            status="done",
            action=kind,
            action_result=audit.canonical_json({**result, "reconciled": True}),
        )
        audit.record(
            db,
            tenant_id,
            events.DecisionCompleted(
                decision_id=decision_id,
                status="done",
                outcome="",
                action=kind,
                result={**result, "reconciled": True},
                stage_ms={},
                total_ms=0.0,
                ticket_id=ticket_id,
                job_id=None,
            ),
        )
