"""The decisions ledger: every read and write of the ``decisions`` table, for the pipeline, the
side panel, the dashboard, the admin API and the CLI (none of them re-derives policy results from
raw rows). Every query carries ``tenant_id``."""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from connector import audit
from connector.pipeline import caps, golive, policy
from connector.tenants import kill_switch_on

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
    where, params = "tenant_id = ? AND status = 'done'", [tenant_id]
    if since:
        where += " AND created_at >= ?"
        params.append(since)
    total, tickets, cost, auto, escalated, would, tokens_in, tokens_out, latency = db.conn.execute(
        f"SELECT COUNT(*), COUNT(DISTINCT ticket_id), COALESCE(SUM(cost_usd), 0),"
        f" COALESCE(SUM(outcome = 'auto_reply'), 0), COALESCE(SUM(escalated), 0),"
        f" COALESCE(SUM(would_automate), 0), COALESCE(SUM(input_tokens), 0),"
        f" COALESCE(SUM(output_tokens), 0),"
        f" AVG(latency_ms) FROM decisions WHERE {where}",
        params,
    ).fetchone()
    by_outcome = dict(
        db.conn.execute(
            f"SELECT outcome, COUNT(*) FROM decisions WHERE {where} GROUP BY outcome", params
        ).fetchall()
    )
    per_category = {}
    for cat, n, c_auto, c_esc, c_would, c_cost in db.conn.execute(
        f"SELECT category, COUNT(*), SUM(outcome = 'auto_reply'), SUM(escalated),"
        f" SUM(would_automate), SUM(cost_usd) FROM decisions WHERE {where}"
        f" GROUP BY category ORDER BY COUNT(*) DESC",
        params,
    ):
        per_category[cat] = {
            "processed": n,
            "automated": c_auto,
            "escalated": c_esc,
            "would_automate": c_would,
            "cost_usd": round(c_cost or 0.0, 6),
        }
    pol = policy.load(db, tenant_id, policy_file=policy_file)
    for status in golive.all_statuses(db, tenant_id, pol):
        entry = per_category.setdefault(
            status.category,
            {"processed": 0, "automated": 0, "escalated": 0, "would_automate": 0, "cost_usd": 0.0},
        )
        entry["agreement"] = status.agreement
        entry["feedback_tickets"] = status.tickets
        entry["go_live_ready"] = status.ready
        entry["mode"] = pol.category(status.category).mode
    used_hour, used_day = caps.usage(db, tenant_id)
    return {
        "tenant": tenant_id,
        "since": since,
        "processed": total,
        "tickets": tickets,
        "by_outcome": by_outcome,
        "automation_rate": (auto / total) if total else None,
        "escalation_rate": (escalated / total) if total else None,
        "would_automate_rate": (would / total) if total else None,
        "cost_usd_total": round(cost, 6),
        "cost_usd_per_ticket": round(cost / tickets, 6) if tickets else None,
        "tokens": {"input": tokens_in, "output": tokens_out},
        "avg_latency_ms": round(latency, 1) if latency is not None else None,
        "caps": {
            "used_hour": used_hour,
            "per_hour": pol.caps["auto_replies_per_hour"],
            "used_day": used_day,
            "per_day": pol.caps["auto_replies_per_day"],
        },
        "kill_switch": kill_switch_on(db, tenant_id),
        "categories": per_category,
    }


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
