"""The go-live gate: a category switches to auto only after agents agreed with Deskguard's
shadow/assist readings on enough tickets (defaults: ≥ 90 % over ≥ 50 tickets, policy ``go_live``).

"≥ 90 %" is read as a statistical claim, not a raw ratio: the *lower* end of the Wilson score
interval (95 %, two-sided) on the agreement must reach the target, so 45 of 50 (90 %, lower bound
0.79) is not enough while 50 of 50 (lower bound 0.93) is. From the same shadow-mode agreement,
split by the confidence of each reading, ``recommend_threshold`` gives the lowest confidence
threshold at which that bound still meets the target: readings below it stay with agents.

Agreement compares the category of the latest shadow/assist decision on a ticket with what an
agent said: the latest ``feedback`` row for the ticket — from the side panel (right/wrong, with
the correct category) or from the category tag an agent left on the solved ticket
(``learn_from_tags`` turns tags like ``cat_refund`` into ``source='tag'`` feedback rows).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlite_utils

from connector import audit
from connector.audit import now_iso
from connector.db import transaction
from connector.domain import CATEGORIES, Ticket
from connector.pipeline.events import TagFeedbackRecorded
from connector.stats import wilson_lower_bound

if TYPE_CHECKING:
    from connector.pipeline.policy import Policy

# 1 when the agent agreed with the reading: the category they gave, else their right/wrong.
_AGREED = (
    "CASE WHEN lf.correct_category IS NOT NULL"
    " THEN (CASE WHEN lf.correct_category = ld.category THEN 1 ELSE 0 END)"
    " WHEN lf.verdict = 'right' THEN 1 ELSE 0 END"
)

# Per ticket: its latest shadow/assist reading and the latest feedback agents gave on it.
_LATEST_SQL = (
    "\n"
    "WITH latest_decision AS (\n"
    "    SELECT d.ticket_id, d.category, d.confidence FROM decisions d\n"
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
)
_AGREEMENT_SQL = (
    _LATEST_SQL + "SELECT ld.category, COUNT(*),\n"
    f"       SUM({_AGREED})\n"
    "FROM latest_decision ld JOIN latest_feedback lf ON lf.ticket_id = ld.ticket_id\n"
    "GROUP BY ld.category\n"
)


# The tickets of _AGREEMENT_SQL one by one, with the confidence of the reading agents judged.
_CONFIDENCE_SQL = (
    _LATEST_SQL + "SELECT ld.category, ld.confidence,\n"
    f"       {_AGREED}\n"
    "FROM latest_decision ld JOIN latest_feedback lf ON lf.ticket_id = ld.ticket_id\n"
    "WHERE ld.confidence IS NOT NULL\n"
)

# Thresholds a recommendation is chosen from (the policy's min_confidence takes any value).
THRESHOLD_GRID = tuple(round(0.5 + 0.01 * i, 2) for i in range(50))


@dataclass(frozen=True)
class Recommendation:
    """The lowest confidence threshold whose agreement bound meets the target, from shadow-mode
    readings with agent feedback; ``threshold`` None when no threshold does."""

    threshold: float | None
    tickets: int = 0  # feedback tickets read with at least that confidence
    agreed: int = 0
    lower_bound: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "tickets": self.tickets,
            "agreed": self.agreed,
            "lower_bound": None if self.lower_bound is None else round(self.lower_bound, 4),
        }


def recommend_threshold(
    readings: list[tuple[float, bool]], target: float, grid: tuple[float, ...] = THRESHOLD_GRID
) -> Recommendation:
    """``readings``: (confidence, agent agreed) per ticket of one category. The lowest threshold
    of ``grid`` at which the Wilson lower bound of agreement among readings at or above it is
    ≥ ``target``."""
    for t in grid:
        chosen = [ok for conf, ok in readings if conf >= t]
        bound = wilson_lower_bound(sum(chosen), len(chosen))
        if bound is not None and bound >= target:
            return Recommendation(t, len(chosen), sum(chosen), bound)
    return Recommendation(None)


@dataclass(frozen=True)
class GoLiveStatus:
    category: str
    tickets: int
    agreed: int
    min_agreement: float
    min_tickets: int
    recommendation: Recommendation = field(default_factory=lambda: Recommendation(None))

    @property
    def agreement(self) -> float | None:
        return self.agreed / self.tickets if self.tickets else None

    @property
    def lower_bound(self) -> float | None:
        """Wilson 95 % lower bound on the agreement (None without feedback)."""
        return wilson_lower_bound(self.agreed, self.tickets)

    @property
    def ready(self) -> bool:
        return self.tickets >= self.min_tickets and (self.lower_bound or 0.0) >= self.min_agreement

    def explain(self) -> str:
        pct = "no feedback yet" if self.agreement is None else f"{self.agreement:.0%} agreement"
        bound = "" if self.lower_bound is None else f" (95% lower bound {self.lower_bound:.0%})"
        return (
            f"{pct} over {self.tickets} ticket(s){bound}; needs ≥ {self.min_agreement:.0%} over "
            f"≥ {self.min_tickets} (the 95% lower bound)"
        )

    def as_dict(self) -> dict[str, Any]:
        bound = self.lower_bound
        return {
            "category": self.category,
            "tickets": self.tickets,
            "agreed": self.agreed,
            "agreement": self.agreement,
            "lower_bound": None if bound is None else round(bound, 4),
            "ready": self.ready,
            "min_agreement": self.min_agreement,
            "min_tickets": self.min_tickets,
            "recommended_threshold": self.recommendation.as_dict(),
            "explain": self.explain(),
        }


def agreement_counts(db: sqlite_utils.Database, tenant_id: str) -> dict[str, tuple[int, int]]:
    """category -> (tickets with agent feedback, tickets where the agent agreed)."""
    return {
        row[0]: (int(row[1]), int(row[2] or 0))
        for row in db.conn.execute(_AGREEMENT_SQL, {"t": tenant_id})
    }


def confidence_readings(
    db: sqlite_utils.Database, tenant_id: str
) -> dict[str, list[tuple[float, bool]]]:
    """category -> (confidence of the latest shadow/assist reading, agent agreed) per ticket with
    feedback (the same tickets as ``agreement_counts``, those with a recorded confidence)."""
    out: dict[str, list[tuple[float, bool]]] = {}
    for category, confidence, agreed in db.conn.execute(_CONFIDENCE_SQL, {"t": tenant_id}):
        out.setdefault(category, []).append((float(confidence), bool(agreed)))
    return out


def go_live_status(
    db: sqlite_utils.Database, tenant_id: str, category: str, policy: Policy
) -> GoLiveStatus:
    tickets, agreed = agreement_counts(db, tenant_id).get(category, (0, 0))
    gl = policy.go_live
    target = float(gl["min_agreement"])
    readings = confidence_readings(db, tenant_id).get(category, [])
    return GoLiveStatus(
        category,
        tickets,
        agreed,
        target,
        int(gl["min_tickets"]),
        recommend_threshold(readings, target),
    )


def all_statuses(db: sqlite_utils.Database, tenant_id: str, policy: Policy) -> list[GoLiveStatus]:
    counts = agreement_counts(db, tenant_id)
    readings = confidence_readings(db, tenant_id)
    gl = policy.go_live
    target = float(gl["min_agreement"])
    return [
        GoLiveStatus(
            c,
            *counts.get(c, (0, 0)),
            target,
            int(gl["min_tickets"]),
            recommend_threshold(readings.get(c, []), target),
        )
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
