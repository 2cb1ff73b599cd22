"""The go-live gate: a category switches to auto only after agents agreed with Deskguard's
shadow/assist readings on enough tickets (defaults: ≥ 90 % over ≥ 50 tickets, policy ``go_live``).

Agreement compares the category of the latest shadow/assist decision on a ticket with what an
agent said: the latest ``feedback`` row for the ticket — from the side panel (right/wrong, with
the correct category) or from the category tag an agent left on the solved ticket
(``learn_from_tags`` turns tags like ``cat_refund`` into ``source='tag'`` feedback rows).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlite_utils

from connector import audit
from connector.audit import now_iso
from connector.db import transaction
from connector.domain import CATEGORIES, Ticket
from connector.pipeline.events import TagFeedbackRecorded

if TYPE_CHECKING:
    from connector.pipeline.policy import Policy

_AGREEMENT_SQL = (
    "\n"
    "WITH latest_decision AS (\n"
    "    SELECT d.ticket_id, d.category FROM decisions d\n"
    "    WHERE d.tenant_id = :t AND d.id = (\n"
    "        SELECT MAX(d2.id) FROM decisions d2"
    " WHERE d2.tenant_id = d.tenant_id AND d2.ticket_id = d.ticket_id\n"
    "        AND d2.mode IN ('shadow', 'assist') AND d2.category IS NOT NULL)\n"
    "), latest_feedback AS (\n"
    "    SELECT f.ticket_id, f.verdict, f.correct_category FROM feedback f\n"
    "    WHERE f.tenant_id = :t AND f.id = (\n"
    "        SELECT MAX(f2.id) FROM feedback f2"
    " WHERE f2.tenant_id = f.tenant_id AND f2.ticket_id = f.ticket_id)\n"
    ")\n"
    "SELECT ld.category, COUNT(*),\n"
    "       SUM(CASE WHEN lf.correct_category IS NOT NULL THEN lf.correct_category = ld.category\n"
    "                ELSE lf.verdict = 'right' END)\n"
    "FROM latest_decision ld JOIN latest_feedback lf ON lf.ticket_id = ld.ticket_id\n"
    "GROUP BY ld.category\n"
)


@dataclass(frozen=True)
class GoLiveStatus:
    category: str
    tickets: int
    agreed: int
    min_agreement: float
    min_tickets: int

    @property
    def agreement(self) -> float | None:
        return self.agreed / self.tickets if self.tickets else None

    @property
    def ready(self) -> bool:
        return self.tickets >= self.min_tickets and (self.agreement or 0.0) >= self.min_agreement

    def explain(self) -> str:
        pct = "no feedback yet" if self.agreement is None else f"{self.agreement:.0%} agreement"
        return (
            f"{pct} over {self.tickets} ticket(s); needs ≥ {self.min_agreement:.0%} over "
            f"≥ {self.min_tickets}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "tickets": self.tickets,
            "agreed": self.agreed,
            "agreement": self.agreement,
            "ready": self.ready,
            "min_agreement": self.min_agreement,
            "min_tickets": self.min_tickets,
            "explain": self.explain(),
        }


def agreement_counts(db: sqlite_utils.Database, tenant_id: str) -> dict[str, tuple[int, int]]:
    """category -> (tickets with agent feedback, tickets where the agent agreed)."""
    return {
        row[0]: (int(row[1]), int(row[2] or 0))
        for row in db.conn.execute(_AGREEMENT_SQL, {"t": tenant_id})
    }


def go_live_status(
    db: sqlite_utils.Database, tenant_id: str, category: str, policy: Policy
) -> GoLiveStatus:
    tickets, agreed = agreement_counts(db, tenant_id).get(category, (0, 0))
    gl = policy.go_live
    return GoLiveStatus(
        category, tickets, agreed, float(gl["min_agreement"]), int(gl["min_tickets"])
    )


def all_statuses(db: sqlite_utils.Database, tenant_id: str, policy: Policy) -> list[GoLiveStatus]:
    counts = agreement_counts(db, tenant_id)
    gl = policy.go_live
    return [
        GoLiveStatus(c, *counts.get(c, (0, 0)), float(gl["min_agreement"]), int(gl["min_tickets"]))
        for c in CATEGORIES
    ]


def agent_category(ticket: Ticket, prefix: str) -> str | None:
    """The category an agent tagged (e.g. ``cat_refund``); None when no or several differing
    tags."""
    found = {
        t[len(prefix) :]
        for t in ticket.tags
        if t.startswith(prefix) and t[len(prefix) :] in CATEGORIES
    }
    return found.pop() if len(found) == 1 else None


def learn_from_tags(
    db: sqlite_utils.Database,
    tenant_id: str,
    ticket: Ticket,
    policy: Policy,
    *,
    job_id: int | None = None,
) -> bool:
    """Record the agent's category tag on a solved/closed ticket as feedback. True when recorded."""
    if ticket.status not in ("solved", "closed"):
        return False
    truth = agent_category(ticket, policy.go_live["agent_category_tag_prefix"])
    if truth is None:
        return False
    with transaction(db):
        decision = db.conn.execute(
            "SELECT id, category FROM decisions WHERE tenant_id = ? AND ticket_id = ?"
            " AND category IS NOT NULL ORDER BY id DESC LIMIT 1",
            (tenant_id, ticket.id),
        ).fetchone()
        if decision is None:
            return False
        verdict = "right" if decision[1] == truth else "wrong"
        existing = db.conn.execute(
            "SELECT id, correct_category, decision_id FROM feedback"
            " WHERE tenant_id = ? AND ticket_id = ? AND source = 'tag'",
            (tenant_id, ticket.id),
        ).fetchone()
        if existing and existing[1] == truth and existing[2] == decision[0]:
            return False
        if existing:
            db.conn.execute(
                "UPDATE feedback SET decision_id = ?, verdict = ?, correct_category = ?,"
                " created_at = ? WHERE id = ?",
                (decision[0], verdict, truth, now_iso(), existing[0]),
            )
        else:
            db.conn.execute(
                "INSERT INTO feedback (tenant_id, ticket_id, decision_id, agent_id, verdict,"
                " correct_category, source, created_at) VALUES (?,?,?,?,?,?,'tag',?)",
                (tenant_id, ticket.id, decision[0], "", verdict, truth, now_iso()),
            )
        audit.record(
            db,
            tenant_id,
            TagFeedbackRecorded(
                predicted=decision[1],
                agent_category=truth,
                verdict=verdict,
                ticket_id=ticket.id,
                job_id=job_id,
            ),
        )
    return True
