"""Figures for the /admin dashboard, read from the ledger for one tenant.

Outcomes are the pipeline's ``decisions.outcome`` values. An outcome counts as *automated* when
Deskguard answered the customer itself (``auto_*``) and as *escalated* when it handed the
ticket to people with a flag (``escalat*``); everything else (assist notes, shadow, skips) is
neither. Rates are over decisions that finished (``status = 'done'``).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from connector import audit, tenants
from connector.errors import BadRequest
from connector.pipeline import decisions

if TYPE_CHECKING:
    from connector.runtime import Runtime

AUTOMATED = "outcome LIKE 'auto%'"
ESCALATED = "outcome LIKE 'escalat%'"
MAX_DAYS = 366


def _escalated_sql(db) -> str:
    """The pipeline (m004) flags escalations in their own column, also on assist notes that
    raised priority; use it when the ledger has it."""
    names = {r[1] for r in db.conn.execute("PRAGMA table_info(decisions)")}
    return f"({ESCALATED} OR escalated = 1)" if "escalated" in names else ESCALATED


def _since_iso(days: int) -> str:
    start = datetime.now(UTC).date() - timedelta(days=days - 1)
    return start.isoformat()


def parse_day(text: str | None, name: str) -> str | None:
    return _iso_day(text, name) if text else None


def _iso_day(text: str, name: str) -> str:
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise BadRequest(f"{name} must be a date like 2024-05-31") from None


def summary(runtime: Runtime, tenant_id: str, *, days: int = 14) -> dict[str, Any]:
    if not 1 <= days <= MAX_DAYS:
        raise BadRequest(f"days must be between 1 and {MAX_DAYS}")
    db = runtime.db
    since = _since_iso(days)
    q = db.conn.execute
    escalated_sql = _escalated_sql(db)
    total, tickets, automated, escalated, cost, failed = q(
        f"SELECT COUNT(*), COUNT(DISTINCT ticket_id), SUM({AUTOMATED}), SUM({escalated_sql}),"
        " COALESCE(SUM(cost_usd), 0), SUM(status = 'failed')"
        " FROM decisions WHERE tenant_id = ? AND created_at >= ?",
        (tenant_id, since),
    ).fetchone()
    done = q(
        "SELECT COUNT(*) FROM decisions"
        " WHERE tenant_id = ? AND created_at >= ? AND status = 'done'",
        (tenant_id, since),
    ).fetchone()[0]
    automated, escalated, failed = automated or 0, escalated or 0, failed or 0
    outcomes = dict(
        q(
            "SELECT outcome, COUNT(*) FROM decisions WHERE tenant_id = ? AND created_at >= ?"
            " GROUP BY outcome ORDER BY COUNT(*) DESC",
            (tenant_id, since),
        ).fetchall()
    )
    data = {
        "tenant": tenant_id,
        "days": days,
        "since": since,
        "decisions": total,
        "tickets_processed": tickets,
        "failed": failed,
        "automated": automated,
        "escalated": escalated,
        "automation_rate": round(automated / done, 4) if done else None,
        "escalation_rate": round(escalated / done, 4) if done else None,
        "cost_total_usd": round(cost, 6),
        "cost_per_ticket_usd": round(cost / tickets, 6) if tickets else None,
        "outcomes": outcomes,
        "agreement": agreement(runtime, tenant_id, since),
        "caps": caps(runtime, tenant_id),
        "kill_switch": tenants.kill_switch_on(db, tenant_id),
        "mode": tenants.get_setting(db, tenant_id, "mode"),
        "queue": runtime.queue.status(tenant_id),
        "daily": daily(runtime, tenant_id, days),
        "go_live": {},
    }
    # The decision pipeline owns the caps' limits and the go-live gate: show its figures.
    pm = decisions.metrics(
        db, tenant_id, since=since, policy_file=runtime.config.get("policy_file") or None
    )
    c = pm["caps"]
    data["caps"] = [
        {
            "bucket": "auto_reply",
            "last_hour": c["used_hour"],
            "last_day": c["used_day"],
            "hour_limit": c["per_hour"],
            "day_limit": c["per_day"],
        }
    ]
    data["go_live"] = {
        cat: {
            "mode": v.get("mode"),
            "ready": v.get("go_live_ready"),
            "agreement": v.get("agreement"),
            "feedback_tickets": v.get("feedback_tickets"),
        }
        for cat, v in pm["categories"].items()
        if "go_live_ready" in v
    }
    return data


def agreement(runtime: Runtime, tenant_id: str, since: str) -> list[dict[str, Any]]:
    """Per predicted category: how often agents said Deskguard was right."""
    rows = runtime.db.conn.execute(
        "SELECT d.category, COUNT(*), SUM(f.verdict = 'right') FROM feedback f"
        " JOIN decisions d ON d.id = f.decision_id AND d.tenant_id = f.tenant_id"
        " WHERE f.tenant_id = ? AND f.created_at >= ? GROUP BY d.category ORDER BY COUNT(*) DESC",
        (tenant_id, since),
    ).fetchall()
    return [
        {
            "category": c or "(none)",
            "judged": n,
            "right": r or 0,
            "agreement": round((r or 0) / n, 4),
        }
        for c, n, r in rows
    ]


def caps(runtime: Runtime, tenant_id: str) -> list[dict[str, Any]]:
    """Automated actions counted against the caps in the last hour and day, per bucket.

    Limits are the pipeline's tenant settings named ``<bucket>_per_hour`` / ``<bucket>_per_day``
    when it defines them."""
    import time

    now = time.time()
    rows = runtime.db.conn.execute(
        "SELECT bucket, SUM(ts >= ?), SUM(ts >= ?) FROM rate_ledger WHERE tenant_id = ? AND ts >= ?"
        " GROUP BY bucket ORDER BY bucket",
        (now - 3600, now - 86400, tenant_id, now - 86400),
    ).fetchall()
    out = []
    settings = tenants.all_settings(runtime.db, tenant_id)
    for bucket, hour, day in rows:
        out.append(
            {
                "bucket": bucket,
                "last_hour": hour or 0,
                "last_day": day or 0,
                "hour_limit": settings.get(f"{bucket}_per_hour"),
                "day_limit": settings.get(f"{bucket}_per_day"),
            }
        )
    return out


def daily(runtime: Runtime, tenant_id: str, days: int) -> list[dict[str, Any]]:
    """One row per day of the window (days without decisions included, as zeros)."""
    since = _since_iso(days)
    found = {
        r[0]: r[1:]
        for r in runtime.db.conn.execute(
            f"SELECT substr(created_at, 1, 10), COUNT(*), SUM({AUTOMATED}),"
            f" SUM({_escalated_sql(runtime.db)}),"
            " SUM(status = 'done')"
            " FROM decisions WHERE tenant_id = ? AND created_at >= ? GROUP BY 1",
            (tenant_id, since),
        )
    }
    start = date.fromisoformat(since)
    out = []
    for i in range(days):
        day = (start + timedelta(days=i)).isoformat()
        total, auto, esc, done = found.get(day, (0, 0, 0, 0))
        out.append(
            {
                "date": day,
                "decisions": total,
                "automated": auto or 0,
                "escalated": esc or 0,
                "automation_rate": round((auto or 0) / done, 4) if done else None,
            }
        )
    return out


def filter_options(runtime: Runtime, tenant_id: str) -> dict[str, list[str]]:
    q = runtime.db.conn.execute
    return {
        "categories": [
            r[0]
            for r in q(
                "SELECT DISTINCT category FROM decisions WHERE tenant_id = ?"
                " AND category IS NOT NULL ORDER BY 1",
                (tenant_id,),
            )
        ],
        "outcomes": [
            r[0]
            for r in q(
                "SELECT DISTINCT outcome FROM decisions WHERE tenant_id = ? ORDER BY 1",
                (tenant_id,),
            )
        ],
    }


def recent_decisions(
    runtime: Runtime,
    tenant_id: str,
    *,
    category: str | None = None,
    outcome: str | None = None,
    since: str | None = None,
    until: str | None = None,
    ticket_id: int | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    where = ["tenant_id = ?"]
    params: list[str | int] = [tenant_id]
    if category:
        where.append("category = ?")
        params.append(category)
    if outcome:
        where.append("outcome = ?")
        params.append(outcome)
    if since:
        where.append("created_at >= ?")
        params.append(_iso_day(since, "from"))
    if until:
        where.append("created_at < ?")
        params.append((date.fromisoformat(_iso_day(until, "to")) + timedelta(days=1)).isoformat())
    if ticket_id is not None:
        where.append("ticket_id = ?")
        params.append(ticket_id)
    limit = max(1, min(int(limit), 500))
    cols = (
        "id",
        "ticket_id",
        "created_at",
        "category",
        "confidence",
        "mode",
        "outcome",
        "rule",
        "reason",
        "engine",
        "cost_usd",
        "latency_ms",
        "status",
    )
    rows = runtime.db.conn.execute(
        f"SELECT {', '.join(cols)} FROM decisions WHERE {' AND '.join(where)}"
        f" ORDER BY id DESC LIMIT {limit}",
        params,
    )
    return [dict(zip(cols, r, strict=True)) for r in rows]


def ticket_trail(runtime: Runtime, tenant_id: str, ticket_id: int) -> dict[str, Any]:
    """Everything recorded about one ticket: decisions, vendor actions, feedback, audit events."""
    from connector.panel.ticket_view import DECISION_COLUMNS, decision_row

    db = runtime.db
    decisions = [
        decision_row(r)
        for r in db.conn.execute(
            f"SELECT {', '.join(DECISION_COLUMNS)} FROM decisions"
            " WHERE tenant_id = ? AND ticket_id = ? ORDER BY id",
            (tenant_id, ticket_id),
        )
    ]
    action_cols = (
        "id",
        "idempotency_key",
        "vendor",
        "kind",
        "state",
        "attempts",
        "params",
        "result",
        "error",
        "created_at",
        "updated_at",
    )
    actions = []
    for r in db.conn.execute(
        f"SELECT {', '.join(action_cols)} FROM actions WHERE tenant_id = ? AND ticket_id = ?"
        " ORDER BY id",
        (tenant_id, ticket_id),
    ):
        row = dict(zip(action_cols, r, strict=True))
        for key in ("params", "result"):
            try:
                row[key] = json.loads(row[key]) if row[key] else None
            except ValueError:
                pass
        actions.append(row)
    fb_cols = (
        "id",
        "decision_id",
        "agent_id",
        "verdict",
        "correct_category",
        "source",
        "created_at",
    )
    feedback = [
        dict(zip(fb_cols, r, strict=True))
        for r in db.conn.execute(
            f"SELECT {', '.join(fb_cols)} FROM feedback"
            " WHERE tenant_id = ? AND ticket_id = ? ORDER BY id",
            (tenant_id, ticket_id),
        )
    ]
    events = list(audit.rows(db, tenant_id=tenant_id, ticket_id=ticket_id))
    return {
        "tenant": tenant_id,
        "ticket_id": ticket_id,
        "decisions": decisions,
        "actions": actions,
        "feedback": feedback,
        "audit": events,
    }
