"""The decisions ledger: every read and write of the ``decisions`` table, for the pipeline, the
side panel, the dashboard, the admin API and the CLI (none of them re-derives policy results from
raw rows). Every query carries ``tenant_id``."""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from connector import audit
from connector.pipeline import golive, policy
from connector.pipeline import metrics as pipeline_metrics

COLUMNS = (
    "id",
    "ticket_id",
    "job_id",
    "created_at",
    "category",
    "confidence",
    "mode",
    "configured_mode",
    "outcome",
    "rule",
    "reason",
    "escalated",
    "priority",
    "tags",
    "would_automate",
    "fallback_gate",
    "reading",
    "policy_trace",
    "context",
    "brief",
    "suggested_reply",
    "engine",
    "model",
    "cost_usd",
    "input_tokens",
    "output_tokens",
    "latency_ms",
    "stage_ms",
    "action",
    "action_result",
    "status",
    "version",
    "snapshot_digest",
)
JSON_COLUMNS = ("tags", "reading", "policy_trace", "context", "stage_ms", "action_result")
SUMMARY = (
    "id",
    "ticket_id",
    "created_at",
    "category",
    "confidence",
    "mode",
    "outcome",
    "rule",
    "reason",
    "escalated",
    "would_automate",
    "cost_usd",
    "latency_ms",
    "status",
)


def _row(values: tuple[Any, ...], columns: tuple[str, ...] = COLUMNS) -> dict[str, Any]:
    data = dict(zip(columns, values, strict=True))
    for col in JSON_COLUMNS:
        if col in data and isinstance(data[col], str):
            try:
                data[col] = json.loads(data[col])
            except ValueError:
                pass
    for col in ("escalated", "would_automate"):
        if col in data:
            data[col] = bool(data[col])
    return data


def recent_decisions(
    db: sqlite_utils.Database,
    tenant_id: str,
    *,
    limit: int = 50,
    offset: int = 0,
    category: str | None = None,
    outcome: str | None = None,
    mode: str | None = None,
    status: str | None = None,
    since: str | None = None,
    ticket_id: int | None = None,
    full: bool = False,
) -> list[dict[str, Any]]:
    """Newest first. ``full`` adds the brief, reading, trace and context; otherwise a summary."""
    cols = COLUMNS if full else SUMMARY
    where: list[str] = ["tenant_id = ?"]
    params: list[str | int] = [tenant_id]
    for name, value in (
        ("category", category),
        ("outcome", outcome),
        ("mode", mode),
        ("status", status),
        ("ticket_id", ticket_id),
    ):
        if value is not None:
            where.append(f"{name} = ?")
            params.append(value)
    if since:
        where.append("created_at >= ?")
        params.append(since)
    sql = (
        f"SELECT {', '.join(cols)} FROM decisions WHERE {' AND '.join(where)} ORDER BY id DESC"
        f" LIMIT {max(1, min(int(limit), 1000))} OFFSET {max(0, int(offset))}"
    )
    return [_row(r, cols) for r in db.conn.execute(sql, params)]


def ticket_decision(db: sqlite_utils.Database, tenant_id: str, ticket_id: int) -> dict[str, Any]:
    """One ticket: its latest decision (full), earlier decisions (summaries) and its audit trail."""
    rows = recent_decisions(db, tenant_id, ticket_id=ticket_id, limit=100)
    latest = recent_decisions(db, tenant_id, ticket_id=ticket_id, limit=1, full=True)
    trail = [
        {"id": r["id"], "ts": r["ts"], "kind": r["kind"], "job_id": r["job_id"], "data": r["data"]}
        for r in audit.rows(db, tenant_id=tenant_id, ticket_id=ticket_id)
    ]
    return {
        "ticket_id": ticket_id,
        "decision": latest[0] if latest else None,
        "history": rows[1:],
        "audit": trail,
    }


def metrics(
    db: sqlite_utils.Database,
    tenant_id: str,
    *,
    since: str | None = None,
    policy_file: str | None = None,
) -> dict[str, Any]:
    """The tenant's figures since ``since``; defined once in ``connector/pipeline/metrics.py``."""
    return pipeline_metrics.figures(db, tenant_id, since=since, policy_file=policy_file)


def policy_view(
    db: sqlite_utils.Database, tenant_id: str, *, policy_file: str | None = None
) -> dict[str, Any]:
    pol = policy.load(db, tenant_id, policy_file=policy_file)
    statuses = {s.category: s for s in golive.all_statuses(db, tenant_id, pol)}
    cats = {}
    for cat, status in statuses.items():
        cp = pol.category(cat)
        cats[cat] = {
            "mode": cp.mode,
            "auto_allowed": cp.auto_allowed,
            "min_confidence": cp.min_confidence,
            "prerequisites": list(cp.prerequisites),
            "rollout_percent": cp.rollout_percent,
            "go_live": status.as_dict(),
        }
    return {
        "tenant": tenant_id,
        "default_mode": pol.default_mode,
        "categories": cats,
        "caps": pol.caps,
        "escalation": pol.escalation,
        "go_live": pol.go_live,
        "answers": pol.answers,
    }


# --- writes by the pipeline --------------------------------------------------------------------
# Every column the pipeline writes. Rows are dicts keyed by column name, bound as named
# parameters. (sqlite-utils' ``insert``/``update`` read the table's schema on every call: 0.13 and
# 0.23 ms against 0.02 and 0.01 ms for these statements, on the path of every ticket.)
WRITABLE = frozenset(
    (
        *COLUMNS,
        "tenant_id",
        "requester_hash",
        "order_refs",
        "input_snapshot",
    )
) - {"id"}


def _columns(values: dict[str, Any]) -> list[str]:
    unknown = set(values) - WRITABLE
    if unknown:
        raise ValueError(f"not a decisions column: {', '.join(sorted(unknown))}")
    return list(values)


def insert(db: sqlite_utils.Database, row: dict[str, Any]) -> int:
    """A new decision (status ``pending``); returns its id. Call inside the caller's transaction,
    with the audit events that record it."""
    values = {**row, "status": "pending"}
    columns = _columns(values)
    sql = (
        f"INSERT INTO decisions ({', '.join(columns)})"
        f" VALUES ({', '.join(':' + c for c in columns)}) RETURNING id"
    )
    return int(db.conn.execute(sql, values).fetchone()[0])


def complete(db: sqlite_utils.Database, decision_id: int, **fields: Any) -> None:
    """Record how a decision ended (status, outcome, action and its result, timings)."""
    assignments = ", ".join(f"{c} = :{c}" for c in _columns(fields))
    db.conn.execute(
        f"UPDATE decisions SET {assignments} WHERE id = :id", {**fields, "id": decision_id}
    )


def prior_contacts(
    db: sqlite_utils.Database,
    tenant_id: str,
    *,
    requester_hash: str,
    since: str,
    ticket_id: int,
    version: str,
    order_refs: list[str],
    category: str,
) -> int:
    """Earlier ticket events of the same requester since ``since``: about one of ``order_refs``,
    or (without order references) in the same category. The current event does not count."""
    sql = (
        "SELECT COUNT(DISTINCT d.ticket_id || ':' || d.version) FROM decisions d"
        " WHERE d.tenant_id = ? AND d.requester_hash = ? AND d.created_at >= ?"
        " AND NOT (d.ticket_id = ? AND d.version = ?)"
    )
    params: list[Any] = [tenant_id, requester_hash, since, ticket_id, version]
    if order_refs:
        marks = ",".join("?" * len(order_refs))
        sql += f" AND EXISTS (SELECT 1 FROM json_each(d.order_refs) j WHERE j.value IN ({marks}))"
        params += order_refs
    else:
        sql += " AND d.category = ?"
        params.append(category)
    return int(db.conn.execute(sql, params).fetchone()[0])


# --- held and interrupted decisions --------------------------------------------------------------
# A decision is recorded once per ticket event (ticket + version). When its write could not finish
# (the kill switch held it: ``deferred``; a crash interrupted it: ``pending``), the next run of the
# same event finishes that decision instead of reading, classifying and recording it again.
UNFINISHED = ("pending", "deferred")


def unfinished_for_event(
    db: sqlite_utils.Database, tenant_id: str, ticket_id: int, version: str
) -> dict[str, Any] | None:
    """The newest unfinished decision of this ticket event, with its public reply text."""
    marks = ",".join("?" * len(UNFINISHED))
    row = db.conn.execute(
        f"SELECT {', '.join(COLUMNS)} FROM decisions WHERE tenant_id = ? AND ticket_id = ?"
        f" AND version = ? AND status IN ({marks}) ORDER BY id DESC LIMIT 1",
        (tenant_id, ticket_id, version, *UNFINISHED),
    ).fetchone()
    if row is None:
        return None
    decision = _row(row)
    decision["public_reply"] = _event_field(
        db, tenant_id, decision, "decision.output", "public_reply"
    )
    # A held decision's reason column says why it waits; the policy's own reason is in its event.
    decision["policy_reason"] = _event_field(db, tenant_id, decision, "decision.policy", "reason")
    return decision


def _event_field(
    db: sqlite_utils.Database, tenant_id: str, decision: dict[str, Any], kind: str, name: str
) -> str:
    row = db.conn.execute(
        "SELECT json_extract(data, ?) FROM audit_log WHERE tenant_id = ? AND kind = ?"
        # json_extract is TEXT on PostgreSQL and the JSON value on SQLite: compare as text.
        " AND ticket_id = ? AND CAST(json_extract(data, '$.decision_id') AS TEXT) = ?"
        " ORDER BY id DESC LIMIT 1",
        (f"$.{name}", tenant_id, kind, decision["ticket_id"], str(decision["id"])),
    ).fetchone()
    return str(row[0]) if row and row[0] is not None else ""


def held_for_other_versions(
    db: sqlite_utils.Database, tenant_id: str, ticket_id: int, version: str
) -> list[int]:
    """Held decisions of earlier events of this ticket: the ticket changed while they waited."""
    return [
        int(r[0])
        for r in db.conn.execute(
            "SELECT id FROM decisions WHERE tenant_id = ? AND ticket_id = ? AND version != ?"
            " AND status = 'deferred' ORDER BY id",
            (tenant_id, ticket_id, version),
        )
    ]


def unfinished_for_action(
    db: sqlite_utils.Database, tenant_id: str, ticket_id: int, version: str
) -> list[int]:
    """Unfinished decisions whose write is the action of this ticket event (the reconciler)."""
    marks = ",".join("?" * len(UNFINISHED))
    return [
        int(r[0])
        for r in db.conn.execute(
            f"SELECT id FROM decisions WHERE tenant_id = ? AND ticket_id = ? AND version = ?"
            f" AND status IN ({marks}) ORDER BY id",
            (tenant_id, ticket_id, version, *UNFINISHED),
        )
    ]


WRITE_KINDS = ("zendesk.internal_note", "zendesk.public_reply")


def pending_with_done_write(
    db: sqlite_utils.Database,
    *,
    tenant_id: str | None = None,
    ticket_id: int | None = None,
    created_before: str | None = None,
) -> list[tuple[int, str, int, str, int, str]]:
    """Pending decisions whose write already completed (the worker died between the write and
    completing the decision): (decision id, tenant, ticket, action kind, action id, result)."""
    where, params = ["d.status = 'pending'", "a.state = 'done'"], []
    for clause, value in (
        ("d.tenant_id = ?", tenant_id),
        ("d.ticket_id = ?", ticket_id),
        ("d.created_at < ?", created_before),
    ):
        if value is not None:
            where.append(clause)
            params.append(value)
    keys = " OR ".join(
        f"a.idempotency_key = d.tenant_id || ':' || d.ticket_id || ':' || d.version || ':{k}'"
        for k in WRITE_KINDS
    )
    return [
        (int(r[0]), str(r[1]), int(r[2]), str(r[3]), int(r[4]), str(r[5] or "{}"))
        for r in db.conn.execute(
            "SELECT d.id, d.tenant_id, d.ticket_id, a.kind, a.id, a.result FROM decisions d"
            f" JOIN actions a ON a.tenant_id = d.tenant_id AND ({keys})"
            f" WHERE {' AND '.join(where)} ORDER BY d.id",
            params,
        )
    ]
