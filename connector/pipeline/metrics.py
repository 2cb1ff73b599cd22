"""The one place the ledger's figures are computed: the dashboard, both metrics APIs
(``/admin/api/<t>/metrics``, ``/api/v1/tenants/<t>/metrics``), ``deskguard decisions metrics``
and the Prometheus ``/metrics`` all read ``figures``.

The definitions (also in docs/http-api.md):

- **window**: decisions whose ``created_at`` is at or after ``since`` (an ISO timestamp); ``None``
  is the whole ledger. ``/metrics`` always reads the whole ledger.
- **decisions**: every decision recorded in the window, whatever became of it; ``by_status`` and
  ``by_outcome`` split them (the outcome is what the policy decided).
- **processed**: decisions that finished (``status = 'done'``): the denominator of every rate.
- **automated**: processed decisions with the outcome ``auto_reply`` (Deskguard answered the
  customer itself).
- **escalated**: processed decisions with the outcome ``escalate`` or the ``escalated`` flag (an
  assist note that raised the priority).
- **cost, tokens, tickets**: over every decision in the window (a failed decision still paid for
  its classification).
- **assisted**: processed decisions with the outcome ``assist_note`` (an internal note with the
  reading, context and a suggested reply for the agent).
- **time saved**: an estimate, not a measurement: ``automated × minutes_per_auto_reply +
  assisted × minutes_per_assist_note``. The minutes are the tenant settings
  ``minutes_saved_per_auto_reply`` and ``minutes_saved_per_assist_note``; without them the
  defaults below (4 and 1.5 minutes; docs/panel-and-dashboard.md says where they come from).
- **reliability**: agents' verdicts given in the window (as ``agreement`` counts them), split by
  the confidence the reading stated, in ten bins of 0.1 (the last includes 1.0): per bin the
  verdicts, how many said "right", the agreement and its 95 % Wilson interval. A well-calibrated
  classifier's agreement sits near the bin's confidence.
- **series** (the dashboard's trends): the same counts per period of ``size`` UTC days from a
  first day; a period's cost per ticket divides its cost by the tickets with a decision in it.
- **vendor writes**: the ``actions`` table (every write to Zendesk, Shopify, Stripe): rows by
  state, ``attempts`` summed (each attempt is one send or reconcile), and ``errors``: the
  ``action.failed`` audit events (every failed attempt, retried or not). Vendor reads (loading a
  ticket, looking up orders and payments) and LLM calls are not recorded per call, so they are not
  counted here; LLM use shows as tokens and cost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import sqlite_utils

from connector import tenants
from connector.pipeline import caps, golive, policy
from connector.pipeline.context import ASSIST_NOTE, AUTO_REPLY, ESCALATE
from connector.stats import wilson_lower_bound

if TYPE_CHECKING:
    from connector.queue import Queue

NO_CATEGORY = "(none)"
RATE_DIGITS = 4
COST_DIGITS = 6
MINUTES_DIGITS = 1

# Time saved per ticket handled, in agent minutes (tenant settings; the defaults and their
# sources are in docs/panel-and-dashboard.md, "Time saved").
MINUTES_PER_AUTO_REPLY_SETTING = "minutes_saved_per_auto_reply"
MINUTES_PER_ASSIST_NOTE_SETTING = "minutes_saved_per_assist_note"
DEFAULT_MINUTES_PER_AUTO_REPLY = 4.0
DEFAULT_MINUTES_PER_ASSIST_NOTE = 1.5
TIME_SAVED_FORMULA = "automated × minutes_per_auto_reply + assisted × minutes_per_assist_note"
RELIABILITY_BINS = 10
DAILY_KEYS = ("date", "decisions", "processed", "automated", "escalated", "automation_rate")

# 1 for a feedback row saying Deskguard was right (a number on both engines: PostgreSQL sums no
# booleans).
_RIGHT = "CASE WHEN f.verdict = 'right' THEN 1 ELSE 0 END"

# One row per (day, category, outcome, status): everything the figures need, in one pass.
_GROUPS_SQL = (
    "SELECT {day} category, outcome, status, COUNT(*), COALESCE(SUM(escalated), 0),"
    " COALESCE(SUM(would_automate), 0), COALESCE(SUM(cost_usd), 0),"
    " COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0),"
    " COALESCE(SUM(latency_ms), 0), COUNT(latency_ms)"
    " FROM decisions WHERE {where} GROUP BY {group}"
)


@dataclass
class Tally:
    """Counts of one slice of decisions (a tenant, a category, a day) under the definitions
    above."""

    decisions: int = 0
    processed: int = 0
    automated: int = 0
    escalated: int = 0
    assisted: int = 0
    would_automate: int = 0
    cost_usd: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    latency_ms: float = 0.0
    latency_n: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    by_outcome: dict[str, int] = field(default_factory=dict)

    def add(self, outcome: str, status: str, values: tuple[Any, ...]) -> None:
        n, flagged, would, cost, tokens_in, tokens_out, latency, latency_n = values
        self.decisions += n
        self.by_status[status] = self.by_status.get(status, 0) + n
        self.by_outcome[outcome] = self.by_outcome.get(outcome, 0) + n
        self.cost_usd += cost
        self.input_tokens += tokens_in
        self.output_tokens += tokens_out
        if status != "done":
            return
        self.processed += n
        self.would_automate += would
        self.automated += n if outcome == AUTO_REPLY else 0
        self.assisted += n if outcome == ASSIST_NOTE else 0
        self.escalated += n if outcome == ESCALATE else flagged
        self.latency_ms += latency
        self.latency_n += latency_n

    def rate(self, count: int) -> float | None:
        return round(count / self.processed, RATE_DIGITS) if self.processed else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "decisions": self.decisions,
            "processed": self.processed,
            "automated": self.automated,
            "escalated": self.escalated,
            "assisted": self.assisted,
            "would_automate": self.would_automate,
            "failed": self.by_status.get("failed", 0),
            "automation_rate": self.rate(self.automated),
            "escalation_rate": self.rate(self.escalated),
            "would_automate_rate": self.rate(self.would_automate),
            "cost_usd": round(self.cost_usd, COST_DIGITS),
            "tokens": {"input": self.input_tokens, "output": self.output_tokens},
            "by_outcome": dict(sorted(self.by_outcome.items())),
        }


def _where(tenant_id: str, since: str | None) -> tuple[str, list[str]]:
    if since:
        return "tenant_id = ? AND created_at >= ?", [tenant_id, since]
    return "tenant_id = ?", [tenant_id]


def tallies(
    db: sqlite_utils.Database, tenant_id: str, since: str | None
) -> tuple[Tally, dict[str, Tally]]:
    """The tenant's tally and one per category, from one grouped query."""
    where, params = _where(tenant_id, since)
    sql = _GROUPS_SQL.format(day="", where=where, group="category, outcome, status")
    total, per_category = Tally(), dict[str, Tally]()
    for category, outcome, status, *values in db.conn.execute(sql, params):
        total.add(outcome, status, tuple(values))
        per_category.setdefault(category or NO_CATEGORY, Tally()).add(
            outcome, status, tuple(values)
        )
    return total, per_category


def figures(
    db: sqlite_utils.Database,
    tenant_id: str,
    *,
    since: str | None = None,
    policy_file: str | None = None,
    queue: Queue | None = None,
    go_live: bool = True,
) -> dict[str, Any]:
    """Every figure of one tenant over the window (see the module docstring for definitions).
    ``go_live=False`` leaves out each category's go-live gate (``/metrics`` does not show it)."""
    total, per_category = tallies(db, tenant_id, since)
    where, params = _where(tenant_id, since)
    tickets = int(
        db.conn.execute(
            f"SELECT COUNT(DISTINCT ticket_id) FROM decisions WHERE {where}", params
        ).fetchone()[0]
    )
    pol = policy.load(db, tenant_id, policy_file=policy_file)
    used_hour, used_day = caps.usage(db, tenant_id)
    out: dict[str, Any] = {
        "tenant": tenant_id,
        "since": since,
        **total.as_dict(),
        "tickets": tickets,
        "by_status": dict(sorted(total.by_status.items())),
        "by_outcome": dict(sorted(total.by_outcome.items())),
        "cost_usd_total": round(total.cost_usd, COST_DIGITS),
        "cost_usd_per_ticket": round(total.cost_usd / tickets, COST_DIGITS) if tickets else None,
        "avg_latency_ms": (
            round(total.latency_ms / total.latency_n, 1) if total.latency_n else None
        ),
        "caps": {
            "used_hour": used_hour,
            "per_hour": pol.caps["auto_replies_per_hour"],
            "used_day": used_day,
            "per_day": pol.caps["auto_replies_per_day"],
        },
        "kill_switch": tenants.kill_switch_on(db, tenant_id),
        "categories": _categories(db, tenant_id, per_category, pol if go_live else None),
        "agreement": agreement(db, tenant_id, since),
        "reliability": reliability(db, tenant_id, since),
        "time_saved": time_saved(minutes_saved(db, tenant_id), total.automated, total.assisted),
        "vendors": vendor_writes(db, tenant_id, since),
    }
    del out["cost_usd"]  # named cost_usd_total at this level
    if queue is not None:
        out["queue"] = queue.status(tenant_id)
    return out


def _categories(
    db: sqlite_utils.Database,
    tenant_id: str,
    per_category: dict[str, Tally],
    pol: policy.Policy | None,
) -> dict[str, dict[str, Any]]:
    """Per category: its tally, its mode and its go-live gate (agents' agreement over the whole
    ledger, as the gate counts it)."""
    ordered = sorted(per_category.items(), key=lambda kv: (-kv[1].decisions, kv[0]))
    out = {cat: tally.as_dict() for cat, tally in ordered}
    if pol is None:
        return out
    for status in golive.all_statuses(db, tenant_id, pol):
        entry = out.setdefault(status.category, Tally().as_dict())
        entry["agreement"] = status.agreement
        entry["feedback_tickets"] = status.tickets
        entry["go_live_ready"] = status.ready
        entry["mode"] = pol.category(status.category).mode
    return out


def agreement(db: sqlite_utils.Database, tenant_id: str, since: str | None) -> list[dict[str, Any]]:
    """Per predicted category: how often agents said Deskguard was right, counting the feedback
    given in the window."""
    sql = (
        f"SELECT d.category, COUNT(*), SUM({_RIGHT}) FROM feedback f"
        " JOIN decisions d ON d.id = f.decision_id AND d.tenant_id = f.tenant_id"
        " WHERE f.tenant_id = ?"
    )
    params = [tenant_id]
    if since:
        sql += " AND f.created_at >= ?"
        params.append(since)
    rows = db.conn.execute(sql + " GROUP BY d.category ORDER BY COUNT(*) DESC, 1", params)
    return [
        {
            "category": c or NO_CATEGORY,
            "judged": n,
            "right": r or 0,
            "agreement": round((r or 0) / n, RATE_DIGITS),
        }
        for c, n, r in rows
    ]


def vendor_writes(
    db: sqlite_utils.Database, tenant_id: str, since: str | None
) -> dict[str, dict[str, Any]]:
    """Per vendor: writes by state, attempts (sends and reconciles) and failed attempts."""
    out: dict[str, dict[str, Any]] = {}

    def entry(vendor: str) -> dict[str, Any]:
        return out.setdefault(vendor, {"writes": {}, "attempts": 0, "errors": 0})

    where, params = _where(tenant_id, since)
    for vendor, state, n, attempts in db.conn.execute(
        f"SELECT vendor, state, COUNT(*), COALESCE(SUM(attempts), 0) FROM actions WHERE {where}"
        " GROUP BY vendor, state",
        params,
    ):
        e = entry(vendor)
        e["writes"][state] = n
        e["attempts"] += attempts
    sql = (
        "SELECT COALESCE(json_extract(data, '$.vendor'), 'unknown'), COUNT(*) FROM audit_log"
        " WHERE tenant_id = ? AND kind = 'action.failed'"
    )
    audit_params = [tenant_id]
    if since:
        sql += " AND ts >= ?"
        audit_params.append(since)
    for vendor, n in db.conn.execute(sql + " GROUP BY 1", audit_params):
        entry(vendor)["errors"] = n
    return dict(sorted(out.items()))


@dataclass(frozen=True)
class MinutesSaved:
    """Agent minutes one automated reply and one assist note save, and where each came from."""

    per_auto_reply: float
    per_assist_note: float
    source: dict[str, str]


def _minutes_setting(
    db: sqlite_utils.Database, tenant_id: str, name: str, default: float
) -> tuple[float, str]:
    value = tenants.get_setting(db, tenant_id, name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 600:
        # Unset (or not a number of minutes from 0 to 600): the documented default.
        return default, "default"
    return float(value), "tenant setting"


def minutes_saved(db: sqlite_utils.Database, tenant_id: str) -> MinutesSaved:
    """The tenant's minutes per automated reply and per assist note (settings, else defaults)."""
    auto, auto_from = _minutes_setting(
        db, tenant_id, MINUTES_PER_AUTO_REPLY_SETTING, DEFAULT_MINUTES_PER_AUTO_REPLY
    )
    note, note_from = _minutes_setting(
        db, tenant_id, MINUTES_PER_ASSIST_NOTE_SETTING, DEFAULT_MINUTES_PER_ASSIST_NOTE
    )
    return MinutesSaved(
        auto,
        note,
        {MINUTES_PER_AUTO_REPLY_SETTING: auto_from, MINUTES_PER_ASSIST_NOTE_SETTING: note_from},
    )


def saved_minutes(rates: MinutesSaved, automated: int, assisted: int) -> float:
    return round(automated * rates.per_auto_reply + assisted * rates.per_assist_note, 4)


def time_saved(rates: MinutesSaved, automated: int, assisted: int) -> dict[str, Any]:
    """The estimate with its inputs, so a reader can redo the sum."""
    minutes = saved_minutes(rates, automated, assisted)
    return {
        "automated": automated,
        "assisted": assisted,
        "minutes_per_auto_reply": rates.per_auto_reply,
        "minutes_per_assist_note": rates.per_assist_note,
        "source": rates.source,
        "formula": TIME_SAVED_FORMULA,
        "minutes": round(minutes, MINUTES_DIGITS),
        "hours": round(minutes / 60, 2),
    }


def _wilson_upper(right: int, judged: int) -> float | None:
    """The Wilson interval is symmetric in right and wrong: upper(r, n) = 1 - lower(n - r, n)."""
    lower_of_wrong = wilson_lower_bound(judged - right, judged)
    return None if lower_of_wrong is None else 1 - lower_of_wrong


def reliability(
    db: sqlite_utils.Database, tenant_id: str, since: str | None
) -> list[dict[str, Any]]:
    """Stated confidence against agents' verdicts (the feedback ``agreement`` counts), in
    ``RELIABILITY_BINS`` bins of equal width; readings without a confidence are left out."""
    sql = (
        f"SELECT d.confidence, {_RIGHT} FROM feedback f"
        " JOIN decisions d ON d.id = f.decision_id AND d.tenant_id = f.tenant_id"
        " WHERE f.tenant_id = ? AND d.confidence IS NOT NULL"
    )
    params = [tenant_id]
    if since:
        sql += " AND f.created_at >= ?"
        params.append(since)
    judged = [0] * RELIABILITY_BINS
    right = [0] * RELIABILITY_BINS
    stated = [0.0] * RELIABILITY_BINS
    for confidence, agreed in db.conn.execute(sql, params):
        value = min(max(float(confidence), 0.0), 1.0)
        # round() first: 0.7 * 10 must land in bin 7, not 6 by a floating-point hair.
        i = min(int(round(value * RELIABILITY_BINS, 9)), RELIABILITY_BINS - 1)
        judged[i] += 1
        right[i] += int(bool(agreed))
        stated[i] += value
    out = []
    for i in range(RELIABILITY_BINS):
        n, r = judged[i], right[i]
        lower = wilson_lower_bound(r, n)
        upper = _wilson_upper(r, n)
        out.append(
            {
                "low": round(i / RELIABILITY_BINS, 2),
                "high": round((i + 1) / RELIABILITY_BINS, 2),
                "judged": n,
                "right": r,
                "agreement": round(r / n, RATE_DIGITS) if n else None,
                "mean_confidence": round(stated[i] / n, RATE_DIGITS) if n else None,
                "agreement_low": None if lower is None else round(lower, RATE_DIGITS),
                "agreement_high": None if upper is None else round(upper, RATE_DIGITS),
            }
        )
    return out


# The period (0, 1, ...) of a row: whole UTC days since the first day, divided by the period
# length. Bound as (first_day, size) before the WHERE clause's parameters.
_PERIOD = "CAST(julianday(substr({column}, 1, 10)) - julianday(?) AS INTEGER) / ?"
_PERIOD_TALLY_SQL = _GROUPS_SQL.format(
    day=_PERIOD.format(column="created_at") + ",",
    where="tenant_id = ? AND created_at >= ?",
    group="1, category, outcome, status",
)
_PERIOD_TICKETS_SQL = (
    f"SELECT {_PERIOD.format(column='created_at')}, COUNT(DISTINCT ticket_id) FROM decisions"
    " WHERE tenant_id = ? AND created_at >= ? GROUP BY 1"
)
_PERIOD_FEEDBACK_SQL = (
    f"SELECT {_PERIOD.format(column='f.created_at')}, d.category, COUNT(*),"
    f" SUM({_RIGHT}) FROM feedback f"
    " JOIN decisions d ON d.id = f.decision_id AND d.tenant_id = f.tenant_id"
    " WHERE f.tenant_id = ? AND f.created_at >= ? GROUP BY 1, 2"
)


def series(
    db: sqlite_utils.Database, tenant_id: str, first_day: str, days: int, size: int = 1
) -> list[dict[str, Any]]:
    """The window's figures per period of ``size`` days from ``first_day`` (the last period may
    be shorter); periods without decisions are included, as zeros."""
    if size < 1 or days < 1:
        raise ValueError("days and size must be at least 1")
    start = date.fromisoformat(first_day)
    count = -(-days // size)
    params = (first_day, size, tenant_id, first_day)
    found: dict[int, Tally] = {}
    by_category: dict[int, dict[str, int]] = {}
    for period, category, outcome, status, *values in db.conn.execute(_PERIOD_TALLY_SQL, params):
        found.setdefault(period, Tally()).add(outcome, status, tuple(values))
        cats = by_category.setdefault(period, {})
        name = category or NO_CATEGORY
        cats[name] = cats.get(name, 0) + values[0]
    tickets = dict(db.conn.execute(_PERIOD_TICKETS_SQL, params).fetchall())
    feedback: dict[int, dict[str, dict[str, Any]]] = {}
    for period, category, n, r in db.conn.execute(_PERIOD_FEEDBACK_SQL, params):
        feedback.setdefault(period, {})[category or NO_CATEGORY] = {
            "judged": n,
            "right": r or 0,
            "agreement": round((r or 0) / n, RATE_DIGITS),
        }
    rates = minutes_saved(db, tenant_id)
    out = []
    for i in range(count):
        t, first = found.get(i, Tally()), start + timedelta(days=i * size)
        n_tickets = int(tickets.get(i, 0))
        out.append(
            {
                "date": first.isoformat(),
                "last_date": (first + timedelta(days=min(size, days - i * size) - 1)).isoformat(),
                "decisions": t.decisions,
                "processed": t.processed,
                "automated": t.automated,
                "assisted": t.assisted,
                "escalated": t.escalated,
                "automation_rate": t.rate(t.automated),
                "escalation_rate": t.rate(t.escalated),
                "by_outcome": dict(sorted(t.by_outcome.items())),
                "by_category": dict(sorted(by_category.get(i, {}).items())),
                "tickets": n_tickets,
                "cost_usd": round(t.cost_usd, COST_DIGITS),
                "cost_usd_per_ticket": (
                    round(t.cost_usd / n_tickets, COST_DIGITS) if n_tickets else None
                ),
                "time_saved_minutes": round(
                    saved_minutes(rates, t.automated, t.assisted), MINUTES_DIGITS
                ),
                "agreement": dict(sorted(feedback.get(i, {}).items())),
            }
        )
    return out


def daily(
    db: sqlite_utils.Database, tenant_id: str, first_day: str, days: int
) -> list[dict[str, Any]]:
    """One row per UTC day from ``first_day`` (days without decisions included, as zeros), with
    the keys the dashboard's API has always answered with (``series`` has the rest)."""
    return [{k: row[k] for k in DAILY_KEYS} for row in series(db, tenant_id, first_day, days)]
