"""Figures for the /admin dashboard, read from the ledger for one tenant.

Every figure comes from ``connector/pipeline/metrics.py`` (``figures``), which the pipeline's
API and ``/metrics`` read too; the definitions are written there and in docs/http-api.md. This
module adds the dashboard's window in days, its day-by-day series, its trend periods (days up to
``DAILY_UP_TO`` days, weeks beyond) and the older key names the dashboard's API has always
answered with.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from connector import audit, tenants
from connector.errors import BadRequest
from connector.pipeline import metrics as pipeline_metrics

if TYPE_CHECKING:
    from connector.runtime import Runtime

MAX_DAYS = 366
DAILY_UP_TO = 31  # longer windows are shown per week: a bar per day gets too thin to read
# Agents judge a few tickets a day per category: from two weeks on, agreement is shown per week.
AGREEMENT_WEEKLY_FROM = 14


def since_day(days: int) -> str:
    """The first UTC day of a window of ``days`` days ending today."""
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
    since = since_day(days)
    data = pipeline_metrics.figures(
        db,
        tenant_id,
        since=since,
        policy_file=runtime.config.get("policy_file") or None,
        queue=runtime.queue,
    )
    caps = data["caps"]
    period_days = period_length(days)
    periods = pipeline_metrics.series(db, tenant_id, since, days, size=period_days)
    reuse_periods = period_days == 7 or days < AGREEMENT_WEEKLY_FROM
    return {
        **data,
        "days": days,
        "mode": tenants.get_setting(db, tenant_id, "mode"),
        "daily": pipeline_metrics.daily(db, tenant_id, since, days),
        "period_days": period_days,
        "periods": periods,
        # agreement per category: per week from two weeks on (a day holds too few verdicts)
        "agreement_periods": (
            periods
            if reuse_periods
            else pipeline_metrics.series(db, tenant_id, since, days, size=7)
        ),
        # The names this API answered with before the figures were defined in one place.
        "tickets_processed": data["tickets"],
        "cost_total_usd": data["cost_usd_total"],
        "cost_per_ticket_usd": data["cost_usd_per_ticket"],
        "outcomes": data["by_outcome"],
        "caps": [
            {
                "bucket": "auto_reply",
                "last_hour": caps["used_hour"],
                "last_day": caps["used_day"],
                "hour_limit": caps["per_hour"],
                "day_limit": caps["per_day"],
            }
        ],
        "go_live": {
            cat: {
                "mode": v.get("mode"),
                "ready": v.get("go_live_ready"),
                "agreement": v.get("agreement"),
                "feedback_tickets": v.get("feedback_tickets"),
            }
            for cat, v in data["categories"].items()
            if "go_live_ready" in v
        },
    }


def period_length(days: int) -> int:
    """Days per trend period: one for windows up to a month, a week beyond."""
    return 1 if days <= DAILY_UP_TO else 7


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
