"""The go-live gate's statistics: a Wilson lower bound on agreement per category, and the
recommended confidence threshold from shadow-mode agreement (``connector/pipeline/golive.py``),
shown by ``deskguard policy go-live`` and the admin API's policy view."""

from __future__ import annotations

import json
import math

import pytest

from connector.audit import now_iso
from connector.cli import cli
from connector.db import transaction
from connector.pipeline import golive, policy
from connector.stats import wilson_lower_bound

TENANT = "acme"
AUTH = {"Authorization": "Bearer test-admin-token"}


def _wilson_by_hand(k: int, n: int, z: float = 1.959964) -> float:
    # The interval's textbook form: (p + z²/2n − z·√(p(1−p)/n + z²/4n²)) / (1 + z²/n).
    p = k / n
    return (p + z * z / (2 * n) - z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))) / (
        1 + z * z / n
    )


@pytest.mark.parametrize(("agreed", "tickets"), [(45, 50), (50, 50), (53, 60), (0, 10), (7, 9)])
def test_wilson_lower_bound_matches_the_textbook_formula(agreed, tickets):
    assert wilson_lower_bound(agreed, tickets) == pytest.approx(
        max(0.0, _wilson_by_hand(agreed, tickets)), abs=1e-9
    )


def test_wilson_lower_bound_agrees_with_scipy():
    """An outside reference: SciPy's Wilson score interval (scipy.stats.binomtest(...)
    .proportion_ci(method="wilson")), over every count of agreements up to 200 tickets."""
    from scipy.stats import binomtest

    for tickets in (1, 2, 3, 5, 10, 19, 20, 50, 97, 200):
        for agreed in range(tickets + 1):
            ours = wilson_lower_bound(agreed, tickets)
            theirs = binomtest(agreed, tickets).proportion_ci(0.95, method="wilson").low
            assert ours == pytest.approx(theirs, abs=1e-7), (agreed, tickets)


def test_wilson_lower_bound_is_lower_with_fewer_tickets_at_the_same_ratio():
    assert wilson_lower_bound(0, 0) is None
    small, large = wilson_lower_bound(9, 10), wilson_lower_bound(900, 1000)
    assert small is not None and large is not None
    assert small < large < 0.9
    # 45 of 50 is 90 % as a raw ratio but only about 0.79 as a lower bound.
    assert wilson_lower_bound(45, 50) == pytest.approx(0.786, abs=1e-3)


def test_recommended_threshold_is_the_lowest_whose_bound_meets_the_target():
    readings = [(0.95, True)] * 100 + [(0.70, True)] * 20 + [(0.70, False)] * 20
    rec = golive.recommend_threshold(readings, 0.9)
    # At 0.70 and below: 120 of 140 (bound 0.79); from 0.71: 100 of 100 (bound 0.96).
    assert rec.threshold == 0.71
    assert (rec.tickets, rec.agreed) == (100, 100)
    assert rec.lower_bound is not None and rec.lower_bound >= 0.9
    assert golive.recommend_threshold(readings, 0.99).threshold is None  # no threshold reaches it
    assert golive.recommend_threshold([], 0.9).threshold is None


def test_too_few_readings_recommend_nothing_however_right():
    assert golive.recommend_threshold([(0.99, True)] * 20, 0.9).threshold is None  # bound 0.84
    assert golive.recommend_threshold([(0.99, True)] * 40, 0.9).threshold == 0.5  # bound 0.91


def _shadow(db, ticket_id: int, category: str, confidence: float, agreed: bool) -> None:
    decision = db.conn.execute(
        "INSERT INTO decisions"
        " (tenant_id, ticket_id, created_at, category, confidence, mode, outcome)"
        " VALUES (?,?,?,?,?,?,?) RETURNING id",
        (TENANT, ticket_id, now_iso(), category, confidence, "shadow", "shadow"),
    ).fetchone()[0]
    db.conn.execute(
        "INSERT INTO feedback (tenant_id, ticket_id, decision_id, agent_id, verdict,"
        " correct_category, source, created_at) VALUES (?,?,?,?,?,?,'panel',?)",
        (
            TENANT,
            ticket_id,
            decision,
            "agent1",
            "right" if agreed else "wrong",
            None if agreed else "shipping_problem",
            now_iso(),
        ),
    )


@pytest.fixture
def shadow_history(runtime):
    """order_status: 60 confident readings agents agreed with, 30 unsure ones half right."""
    db = runtime.db
    with transaction(db):
        for i in range(60):
            _shadow(db, 1 + i, "order_status", 0.97, True)
        for i in range(30):
            _shadow(db, 100 + i, "order_status", 0.62, i % 2 == 0)
    return runtime


def test_status_reads_the_bound_and_recommends_from_shadow_readings(shadow_history):
    db = shadow_history.db
    status = golive.go_live_status(db, TENANT, "order_status", policy.load(db, TENANT))
    assert (status.tickets, status.agreed) == (90, 75)
    assert status.lower_bound == pytest.approx(_wilson_by_hand(75, 90))
    assert status.ready is False  # 83 % agreement, bound 0.74: not enough overall ...
    assert status.recommendation.threshold == 0.63  # ... but the confident readings are
    shown = status.as_dict()
    assert shown["lower_bound"] == round(_wilson_by_hand(75, 90), 4)
    assert shown["recommended_threshold"]["threshold"] == 0.63
    assert shown["recommended_threshold"]["tickets"] == 60
    assert "95% lower bound" in shown["explain"]
    others = {s.category: s for s in golive.all_statuses(db, TENANT, policy.load(db, TENANT))}
    assert others["order_status"].recommendation == status.recommendation
    assert others["refund"].recommendation.threshold is None and others["refund"].tickets == 0


def test_policy_go_live_command_and_api_show_the_bound_and_the_recommendation(
    shadow_history, cli_runner, config, secret_key, client
):
    result = cli_runner.invoke(
        cli,
        ["--db", config["database_url"] or config["db_path"], "policy", "go-live"],
        obj={},
        env={"DESKGUARD_SECRET_KEYS": secret_key, "DESKGUARD_TENANT_ID": TENANT},
    )
    assert result.exit_code == 0, result.output
    row = json.loads(result.output)["order_status"]
    assert row["ready"] is False and row["lower_bound"] == pytest.approx(0.74, abs=0.01)
    assert row["recommended_threshold"]["threshold"] == 0.63
    assert row["min_confidence"] == 0.95
    view = client.get(f"/api/v1/tenants/{TENANT}/policy", headers=AUTH).json
    assert (
        view["categories"]["order_status"]["go_live"]["recommended_threshold"]["threshold"] == 0.63
    )
