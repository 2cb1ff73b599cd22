"""A ledger with a known mix of decisions, vendor writes, feedback, caps and jobs, for the tests of
the one metrics code path (tests/test_metrics_agreement.py) and of the OpenAPI document."""

from __future__ import annotations

import time
from dataclasses import dataclass

from panel_support import TENANT, add_decision

from connector.actions import WriteAction, execute
from connector.errors import PermanentError
from connector.panel.auth import Agent
from connector.panel.ticket_view import record_feedback


@dataclass(frozen=True)
class Row:
    ticket: int
    category: str
    outcome: str
    status: str = "done"
    cost_usd: float = 0.0
    tokens: tuple[int, int] = (0, 0)
    escalated: bool = False


MIX = (
    Row(1, "order_status", "auto_reply", cost_usd=0.001, tokens=(100, 20)),
    Row(2, "order_status", "auto_reply", cost_usd=0.001, tokens=(110, 25)),
    Row(3, "order_status", "auto_reply", status="failed", cost_usd=0.001, tokens=(90, 0)),
    Row(4, "complaint_feedback", "escalate", cost_usd=0.003, tokens=(300, 50)),
    Row(5, "refund", "assist_note", escalated=True),  # raised priority: counts as escalated
    Row(6, "refund", "assist_note"),
    Row(6, "refund", "assist_note", status="pending"),  # the same ticket, a later event
    Row(7, "product_question", "shadow"),
    Row(8, "refund", "assist_note", status="deferred"),
)

# What the definitions in connector/pipeline/metrics.py give for MIX, counted by hand.
EXPECTED = {
    "decisions": 9,
    "tickets": 8,
    "processed": 6,  # tickets 1, 2, 4, 5, 6 (first) and 7
    "automated": 2,  # ticket 3's automated reply failed
    "escalated": 2,  # ticket 4 (escalate) and ticket 5 (escalated flag)
    "failed": 1,
    "automation_rate": round(2 / 6, 4),
    "escalation_rate": round(2 / 6, 4),
    "by_status": {"deferred": 1, "done": 6, "failed": 1, "pending": 1},
    "by_outcome": {"assist_note": 4, "auto_reply": 3, "escalate": 1, "shadow": 1},
    "cost_usd_total": 0.006,
    "tokens": {"input": 600, "output": 95},
}


def _send_ok(key: str) -> dict:
    return {"id": key}


def _send_fails(key: str) -> dict:
    raise PermanentError("422 unprocessable", vendor="zendesk", status=422)


def build_mixed_ledger(runtime) -> dict[str, int]:
    """MIX plus feedback, two vendor writes that worked and one that failed, cap usage and jobs
    (one dead). Returns the decision ids by ticket (latest)."""
    db = runtime.db
    ids: dict[int, int] = {}
    for r in MIX:
        ids[r.ticket] = add_decision(
            db,
            TENANT,
            r.ticket,
            category=r.category,
            outcome=r.outcome,
            status=r.status,
            cost_usd=r.cost_usd,
            mode="auto" if r.outcome == "auto_reply" else "assist",
        )
        db.conn.execute(
            "UPDATE decisions SET input_tokens = ?, output_tokens = ?, escalated = ? WHERE id = ?",
            (*r.tokens, int(r.escalated), ids[r.ticket]),
        )
    db.conn.commit()
    agent = Agent(TENANT, id="501", name="Ana Agent", verified=True)
    record_feedback(db, agent, 1, {"verdict": "right"})
    record_feedback(db, agent, 5, {"verdict": "wrong"})
    for key, vendor, send in (
        ("note-1", "zendesk", _send_ok),
        ("refund-1", "stripe", _send_ok),
        ("note-2", "zendesk", _send_fails),
    ):
        action = WriteAction(vendor, f"{vendor}.test", key, {"k": key}, send, ticket_id=1)
        try:
            execute(db, TENANT, action)
        except PermanentError:
            pass
    now = time.time()
    for i, ts in enumerate((now - 60, now - 7200)):
        db.conn.execute(
            "INSERT INTO rate_ledger (tenant_id, bucket, ts, ticket_id, key) VALUES (?,?,?,?,?)",
            (TENANT, "auto_reply", ts, i, f"k{i}"),
        )
    dead, _ = runtime.queue.enqueue(TENANT, "zendesk.ticket", {"ticket_id": 9}, "t:9")
    runtime.queue.enqueue(TENANT, "zendesk.ticket", {"ticket_id": 10}, "t:10")
    db.conn.execute("UPDATE jobs SET state = 'dead', last_error = 'boom' WHERE id = ?", (dead,))
    db.conn.commit()
    return ids
