"""Replay: the pipeline in shadow over past tickets, to decide what to switch on.

``replay(runtime, tenant_id, since)`` reads tickets in batches through the Zendesk adapter's
incremental export, runs the real stages (redact → classify → enrich → history → suggest →
decide) with ``dry_run`` — no decisions rows, no caps, no writes to Zendesk or anywhere else but
one ``replay.completed`` audit event — and reports per category: volume, what would have been
automated, escalations, agreement with what agents actually did (their category tags or panel
feedback), and the estimated cost (Claude's cost per reading; 0 for the local model).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from connector import audit
from connector.domain import Ticket
from connector.pipeline import events, golive, policy, stages
from connector.pipeline.context import TicketContext
from connector.pipeline.engine import run_stages

if TYPE_CHECKING:
    import sqlite_utils

    from connector.runtime import Runtime

REPLAY_STAGES = (
    stages.redact_input,
    stages.classify,
    stages.enrich,
    stages.look_up_history,
    stages.suggest_reply,
    stages.decide,
)


def _tickets(batches: Iterable[Any]) -> Iterator[Ticket]:
    for item in batches:
        if isinstance(item, Ticket):
            yield item
        else:
            yield from item


def _agent_truth(
    db: sqlite_utils.Database, tenant_id: str, ticket: Ticket, prefix: str
) -> str | None:
    tagged = golive.agent_category(ticket, prefix)
    if tagged:
        return tagged
    row = db.conn.execute(
        "SELECT f.verdict, f.correct_category, d.category FROM feedback f"
        " LEFT JOIN decisions d ON d.id = f.decision_id"
        " WHERE f.tenant_id = ? AND f.ticket_id = ? ORDER BY f.id DESC LIMIT 1",
        (tenant_id, ticket.id),
    ).fetchone()
    if row is None:
        return None
    verdict, correct, predicted = row
    return correct or (predicted if verdict == "right" else None)


def replay(
    runtime: Runtime,
    tenant_id: str,
    since: str,
    *,
    limit: int | None = None,
    on_ticket: Callable[[Ticket], None] | None = None,
) -> dict[str, Any]:
    """``since`` is an ISO-8601 timestamp. Returns the report (also recorded in the audit log)."""
    desk = runtime.services(tenant_id).require_desk()
    start = int(datetime.fromisoformat(since).timestamp())
    pol = policy.load(runtime.db, tenant_id, policy_file=runtime.config.get("policy_file") or None)
    prefix = pol.go_live["agent_category_tag_prefix"]
    cats: dict[str, dict[str, Any]] = {}
    n = 0
    for ticket in _tickets(desk.export_tickets(start)):
        if limit is not None and n >= limit:
            break
        if not ticket.comments:  # the export carries no comments: read this one ticket in full
            ticket = desk.get_ticket(ticket.id)
        n += 1
        ctx = TicketContext(tenant_id=tenant_id, ticket_id=ticket.id, dry_run=True, policy=pol)
        stages.attach_ticket(runtime, ctx, ticket)
        ctx.policy = pol
        if ctx.latest is None:
            if on_ticket:
                on_ticket(ticket)
            continue
        ctx = run_stages(runtime, ctx, REPLAY_STAGES)
        r, d = ctx.require_reading(), ctx.require_decision()
        c = cats.setdefault(
            r.category,
            {
                "volume": 0,
                "would_automate": 0,
                "would_propose": 0,
                "escalated": 0,
                "agent_labelled": 0,
                "agreed": 0,
                "cost_usd": 0.0,
                "mode": pol.category(r.category).mode,
            },
        )
        c["volume"] += 1
        c["would_automate"] += int(d.would_automate)
        c["would_propose"] += len(
            ctx.proposals
        )  # refunds / cancellations an agent would be asked to approve
        c["escalated"] += int(d.escalated)
        c["cost_usd"] += r.cost_usd
        truth = _agent_truth(runtime.db, tenant_id, ticket, prefix)
        if truth is not None:
            c["agent_labelled"] += 1
            c["agreed"] += int(truth == r.category)
        if on_ticket:
            on_ticket(ticket)
    for c in cats.values():
        c["agreement"] = (c["agreed"] / c["agent_labelled"]) if c["agent_labelled"] else None
        c["automation_rate"] = c["would_automate"] / c["volume"] if c["volume"] else 0.0
        c["cost_usd"] = round(c["cost_usd"], 6)
        c["cost_per_ticket_usd"] = round(c["cost_usd"] / c["volume"], 6) if c["volume"] else 0.0
    total_cost = round(sum(c["cost_usd"] for c in cats.values()), 6)
    by_volume = sorted(cats.items(), key=lambda kv: -kv[1]["volume"])
    report = {
        "tenant": tenant_id,
        "since": since,
        "tickets": n,
        "would_automate": sum(c["would_automate"] for c in cats.values()),
        "cost_usd": total_cost,
        "categories": dict(by_volume),
    }
    audit.record(
        runtime.db, tenant_id, events.ReplayCompleted(since=since, tickets=n, report=report)
    )
    return report
