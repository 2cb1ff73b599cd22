"""What the side panel shows for one ticket, and the agent feedback it collects.

Everything is read straight from the ledger (``decisions``, ``jobs``, ``feedback``) for the
tenant the app token belongs to: every query carries ``tenant_id``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import sqlite_utils

from connector import audit, tenants
from connector.audit import now_iso
from connector.commerce import approvals
from connector.db import transaction
from connector.domain import CATEGORIES, CATEGORY_DESCRIPTIONS, to_dict
from connector.errors import BadRequest, DeskguardError, NotFound
from connector.panel.events import FeedbackRecorded

if TYPE_CHECKING:
    from connector.runtime import Runtime


class NotProcessed(DeskguardError):
    http_status = 409
    code = "not_processed"


DECISION_COLUMNS = (
    "id",
    "ticket_id",
    "job_id",
    "created_at",
    "category",
    "confidence",
    "mode",
    "outcome",
    "rule",
    "reason",
    "reading",
    "policy_trace",
    "context",
    "brief",
    "suggested_reply",
    "engine",
    "model",
    "cost_usd",
    "latency_ms",
    "status",
)
JSON_COLUMNS = ("reading", "policy_trace", "context")


def _json(text: str | None, default: Any) -> Any:
    if not text:
        return default
    try:
        return json.loads(text)
    except ValueError:
        return default


def decision_row(row: tuple) -> dict[str, Any]:
    data = dict(zip(DECISION_COLUMNS, row, strict=True))
    for col in JSON_COLUMNS:
        data[col] = _json(data[col], [] if col == "policy_trace" else {})
    return data


def latest_decision(
    db: sqlite_utils.Database, tenant_id: str, ticket_id: int
) -> dict[str, Any] | None:
    row = db.conn.execute(
        f"SELECT {', '.join(DECISION_COLUMNS)} FROM decisions WHERE tenant_id = ? AND ticket_id = ?"
        " ORDER BY id DESC LIMIT 1",
        (tenant_id, ticket_id),
    ).fetchone()
    return decision_row(row) if row else None


# The intake's job contract (connector/zendesk/intake.py): one ``zendesk.ticket`` job per ticket
# change, with the dedupe key ``zendesk.ticket:<ticket id>:<updated_at>``.
TICKET_JOB_KIND = "zendesk.ticket"


def latest_job(db: sqlite_utils.Database, tenant_id: str, ticket_id: int) -> dict[str, Any] | None:
    """The newest ticket-processing job for this ticket.

    Found by a range over the dedupe-key prefix, so the lookup is a probe of the
    ``UNIQUE (tenant_id, dedupe_key)`` index rather than a scan of the tenant's jobs."""
    prefix = f"{TICKET_JOB_KIND}:{int(ticket_id)}:"
    row = db.conn.execute(
        "SELECT id, kind, state, attempts, last_error, updated_at FROM jobs WHERE tenant_id = ?"
        " AND dedupe_key >= ? AND dedupe_key < ? AND kind = ? ORDER BY id DESC LIMIT 1",
        (tenant_id, prefix, prefix[:-1] + ";", TICKET_JOB_KIND),
    ).fetchone()
    if row is None:
        return None
    return dict(
        zip(("id", "kind", "state", "attempts", "last_error", "updated_at"), row, strict=True)
    )


def _alternatives(reading: dict[str, Any], category: str | None) -> list[dict[str, Any]]:
    out = []
    for alt in reading.get("alternatives") or []:
        if isinstance(alt, (list, tuple)) and len(alt) >= 2:
            name, score = alt[0], alt[1]
        elif isinstance(alt, dict):
            name, score = alt.get("category"), alt.get("score")
        else:
            continue
        if name and name != category:
            out.append({"category": name, "score": score})
    return out[:3]


def _decision_for_panel(d: dict[str, Any]) -> dict[str, Any]:
    reading = d["reading"] if isinstance(d["reading"], dict) else {}
    category = d["category"] or reading.get("category")
    context = d["context"] if isinstance(d["context"], dict) else {}
    payments = context.get("payments") or context.get("payment") or {}
    return {
        "id": d["id"],
        "created_at": d["created_at"],
        "status": d["status"],
        "category": category,
        "category_description": CATEGORY_DESCRIPTIONS.get(category or "", ""),
        "confidence": d["confidence"] if d["confidence"] is not None else reading.get("confidence"),
        "alternatives": _alternatives(reading, category),
        "sentiment": reading.get("sentiment"),
        "sentiment_score": reading.get("sentiment_score"),
        "urgency": reading.get("urgency"),
        "language": reading.get("language"),
        "risk_flags": list(reading.get("risk_flags") or []),
        "reasons": list(reading.get("reasons") or []),
        "engine": d["engine"] or reading.get("engine"),
        "model": d["model"] or reading.get("model"),
        "policy": {
            "mode": d["mode"],
            "outcome": d["outcome"],
            "rule": d["rule"],
            "reason": d["reason"],
            "trace": d["policy_trace"] if isinstance(d["policy_trace"], list) else [],
        },
        "orders": list(context.get("orders") or []),
        "payments": payments if isinstance(payments, dict) else {},
        "context_notes": list(context.get("notes") or context.get("errors") or []),
        "suggested_reply": d["suggested_reply"] or "",
    }


def my_feedback(
    db: sqlite_utils.Database, tenant_id: str, decision_id: int, agent_id: str
) -> dict | None:
    row = db.conn.execute(
        "SELECT verdict, correct_category, created_at FROM feedback"
        " WHERE tenant_id = ? AND decision_id = ?"
        " AND agent_id = ? AND source = 'panel'",
        (tenant_id, decision_id, agent_id),
    ).fetchone()
    return {"verdict": row[0], "correct_category": row[1], "created_at": row[2]} if row else None


def ticket_view(runtime: Runtime, agent, ticket_id: int) -> dict[str, Any]:
    """Everything the side panel renders for one ticket, in one response."""
    db = runtime.db
    tenant_id = agent.tenant_id
    decision = latest_decision(db, tenant_id, ticket_id)
    job = latest_job(db, tenant_id, ticket_id)
    view: dict[str, Any] = {
        "tenant": tenant_id,
        "ticket_id": ticket_id,
        "agent": agent.as_dict(),
        "kill_switch": tenants.kill_switch_on(db, tenant_id),
        "categories": [{"id": c, "description": CATEGORY_DESCRIPTIONS[c]} for c in CATEGORIES],
        "decision": None,
        "feedback": None,
        "approvals": [],
        "job": job,
    }
    newer_job = job and (decision is None or job["id"] != decision["job_id"])
    if job and job["state"] == "dead" and (decision is None or newer_job):
        view["state"], view["message"] = (
            "failed",
            "Processing failed: " + (job["last_error"] or "unknown error"),
        )
    elif decision is None:
        if job and job["state"] in ("queued", "running"):
            view["state"], view["message"] = (
                "queued",
                "Deskguard is reading this ticket; refresh in a moment.",
            )
        else:
            view["state"], view["message"] = (
                "not_processed",
                "Deskguard has not processed this ticket yet.",
            )
    elif decision["status"] == "failed":
        view["state"], view["message"] = (
            "failed",
            "Processing failed: " + (decision["reason"] or "see the audit log"),
        )
    else:
        view["state"] = "deferred" if decision["status"] == "deferred" else "processed"
        view["message"] = ""
        if view["state"] == "deferred":
            view["message"] = (
                "Held by the kill switch: Deskguard writes nothing until it is turned off."
                if view["kill_switch"]
                else "Deferred: Deskguard will finish this ticket shortly."
            )
    if decision is not None:
        view["decision"] = _decision_for_panel(decision)
        if agent.id:
            view["feedback"] = my_feedback(db, tenant_id, decision["id"], agent.id)
    view["approvals"] = [
        approval_for_panel(a)
        for a in approvals.list_approvals(
            runtime.db, tenant_id, ticket_id=ticket_id, states=approvals.OPEN_STATES
        )
    ]
    return view


def approval_for_panel(approval: Any) -> dict[str, Any]:
    """One open collaborative action (refund, cancel) as the panel shows it: waiting for an agent,
    or approved and still executing, deferred (kill switch) or failed."""
    data = to_dict(approval)
    state = data.get("state") or "proposed"
    return {
        "id": data.get("id"),
        "kind": data.get("kind") or "",
        "state": state,
        "summary": data.get("summary") or "",
        "reason": data.get("reason") or "",
        "amount": data.get("amount"),
        "currency": data.get("currency") or "",
        "requested_at": data.get("created_at") or "",
        "requested_by": data.get("proposed_by") or "",
        "decided_by": data.get("decided_by") or "",
        "deferred_reason": data.get("deferred_reason") or "",
        "error": data.get("error") or "",
        # what an agent may still do: decide a proposal, or approve a failed one again (retry)
        "can_decide": state == "proposed",
        "can_retry": state == "failed",
    }


def record_feedback(
    db: sqlite_utils.Database, agent, ticket_id: int, body: dict[str, Any]
) -> dict[str, Any]:
    """Store an agent's verdict on the latest (or the named) decision of a ticket.

    ``{"verdict": "right"|"wrong", "correct_category": "<id>"?, "decision_id": N?}``. Naming a
    category without a verdict means "right" when it equals the prediction and "wrong" otherwise.
    One verdict per agent per decision: a later one replaces the earlier.
    """
    tenant_id = agent.tenant_id
    verdict = body.get("verdict")
    correct = body.get("correct_category") or None
    if verdict not in (None, "right", "wrong"):
        raise BadRequest("verdict must be 'right' or 'wrong'")
    if correct is not None and correct not in CATEGORIES:
        raise BadRequest(f"unknown category {correct!r}")
    decision_id = body.get("decision_id")
    if decision_id is not None and not isinstance(decision_id, int):
        raise BadRequest("decision_id must be an integer")
    with transaction(db):
        if decision_id is None:
            row = db.conn.execute(
                "SELECT id, category FROM decisions WHERE tenant_id = ? AND ticket_id = ?"
                " ORDER BY id DESC LIMIT 1",
                (tenant_id, ticket_id),
            ).fetchone()
            if row is None:
                raise NotProcessed("this ticket has no Deskguard decision to judge yet")
        else:
            row = db.conn.execute(
                "SELECT id, category FROM decisions WHERE tenant_id = ? AND ticket_id = ?"
                " AND id = ?",
                (tenant_id, ticket_id, decision_id),
            ).fetchone()
            if row is None:
                raise NotFound("no such decision for this ticket")
        decision_id, predicted = row
        if verdict is None:
            if correct is None:
                raise BadRequest("give a verdict ('right' or 'wrong') or the correct category")
            verdict = "right" if correct == predicted else "wrong"
        if verdict == "right":
            if correct not in (None, predicted):
                raise BadRequest("a 'right' verdict cannot name a different category")
            correct = predicted
        elif correct == predicted:
            raise BadRequest("a 'wrong' verdict needs a category other than the predicted one")
        db.conn.execute(
            "INSERT INTO feedback (tenant_id, ticket_id, decision_id, agent_id, verdict,"
            " correct_category, source, created_at) VALUES (?,?,?,?,?,?, 'panel', ?)"
            " ON CONFLICT (tenant_id, decision_id, agent_id, source) WHERE decision_id IS NOT NULL"
            " DO UPDATE SET verdict = excluded.verdict,"
            " correct_category = excluded.correct_category,"
            " created_at = excluded.created_at",
            (tenant_id, ticket_id, decision_id, agent.id, verdict, correct, now_iso()),
        )
        audit.record(
            db,
            tenant_id,
            FeedbackRecorded(
                decision_id=decision_id,
                agent_id=agent.id,
                verdict=verdict,
                correct_category=correct,
                predicted_category=predicted,
                ticket_id=ticket_id,
            ),
        )
    return {"decision_id": decision_id, "verdict": verdict, "correct_category": correct}
