"""process_ticket: the one function that orders the pipeline's stages.

load ticket → skip if nothing new from a person → redact → classify → enrich → decide → act → audit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connector import actions, audit
from connector.domain import DESKGUARD_MARKER, Reading, Ticket, TicketText
from connector.runtime import Runtime


@dataclass
class Result:
    ticket_id: int
    outcome: str
    reason: str = ""
    decision_id: int | None = None


def needs_processing(ticket: Ticket) -> bool:
    """True when the latest comment was written by a person, not by Deskguard."""
    try:
        from connector.zendesk.loop_safety import needs_processing as zendesk_check
    except ImportError:
        zendesk_check = None
    if zendesk_check is not None:
        return bool(zendesk_check(ticket))
    if not ticket.comments:
        return False
    last = ticket.comments[-1]
    return not (last.by_deskguard or DESKGUARD_MARKER in (last.body or ""))


def placeholder_reading() -> Reading:
    return Reading(category="other", confidence=0.0, alternatives=(), sentiment="neutral", sentiment_score=0.0,
                   urgency="normal", language="", reasons=("PLACEHOLDER: no classifier service is registered",),
                   engine="placeholder")


def process_ticket(runtime: Runtime, tenant_id: str, ticket_id: int, *, job: Any = None) -> Result:
    db = runtime.db
    desk = runtime.service("zendesk", tenant_id)
    ticket = desk.get_ticket(int(ticket_id))
    if not needs_processing(ticket):
        return Result(ticket.id, "skip", "nothing new from a person")
    latest = ticket.latest_person_comment
    if runtime.has_service("classifier"):
        reading = runtime.service("classifier", tenant_id).classify(
            TicketText(subject=ticket.subject, body=latest.body if latest else "", id=str(ticket.id)))
    else:
        reading = placeholder_reading()
    version = latest.id if latest else (ticket.updated_at.isoformat() if ticket.updated_at else "0")
    key = f"{tenant_id}:{ticket.id}:{version}:zendesk.internal_note"
    body = (f"Deskguard decision brief\nCategory: {reading.category} ({reading.confidence:.0%})\n"
            f"Reasons: {'; '.join(reading.reasons)}")
    marker = f"{DESKGUARD_MARKER} {key}"
    job_id = getattr(job, "id", None)
    actions.execute(db, tenant_id, actions.WriteAction(
        vendor="zendesk", kind="zendesk.internal_note", idempotency_key=key,
        params={"ticket_id": ticket.id, "category": reading.category},
        send=lambda k: dict(desk.add_internal_note(ticket.id, body, marker=marker, tags=("deskguard",)) or {}),
        reconcile=lambda k: ({"comment_id": c.id} if (c := desk.find_comment_with_marker(ticket.id, marker))
                             else None),
        ticket_id=ticket.id, job_id=job_id))
    return Result(ticket.id, "assist_note")


__all__ = ["Result", "audit", "process_ticket"]
