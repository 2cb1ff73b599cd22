"""The /admin dashboard: login and bearer auth, figures, filters, audit trail, kill switch,
charts."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from panel_support import TENANT, add_decision, tenant_with_token

from connector import tenants
from connector.dashboard import charts
from connector.panel.auth import Agent
from connector.panel.ticket_view import record_feedback
from connector.web import create_app

BEARER = {"Authorization": "Bearer test-admin-token"}


def login(client, token="test-admin-token", next_url=""):
    return client.post("/admin/login", data={"token": token, "next": next_url})


def day(offset: int, hour: int = 10) -> str:
    d = datetime.now(UTC).replace(hour=hour, minute=0, second=0, microsecond=0) - timedelta(
        days=offset
    )
    return d.isoformat(timespec="microseconds")


@pytest.fixture
def seeded(runtime, client):
    db = runtime.db
    ids = {
        "auto1": add_decision(
            db, TENANT, 1, outcome="auto_reply", mode="auto", cost_usd=0.002, created_at=day(0)
        ),
        "auto2": add_decision(
            db, TENANT, 2, outcome="auto_reply", mode="auto", cost_usd=0.002, created_at=day(0, 11)
        ),
        "esc": add_decision(
            db,
            TENANT,
            3,
            category="complaint_feedback",
            outcome="escalate",
            cost_usd=0.004,
            created_at=day(1),
        ),
        "assist": add_decision(
            db, TENANT, 4, category="refund", outcome="assist_note", created_at=day(1, 12)
        ),
        "again": add_decision(
            db, TENANT, 4, category="refund", outcome="assist_note", created_at=day(1, 13)
        ),
        "failed": add_decision(db, TENANT, 5, outcome="error", status="failed", created_at=day(2)),
        "old": add_decision(db, TENANT, 6, outcome="auto_reply", created_at=day(40)),
    }
    # Feedback as the side panel records it for a verified agent (the panel's signed launch is
    # tested in the panel's own tests; here only the figures built from feedback matter).
    agent = Agent(TENANT, id="501", name="Ana Agent", verified=True)
    record_feedback(db, agent, 1, {"verdict": "right"})
    record_feedback(db, agent, 2, {"correct_category": "shipping_problem"})
    record_feedback(db, agent, 4, {"verdict": "right"})
    now = time.time()
    for i, ts in enumerate((now - 60, now - 7200)):
        db.conn.execute(
            "INSERT INTO rate_ledger (tenant_id, bucket, ts, ticket_id, key) VALUES (?,?,?,?,?)",
            (TENANT, "auto_reply", ts, i, f"k{i}"),
        )
    db.conn.commit()
    job_id, _ = runtime.queue.enqueue(
        TENANT, "zendesk.ticket", {"ticket_id": 9}, "zendesk.ticket:9:x"
    )
    runtime.queue.enqueue(TENANT, "zendesk.ticket", {"ticket_id": 10}, "zendesk.ticket:10:x")
    db.conn.execute(
        "UPDATE jobs SET state = 'dead', last_error = 'boom <b>' WHERE id = ?", (job_id,)
    )
    db.conn.commit()
    return ids


# --- access ----------------------------------------------------------------------------------
def test_dashboard_is_off_without_an_admin_token(runtime, config):
    rt = type(runtime)(config | {"admin_token": None})
    c = create_app(runtime=rt).test_client()
    assert c.get("/admin/").status_code == 404
    assert c.get(f"/admin/api/{TENANT}/metrics", headers=BEARER).status_code == 404
    rt.close()


def test_unauthenticated_requests(client):
    resp = client.get("/admin/?tenant=acme")
    assert resp.status_code == 302 and "/admin/login" in resp.headers["Location"]
    assert client.get(f"/admin/api/{TENANT}/metrics").status_code == 401
    assert (
        client.get(
            f"/admin/api/{TENANT}/metrics", headers={"Authorization": "Bearer nope"}
        ).status_code
        == 401
    )
    # an app token is not an admin token
    assert (
        client.get(
            f"/admin/api/{TENANT}/metrics", headers={"Authorization": "Bearer dgapp_x"}
        ).status_code
        == 401
    )
    assert client.get("/admin/login").status_code == 200


def test_login_sets_a_strict_httponly_cookie(client):
    bad = login(client, "wrong")
    assert bad.status_code == 401 and "not the admin token" in bad.get_data(as_text=True)
    resp = login(client, next_url="/admin/?days=7")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/admin/?days=7")
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/admin" in cookie
    assert "Secure" not in cookie  # plain http in tests; see the https case below
    assert "test-admin-token" not in cookie
    assert client.get("/admin/").status_code == 200
    # open redirects are refused
    assert login(client, next_url="https://evil.example/").headers["Location"].endswith("/admin/")
    client.post("/admin/logout", data={"csrf": _csrf(client)})
    assert client.get("/admin/").status_code == 302


def test_cookie_is_secure_behind_https_and_bound_to_the_token(runtime, config):
    rt = type(runtime)(config | {"public_url": "https://deskguard.example.com"})
    c = create_app(runtime=rt).test_client()
    assert "Secure" in login(c).headers["Set-Cookie"]
    rt.close()
    # a cookie signed under another admin token does not open the dashboard
    rt2 = type(runtime)(config | {"admin_token": "rotated-token"})
    c2 = create_app(runtime=rt2).test_client()
    cookie = c.get_cookie("deskguard_admin", path="/admin")
    c2.set_cookie("deskguard_admin", cookie.value, path="/admin")
    assert c2.get("/admin/").status_code == 302
    rt2.close()


def _csrf(client) -> str:
    html = client.get("/admin/").get_data(as_text=True)
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


# --- figures ---------------------------------------------------------------------------------
def test_metrics_api(client, runtime, seeded):
    m = client.get(f"/admin/api/{TENANT}/metrics?days=14", headers=BEARER).get_json()
    assert m["decisions"] == 6 and m["tickets_processed"] == 5 and m["failed"] == 1
    assert m["automated"] == 2 and m["escalated"] == 1
    assert m["automation_rate"] == round(2 / 5, 4) and m["escalation_rate"] == round(1 / 5, 4)
    assert m["cost_total_usd"] == pytest.approx(0.008) and m[
        "cost_per_ticket_usd"
    ] == pytest.approx(0.008 / 5)
    assert m["outcomes"] == {"assist_note": 2, "auto_reply": 2, "escalate": 1, "error": 1}
    agreement = {a["category"]: a for a in m["agreement"]}
    assert agreement["order_status"] == {
        "category": "order_status",
        "judged": 2,
        "right": 1,
        "agreement": 0.5,
    }
    assert agreement["refund"]["agreement"] == 1.0
    from connector.pipeline import policy  # the decision pipeline owns the caps' limits

    pol = policy.load(runtime.db, TENANT)
    assert m["caps"] == [
        {
            "bucket": "auto_reply",
            "last_hour": 1,
            "last_day": 2,
            "hour_limit": pol.caps["auto_replies_per_hour"],
            "day_limit": pol.caps["auto_replies_per_day"],
        }
    ]
    assert set(m["go_live"]) >= {"order_status", "refund"}
    assert all(isinstance(v["ready"], bool) for v in m["go_live"].values())
    assert m["queue"]["depth"] == 1 and m["queue"]["counts"]["dead"] == 1
    assert m["kill_switch"] is False
    daily = {d["date"]: d for d in m["daily"]}
    assert len(m["daily"]) == 14
    today = datetime.now(UTC).date().isoformat()
    assert daily[today]["decisions"] == 2 and daily[today]["automation_rate"] == 1.0
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    assert daily[yesterday]["escalated"] == 1 and daily[yesterday]["automation_rate"] == 0.0
    assert client.get(f"/admin/api/{TENANT}/metrics?days=0", headers=BEARER).status_code == 400
    assert client.get(f"/admin/api/{TENANT}/metrics?days=x", headers=BEARER).status_code == 400
    wide = client.get(f"/admin/api/{TENANT}/metrics?days=60", headers=BEARER).get_json()
    assert wide["decisions"] == 7


def test_decision_filters(client, seeded):
    def ids(query):
        resp = client.get(f"/admin/api/{TENANT}/decisions?{query}", headers=BEARER)
        assert resp.status_code == 200, resp.get_data(as_text=True)
        return [d["id"] for d in resp.get_json()]

    assert ids("category=refund") == [seeded["again"], seeded["assist"]]
    assert ids("outcome=auto_reply&from=" + day(0)[:10]) == [seeded["auto2"], seeded["auto1"]]
    assert ids(f"from={day(2)[:10]}&to={day(1)[:10]}") == [
        seeded["failed"],
        seeded["again"],
        seeded["assist"],
        seeded["esc"],
    ]
    assert ids("limit=2") == [seeded["old"], seeded["failed"]]  # newest first
    assert (
        client.get(f"/admin/api/{TENANT}/decisions?from=yesterday", headers=BEARER).status_code
        == 400
    )


def test_dashboard_page(client, seeded):
    login(client)
    resp = client.get(f"/admin/?tenant={TENANT}")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    for card in (
        "card-processed",
        "card-automation",
        "card-escalation",
        "card-cost",
        "card-queue",
        "card-kill-switch",
    ):
        assert f'id="{card}"' in html
    assert "40%" in html and "20%" in html  # automation and escalation rates
    assert html.count('<svg class="chart"') == 8 and 'aria-label="Decisions per day"' in html
    assert 'id="agreement"' in html and 'id="dead-letters"' in html and "boom &lt;b&gt;" in html
    assert f"/admin/tickets/4?tenant={TENANT}" in html
    assert 'id="caps"' in html and "1 / " in html  # caps used against the hour limit
    # nothing is loaded from anywhere else
    assert not re.search(r'(src|href)="(https?:)?//', html)
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    filtered = client.get(f"/admin/?tenant={TENANT}&category=refund").get_data(as_text=True)
    assert "/admin/tickets/4?" in filtered and "/admin/tickets/1?" not in filtered
    assert client.get("/admin/?tenant=nobody").status_code == 404


def test_ticket_audit_trail(client, seeded):
    login(client)
    html = client.get(f"/admin/tickets/4?tenant={TENANT}").get_data(as_text=True)
    assert html.count('class="decision"') == 2
    assert "feedback.recorded" in html and "agent 501: right" in html
    trail = client.get(f"/admin/api/{TENANT}/tickets/1", headers=BEARER).get_json()
    assert [d["outcome"] for d in trail["decisions"]] == ["auto_reply"]
    assert [e["kind"] for e in trail["audit"]] == ["feedback.recorded"]


def test_admin_sees_only_the_chosen_tenant(client, runtime, seeded):
    tenant_with_token(runtime.db, "globex")
    add_decision(runtime.db, "globex", 1, category="account", outcome="auto_reply")
    m = client.get("/admin/api/globex/metrics", headers=BEARER).get_json()
    assert m["decisions"] == 1 and m["tenant"] == "globex"
    assert client.get("/admin/api/globex/tickets/4", headers=BEARER).get_json()["decisions"] == []


def test_kill_switch_form_needs_csrf(client, runtime):
    login(client)
    resp = client.post("/admin/kill-switch", data={"tenant": TENANT, "on": "1"})
    assert resp.status_code == 403 and tenants.kill_switch_on(runtime.db, TENANT) is False
    resp = client.post(
        "/admin/kill-switch", data={"tenant": TENANT, "on": "1", "csrf": _csrf(client)}
    )
    assert resp.status_code == 302 and tenants.kill_switch_on(runtime.db, TENANT) is True
    html = client.get(f"/admin/?tenant={TENANT}").get_data(as_text=True)
    assert 'id="kill-switch-state">ON<' in html
    resp = client.post(f"/admin/api/{TENANT}/kill-switch", headers=BEARER, json={"on": False})
    assert resp.get_json() == {"kill_switch": False}


def test_charts_escape_and_scale():
    days = [
        {
            "date": f"2024-05-{i:02d}",
            "decisions": i,
            "automated": i // 2,
            "automation_rate": (i // 2) / i if i else None,
        }
        for i in range(0, 10)
    ]
    svg = str(charts.volume_chart(days))
    assert svg.startswith("<svg") and svg.count("<rect") == 2 + 2 * 10  # legend + two bars a day
    assert "2024-05-09: 9 decisions, 4 automated" in svg
    line = str(charts.automation_chart(days))
    assert line.count("<circle") == 9 and "<polyline" in line
    evil = [{"date": "<script>", "decisions": 1, "automated": 0, "automation_rate": 0.0}]
    assert "<script>" not in str(charts.volume_chart(evil)) + str(charts.automation_chart(evil))
    assert "style=" not in svg
