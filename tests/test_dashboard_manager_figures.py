"""The manager's figures on a ledger whose answers are counted by hand: per-category automation
and escalation rates, the reliability bins (stated confidence against agents' verdicts), the time
saved estimate and its settings, cost per ticket, and the per-period series; then the dashboard
page shows those numbers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from panel_support import TENANT, add_decision

from connector import tenants
from connector.dashboard import charts
from connector.dashboard import metrics as dashboard_metrics
from connector.panel.auth import Agent
from connector.panel.ticket_view import record_feedback
from connector.pipeline import metrics

BEARER = {"Authorization": "Bearer test-admin-token"}


def day(offset: int, hour: int = 10) -> str:
    d = datetime.now(UTC).replace(hour=hour, minute=0, second=0, microsecond=0)
    return (d - timedelta(days=offset)).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class Row:
    ticket: int
    days_ago: int
    category: str
    outcome: str
    confidence: float
    cost_usd: float
    status: str = "done"
    escalated: bool = False
    verdict: str | None = None  # an agent's verdict, given on the decision's day


LEDGER = (
    Row(1, 0, "order_status", "auto_reply", 0.95, 0.002, verdict="right"),
    Row(2, 0, "order_status", "auto_reply", 0.92, 0.002, verdict="right"),
    Row(3, 1, "order_status", "auto_reply", 0.91, 0.002, verdict="wrong"),
    Row(4, 1, "refund", "assist_note", 0.75, 0.004, verdict="right"),
    Row(5, 3, "refund", "assist_note", 0.72, 0.004, escalated=True, verdict="wrong"),
    Row(6, 3, "complaint_feedback", "escalate", 0.55, 0.003, verdict="right"),
    Row(7, 10, "product_question", "shadow", 0.65, 0.001),
    Row(8, 10, "refund", "assist_note", 0.70, 0.001, status="failed"),
    Row(9, 20, "order_status", "auto_reply", 0.99, 0.002),  # outside a 14-day window
)


def build_manager_ledger(db) -> None:
    """LEDGER in the ledger, with each verdict recorded as the side panel records it and dated
    on the decision's day."""
    agent = Agent(TENANT, id="501", name="Ana Agent", verified=True)
    for r in LEDGER:
        decision_id = add_decision(
            db,
            TENANT,
            r.ticket,
            category=r.category,
            confidence=r.confidence,
            outcome=r.outcome,
            mode="auto" if r.outcome == "auto_reply" else "assist",
            status=r.status,
            cost_usd=r.cost_usd,
            created_at=day(r.days_ago),
        )
        db.conn.execute(
            "UPDATE decisions SET escalated = ? WHERE id = ?", (int(r.escalated), decision_id)
        )
        db.conn.commit()
        if r.verdict:
            wrong = {"correct_category": "other"} if r.verdict == "wrong" else {}
            record_feedback(db, agent, r.ticket, {"verdict": r.verdict, **wrong})
            db.conn.execute(
                "UPDATE feedback SET created_at = ? WHERE decision_id = ?",
                (day(r.days_ago, 12), decision_id),
            )
    db.conn.commit()


@pytest.fixture
def ledger(runtime):
    build_manager_ledger(runtime.db)
    return runtime


def first_day(days: int) -> str:
    return dashboard_metrics.since_day(days)


# --- the figures --------------------------------------------------------------------------------
def test_per_category_rates_and_totals(ledger):
    m = metrics.figures(ledger.db, TENANT, since=first_day(14))
    assert (m["decisions"], m["processed"], m["tickets"]) == (8, 7, 8)
    assert (m["automated"], m["assisted"], m["escalated"]) == (3, 2, 2)
    assert m["automation_rate"] == round(3 / 7, 4) and m["escalation_rate"] == round(2 / 7, 4)
    cats = m["categories"]
    order, refund = cats["order_status"], cats["refund"]
    assert (order["processed"], order["automation_rate"], order["escalation_rate"]) == (3, 1.0, 0)
    # refund: ticket 8 failed, so two finished; ticket 5 raised the priority
    assert (refund["decisions"], refund["processed"], refund["assisted"]) == (3, 2, 2)
    assert (refund["automation_rate"], refund["escalation_rate"]) == (0.0, 0.5)
    assert cats["complaint_feedback"]["escalation_rate"] == 1.0
    assert cats["product_question"]["automation_rate"] == 0.0


def test_cost_per_ticket(ledger):
    m = metrics.figures(ledger.db, TENANT, since=first_day(14))
    assert m["cost_usd_total"] == pytest.approx(0.019)
    assert m["cost_usd_per_ticket"] == pytest.approx(0.019 / 8)
    whole = metrics.figures(ledger.db, TENANT)  # ticket 9 joins
    assert whole["cost_usd_per_ticket"] == pytest.approx(0.021 / 9, abs=1e-6)


def test_reliability_bins(ledger):
    bins = metrics.reliability(ledger.db, TENANT, first_day(14))
    assert [b["low"] for b in bins] == [i / 10 for i in range(10)]
    judged = {round(b["low"] * 10): b for b in bins if b["judged"]}
    assert sorted(judged) == [5, 7, 9]
    top = judged[9]  # 0.95 right, 0.92 right, 0.91 wrong
    assert (top["judged"], top["right"], top["agreement"]) == (3, 2, 0.6667)
    assert top["mean_confidence"] == pytest.approx((0.95 + 0.92 + 0.91) / 3, abs=1e-4)
    # the 95 % Wilson interval for 2 of 3, worked out by hand
    assert top["agreement_low"] == pytest.approx(0.2077, abs=1e-4)
    assert top["agreement_high"] == pytest.approx(0.9385, abs=1e-4)
    middle = judged[7]  # 0.75 right, 0.72 wrong
    assert (middle["judged"], middle["right"], middle["agreement"]) == (2, 1, 0.5)
    assert middle["agreement_low"] == pytest.approx(0.0945, abs=1e-4)
    assert (judged[5]["judged"], judged[5]["agreement"], judged[5]["agreement_high"]) == (1, 1, 1)
    empty = bins[0]
    assert empty["judged"] == 0 and empty["agreement"] is None and empty["agreement_low"] is None
    # the bins count the same verdicts as the agreement table
    assert sum(b["judged"] for b in bins) == sum(
        a["judged"] for a in metrics.agreement(ledger.db, TENANT, first_day(14))
    )


def test_reliability_bin_edges(runtime):
    agent = Agent(TENANT, id="501", name="Ana Agent", verified=True)
    for ticket, confidence in ((1, 0.7), (2, 1.0), (3, 0.0), (4, 0.6999)):
        add_decision(runtime.db, TENANT, ticket, confidence=confidence)
        record_feedback(runtime.db, agent, ticket, {"verdict": "right"})
    counts = [b["judged"] for b in metrics.reliability(runtime.db, TENANT, None)]
    assert counts == [1, 0, 0, 0, 0, 0, 1, 1, 0, 1]  # 0.7 in the 70 % bin, 1.0 in the last


def test_time_saved_defaults_and_tenant_settings(ledger):
    saved = metrics.figures(ledger.db, TENANT, since=first_day(14))["time_saved"]
    assert saved["minutes_per_auto_reply"] == metrics.DEFAULT_MINUTES_PER_AUTO_REPLY == 4.0
    assert saved["minutes_per_assist_note"] == metrics.DEFAULT_MINUTES_PER_ASSIST_NOTE == 1.5
    assert (saved["automated"], saved["assisted"]) == (3, 2)
    assert saved["minutes"] == 3 * 4.0 + 2 * 1.5 == 15.0 and saved["hours"] == 0.25
    assert set(saved["source"].values()) == {"default"}
    assert "automated × minutes_per_auto_reply" in saved["formula"]

    tenants.set_setting(
        ledger.db, TENANT, metrics.MINUTES_PER_AUTO_REPLY_SETTING, 5, actor="test", reason="AHT"
    )
    tenants.set_setting(
        ledger.db, TENANT, metrics.MINUTES_PER_ASSIST_NOTE_SETTING, 2.5, actor="test", reason="x"
    )
    saved = metrics.figures(ledger.db, TENANT, since=first_day(14))["time_saved"]
    assert saved["minutes"] == 3 * 5 + 2 * 2.5 == 20.0 and saved["hours"] == 0.33
    assert set(saved["source"].values()) == {"tenant setting"}


@pytest.mark.parametrize("bad", ["four", -1, 601, True, None])
def test_a_nonsense_minutes_setting_falls_back_to_the_default(runtime, bad):
    tenants.set_setting(
        runtime.db, TENANT, metrics.MINUTES_PER_AUTO_REPLY_SETTING, bad, actor="test"
    )
    rates = metrics.minutes_saved(runtime.db, TENANT)
    assert rates.per_auto_reply == metrics.DEFAULT_MINUTES_PER_AUTO_REPLY
    assert rates.source[metrics.MINUTES_PER_AUTO_REPLY_SETTING] == "default"


def test_daily_series(ledger):
    rows = metrics.series(ledger.db, TENANT, first_day(14), 14)
    assert len(rows) == 14 and rows[-1]["date"] == day(0)[:10]
    today, yesterday, three, ten = rows[13], rows[12], rows[10], rows[3]
    assert today["by_outcome"] == {"auto_reply": 2} and today["by_category"] == {"order_status": 2}
    assert (today["tickets"], today["cost_usd_per_ticket"], today["time_saved_minutes"]) == (
        2,
        0.002,
        8.0,
    )
    assert today["agreement"] == {"order_status": {"judged": 2, "right": 2, "agreement": 1.0}}
    assert yesterday["by_category"] == {"order_status": 1, "refund": 1}
    assert yesterday["time_saved_minutes"] == 5.5 and yesterday["cost_usd_per_ticket"] == 0.003
    assert yesterday["agreement"]["order_status"]["agreement"] == 0.0
    assert three["escalation_rate"] == 1.0 and three["by_outcome"] == {
        "assist_note": 1,
        "escalate": 1,
    }
    assert (ten["decisions"], ten["processed"], ten["cost_usd_per_ticket"]) == (2, 1, 0.001)
    empty = rows[0]
    assert empty["decisions"] == 0 and empty["cost_usd_per_ticket"] is None
    assert empty["automation_rate"] is None and empty["agreement"] == {}
    # the periods add up to the window's figures
    m = metrics.figures(ledger.db, TENANT, since=first_day(14))
    for key in ("decisions", "processed", "automated", "assisted", "escalated"):
        assert sum(r[key] for r in rows) == m[key], key
    assert sum(r["cost_usd"] for r in rows) == pytest.approx(m["cost_usd_total"])
    assert sum(r["time_saved_minutes"] for r in rows) == m["time_saved"]["minutes"]
    # the dashboard API's "daily" keeps the keys it always had
    daily = metrics.daily(ledger.db, TENANT, first_day(14), 14)
    assert daily == [{k: r[k] for k in metrics.DAILY_KEYS} for r in rows]


def test_weekly_series(ledger):
    weeks = metrics.series(ledger.db, TENANT, first_day(14), 14, size=7)
    assert [(w["date"], w["last_date"]) for w in weeks] == [
        (first_day(14), day(7)[:10]),
        (day(6)[:10], day(0)[:10]),
    ]
    assert weeks[0]["decisions"] == 2 and weeks[1]["decisions"] == 6
    assert weeks[1]["tickets"] == 6 and weeks[1]["cost_usd"] == pytest.approx(0.017)
    assert weeks[1]["by_category"] == {"complaint_feedback": 1, "order_status": 3, "refund": 2}
    refund = weeks[1]["agreement"]["refund"]
    assert (refund["judged"], refund["right"]) == (2, 1)
    with pytest.raises(ValueError):
        metrics.series(ledger.db, TENANT, first_day(14), 14, size=0)


def test_long_windows_are_shown_per_week(ledger):
    m = dashboard_metrics.summary(ledger, TENANT, days=90)
    assert m["period_days"] == 7 and len(m["periods"]) == 13  # 12 weeks and 6 days
    last = m["periods"][-1]
    assert last["last_date"] == day(0)[:10] and len(m["daily"]) == 90
    assert sum(p["decisions"] for p in m["periods"]) == m["decisions"] == 9
    short = dashboard_metrics.summary(ledger, TENANT, days=14)
    assert short["period_days"] == 1 and len(short["periods"]) == len(short["daily"]) == 14
    assert [p["date"] for p in short["agreement_periods"]] == [first_day(14), day(6)[:10]]
    week = dashboard_metrics.summary(ledger, TENANT, days=7)
    assert week["agreement_periods"] == week["periods"] and len(week["periods"]) == 7


# --- the charts ----------------------------------------------------------------------------------
def test_the_charts_carry_the_figures(ledger):
    m = dashboard_metrics.summary(ledger, TENANT, days=14)
    built = {name: str(svg) for name, svg in charts.for_dashboard(m).items()}
    assert set(built) == {
        "outcomes",
        "categories",
        "automation",
        "category_rates",
        "agreement",
        "reliability",
        "time_saved",
        "cost_per_ticket",
    }
    for svg in built.values():
        assert svg.startswith('<svg class="chart"') and "style=" not in svg
    assert f"{day(0)[:10]}: 2 (auto reply 2)" in built["outcomes"]
    assert "refund: 0% automated, 50% escalated of 2 finished" in built["category_rates"]
    assert "agents agreed 2 of 3 (67%; 95% interval 21%–94%)" in built["reliability"]
    assert built["reliability"].count("<circle") == 3  # one per bin with verdicts
    assert (
        f"{day(1)[:10]}: 5.5 min (automated replies 4 min, assist notes 1.5 min)"
        in (built["time_saved"])
    )
    assert f"cost per ticket, {day(1)[:10]}: $0.0030" in built["cost_per_ticket"]
    # agreement per category per week (a fortnight): shade, share and count per cell
    week = f"{day(6)[:10]} to {day(0)[:10]}"
    assert f"refund, {week}: agents agreed 1 of 2 (50%)" in built["agreement"]
    assert f"order status, {week}: agents agreed 2 of 3 (67%)" in built["agreement"]
    assert f"product question, {week}" not in built["agreement"]  # no verdicts: no row


def test_chart_text_is_escaped():
    periods = [
        {
            "date": "2024-05-01",
            "by_outcome": {"<b>x</b>": 1},
            "by_category": {"<script>": 2},
            "agreement": {"<i>": {"judged": 1, "right": 1, "agreement": 1.0}},
            "automated": 1,
            "assisted": 0,
            "automation_rate": 1.0,
            "escalation_rate": 0.0,
            "cost_usd_per_ticket": 0.001,
        }
    ]
    m = {
        "periods": periods,
        "categories": {"<script>": {"processed": 1, "automation_rate": 1.0}},
        "reliability": [],
        "time_saved": {
            "minutes_per_auto_reply": 4.0,
            "minutes_per_assist_note": 1.5,
            "formula": "<formula>",
        },
    }
    svg = "".join(str(c) for c in charts.for_dashboard(m).values())
    assert "<script>" not in svg and "<b>" not in svg and "<i>" not in svg
    assert "&lt;script&gt;" in svg and "&lt;formula&gt;" in svg


def test_many_categories_fold_into_other():
    stacks = [{f"c{i}": i + 1 for i in range(9)}]
    names = charts.top_names(stacks)
    assert names == ["c8", "c7", "c6", "c5", "c4", "c3"]
    assert charts.keep_top(stacks, names)[0][charts.REST] == 1 + 2 + 3


def test_nice_ceiling_fits_small_amounts():
    assert [charts.nice_ceiling(v) for v in (0, 0.0012, 0.003, 7, 26, 101)] == [
        1.0,
        0.002,
        0.005,
        10,
        50,
        200,
    ]


# --- the page ------------------------------------------------------------------------------------
def row_html(html: str, row_id: str) -> str:
    match = re.search(rf'<tr id="{row_id}">(.*?)</tr>', html, re.S)
    assert match, row_id
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(1))).strip()


def test_the_page_shows_the_figures(client, ledger):
    client.post("/admin/login", data={"token": "test-admin-token"})
    resp = client.get(f"/admin/?tenant={TENANT}&days=14")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    for label in (
        "Decisions per day",
        "Categories per day",
        "Automation and escalation rate per day",
        "Automation and escalation by category",
        "Agreement with agents per category per week",
        "Reliability: stated confidence vs agreement",
        "Agent time saved per day",
        "Cost per ticket per day",
    ):
        assert f'aria-label="{label}"' in html, label
    assert row_html(html, "category-refund") == "refund 3 2 0% 50% (1) 2 shadow"
    assert row_html(html, "category-order_status") == "order status 3 3 100% (3) 0% 0 shadow"
    assert row_html(html, "bin-90") == "90–100% 3 2 67% 21%–94%"
    assert row_html(html, "bin-70") == "70–80% 2 1 50% 9%–91%"
    assert 'id="bin-60"' not in html  # an empty bin gets no row
    assert 'id="category-account"' not in html  # nor a category without decisions
    formula = re.sub(r"<[^>]+>", "", re.search(r'id="time-saved-formula">(.*?)</p>', html).group(1))
    assert formula == ("3 automated replies × 4 min + 2 assist notes × 1.5 min = 15 min (0.25 h)")
    assert '<div class="value">0.25 h</div>' in html
    assert "$0.0024 per ticket" in html  # 0.019 / 8
    # every dashboard table lays out as cards on a phone
    assert html.count("<table") == html.count('<table class="cats')
    assert "default" in html and "minutes_saved_per_auto_reply" in html


def test_the_page_uses_weeks_for_a_quarter(client, ledger):
    client.post("/admin/login", data={"token": "test-admin-token"})
    html = client.get(f"/admin/?tenant={TENANT}&days=90").get_data(as_text=True)
    assert 'aria-label="Decisions per week"' in html
    assert 'aria-label="Reliability: stated confidence vs agreement"' in html


def test_the_api_carries_the_new_figures(client, ledger):
    m = client.get(f"/admin/api/{TENANT}/metrics?days=14", headers=BEARER).get_json()
    assert m["time_saved"]["minutes"] == 15.0 and len(m["reliability"]) == 10
    assert m["period_days"] == 1 and m["periods"][-1]["by_category"] == {"order_status": 2}
