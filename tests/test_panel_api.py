"""Side panel API: auth, what it shows per ticket state, feedback, permissions, kill switch."""

from __future__ import annotations

import json

import pytest
from panel_support import (
    TENANT,
    add_decision,
    agent_headers,
    install_zendesk_users,
    tenant_with_token,
)

from connector import audit, tenants
from connector.devkit.fakes import inject
from connector.panel.auth import issue_token, revoke_token
from connector.web import create_app


@pytest.fixture
def token(runtime):
    return issue_token(runtime.db, TENANT, label="test")[1]


@pytest.fixture
def zendesk_users(runtime):
    return install_zendesk_users(runtime)


def feedback_rows(db, tenant=TENANT):
    return db.conn.execute(
        "SELECT tenant_id, ticket_id, decision_id, agent_id, verdict, correct_category, source"
        " FROM feedback WHERE tenant_id = ? ORDER BY id",
        (tenant,),
    ).fetchall()


# --- the page --------------------------------------------------------------------------------
def test_panel_page_is_a_static_shell_framable_only_by_zendesk(client):
    resp = client.get("/panel/app?origin=https://acme.zendesk.com&app_guid=x")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "zaf_sdk.min.js" in html and "/panel/static/panel.js" in html
    assert "dgapp_" not in html and "zaf-shim" not in html
    csp = resp.headers["Content-Security-Policy"]
    assert "frame-ancestors https://*.zendesk.com" in csp
    assert "script-src 'self' https://static.zdassets.com" in csp
    assert client.get("/panel/static/panel.js").status_code == 200


# --- authentication --------------------------------------------------------------------------
def test_api_needs_a_valid_token(client, runtime, token):
    assert client.get("/panel/api/me").status_code == 401
    resp = client.get("/panel/api/me", headers={"Authorization": "Bearer dgapp_not-a-real-token"})
    assert resp.status_code == 401
    assert resp.get_json()["error"]["code"] == "unauthorized"
    assert client.get("/panel/api/me", headers={"Authorization": "Basic abc"}).status_code == 401
    ok = client.get("/panel/api/me", headers=agent_headers(token, runtime=runtime))
    assert ok.status_code == 200
    assert ok.get_json()["tenant"] == TENANT


def test_revoked_token_and_inactive_tenant_are_refused(client, runtime, token):
    token_id = runtime.db.conn.execute("SELECT id FROM app_tokens").fetchone()[0]
    assert revoke_token(runtime.db, TENANT, token_id)
    assert (
        client.get("/panel/api/me", headers=agent_headers(token, runtime=runtime)).status_code
        == 401
    )
    other = issue_token(runtime.db, TENANT)[1]
    runtime.db.conn.execute("UPDATE tenants SET active = 0 WHERE id = ?", (TENANT,))
    runtime.db.conn.commit()
    assert (
        client.get("/panel/api/me", headers=agent_headers(other, runtime=runtime)).status_code
        == 401
    )


def test_tokens_are_stored_hashed(runtime, token):
    stored = runtime.db.conn.execute("SELECT token_sha256, prefix FROM app_tokens").fetchall()
    assert len(stored) == 1
    assert token not in json.dumps(stored)
    assert token.startswith(stored[0][1])
    kinds = [r["kind"] for r in audit.rows(runtime.db, tenant_id=TENANT)]
    assert "app.token_issued" in kinds
    assert token not in json.dumps(list(audit.rows(runtime.db)))


# --- tenant isolation ------------------------------------------------------------------------
def test_a_tenant_token_never_reaches_another_tenant(client, runtime, token):
    db = runtime.db
    token_b = tenant_with_token(db, "globex")
    mine = add_decision(db, TENANT, 42, category="order_status", suggested_reply="acme reply")
    theirs = add_decision(db, "globex", 42, category="refund", suggested_reply="globex reply")
    admin_b = agent_headers(token, runtime=runtime, role="admin")

    # the same ticket number shows only the token's own tenant's decision
    view = client.get(
        f"/panel/api/{TENANT}/tickets/42", headers=agent_headers(token, runtime=runtime)
    ).get_json()
    assert view["decision"]["id"] == mine and view["decision"]["suggested_reply"] == "acme reply"
    # tenant A's token on tenant B's URLs: 404, and nothing changes
    for method, url, body in [
        ("get", "/panel/api/globex/tickets/42", None),
        ("post", "/panel/api/globex/tickets/42/feedback", {"verdict": "right"}),
        ("post", "/panel/api/globex/kill-switch", {"on": True}),
        ("post", "/panel/api/globex/approvals/1/approve", {}),
    ]:
        resp = getattr(client, method)(url, headers=admin_b, json=body)
        assert resp.status_code == 404, url
        assert "globex" not in resp.get_data(as_text=True)
    # naming another tenant's decision id under one's own tenant is also not found
    resp = client.post(
        f"/panel/api/{TENANT}/tickets/42/feedback",
        headers=agent_headers(token, runtime=runtime),
        json={"verdict": "right", "decision_id": theirs},
    )
    assert resp.status_code == 404
    assert feedback_rows(db, "globex") == [] and feedback_rows(db, TENANT) == []
    assert tenants.kill_switch_on(db, "globex") is False
    # and tenant B's own token works on B's URLs
    view_b = client.get("/panel/api/globex/tickets/42", headers=agent_headers(token_b)).get_json()
    assert view_b["decision"]["id"] == theirs
    # an unknown tenant looks the same as another tenant
    assert (
        client.get(
            "/panel/api/nobody/tickets/42", headers=agent_headers(token, runtime=runtime)
        ).status_code
        == 404
    )


# --- what the panel shows --------------------------------------------------------------------
def test_processed_ticket_view(client, runtime, token):
    decision_id = add_decision(runtime.db, TENANT, 7, category="order_status", confidence=0.93)
    resp = client.get(
        f"/panel/api/{TENANT}/tickets/7", headers=agent_headers(token, runtime=runtime)
    )
    assert resp.status_code == 200
    assert resp.headers["Server-Timing"].startswith("app;dur=")
    assert resp.headers["Cache-Control"] == "no-store"
    v = resp.get_json()
    assert v["state"] == "processed"
    d = v["decision"]
    assert d["id"] == decision_id
    assert (d["category"], d["confidence"]) == ("order_status", 0.93)
    assert [a["category"] for a in d["alternatives"]] == [
        "shipping_problem",
        "refund",
    ]  # runners-up only
    assert (d["sentiment"], d["urgency"]) == ("negative", "high")
    assert d["reasons"] == ["mentions order #1001", "asks where the parcel is"]
    assert d["policy"]["outcome"] == "assist_note" and d["policy"]["mode"] == "assist"
    assert [t["rule"] for t in d["policy"]["trace"]] == ["mode_assist", "confidence"]
    assert d["orders"][0]["name"] == "#1001"
    assert d["payments"]["charges"][0]["amount"] == 4990
    assert d["suggested_reply"].startswith("Hi Jane")
    # the agent as the app claims it, for display and attribution; permissions come from
    # /permissions
    # the agent is the session's (Zendesk's signed launch); the claimed name and role are ignored
    assert v["agent"] == {"id": "501", "name": "", "verified": True}
    assert len(v["categories"]) == 14 and v["kill_switch"] is False and v["feedback"] is None


def test_unprocessed_queued_and_failed_states(client, runtime, token):
    h = agent_headers(token, runtime=runtime)
    v = client.get(f"/panel/api/{TENANT}/tickets/8", headers=h).get_json()
    assert v["state"] == "not_processed" and v["decision"] is None
    assert "not processed" in v["message"]

    job_id, _ = runtime.queue.enqueue(
        TENANT, "zendesk.ticket", {"ticket_id": 8}, "zendesk.ticket:8:2024-05-01T10:00:00Z"
    )
    v = client.get(f"/panel/api/{TENANT}/tickets/8", headers=h).get_json()
    assert v["state"] == "queued" and v["job"]["id"] == job_id

    runtime.db.conn.execute(
        "UPDATE jobs SET state = 'dead', last_error = 'Zendesk answered 503' WHERE id = ?",
        (job_id,),
    )
    runtime.db.conn.commit()
    v = client.get(f"/panel/api/{TENANT}/tickets/8", headers=h).get_json()
    assert v["state"] == "failed" and "Zendesk answered 503" in v["message"]

    add_decision(runtime.db, TENANT, 9, status="failed", outcome="error")
    v = client.get(f"/panel/api/{TENANT}/tickets/9", headers=h).get_json()
    assert v["state"] == "failed" and v["decision"] is not None


# --- feedback --------------------------------------------------------------------------------
def test_feedback_right_wrong_and_change_of_mind(client, runtime, token):
    db = runtime.db
    decision_id = add_decision(db, TENANT, 11, category="order_status")
    url = f"/panel/api/{TENANT}/tickets/11/feedback"
    resp = client.post(
        url, headers=agent_headers(token, runtime=runtime), json={"verdict": "right"}
    )
    assert resp.status_code == 201
    assert feedback_rows(db) == [(TENANT, 11, decision_id, "501", "right", "order_status", "panel")]

    resp = client.post(
        url,
        headers=agent_headers(token, runtime=runtime),
        json={"correct_category": "shipping_problem"},
    )
    assert resp.status_code == 201 and resp.get_json()["verdict"] == "wrong"
    # one verdict per agent per decision: the change of mind replaced the first
    assert feedback_rows(db) == [
        (TENANT, 11, decision_id, "501", "wrong", "shipping_problem", "panel")
    ]
    # another agent adds their own
    client.post(
        url,
        headers=agent_headers(token, runtime=runtime, agent_id="777"),
        json={"verdict": "wrong"},
    )
    assert len(feedback_rows(db)) == 2
    v = client.get(
        f"/panel/api/{TENANT}/tickets/11", headers=agent_headers(token, runtime=runtime)
    ).get_json()
    assert (
        v["feedback"]["verdict"] == "wrong"
        and v["feedback"]["correct_category"] == "shipping_problem"
    )
    events = [
        r
        for r in audit.rows(db, tenant_id=TENANT, ticket_id=11)
        if r["kind"] == "feedback.recorded"
    ]
    assert len(events) == 3 and events[0]["data"]["predicted_category"] == "order_status"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"verdict": "maybe"}, 400),
        ({"verdict": "wrong", "correct_category": "no_such_category"}, 400),
        ({"verdict": "right", "correct_category": "refund"}, 400),
        ({"verdict": "wrong", "correct_category": "order_status"}, 400),
        ({}, 400),
        ({"verdict": "right", "decision_id": "1"}, 400),
    ],
)
def test_bad_feedback_is_refused(client, runtime, token, body, status):
    add_decision(runtime.db, TENANT, 12, category="order_status")
    resp = client.post(
        f"/panel/api/{TENANT}/tickets/12/feedback",
        headers=agent_headers(token, runtime=runtime),
        json=body,
    )
    assert resp.status_code == status
    assert feedback_rows(runtime.db) == []


def test_feedback_needs_a_decision_and_an_agent(client, runtime, token):
    url = f"/panel/api/{TENANT}/tickets/13/feedback"
    resp = client.post(
        url, headers=agent_headers(token, runtime=runtime), json={"verdict": "right"}
    )
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "not_processed"
    add_decision(runtime.db, TENANT, 13)
    # without a verified session (no signed launch) there is nobody to attribute feedback to
    resp = client.post(url, headers=agent_headers(token, agent_id="501"), json={"verdict": "right"})
    assert resp.status_code == 401 and feedback_rows(runtime.db) == []
    assert (
        client.post(url, headers=agent_headers(token, runtime=runtime), data="not json").status_code
        == 400
    )


# --- permissions and the kill switch ---------------------------------------------------------
# Permissions follow the role the (fake) Zendesk directory reports; the claimed role header is
# ignored. tests/test_panel_roles.py checks the same against the Zendesk sandbox with zenpy.
def test_roles_and_allow_lists(client, runtime, token, zendesk_users):
    def perms(**kw):
        resp = client.get(
            f"/panel/api/{TENANT}/permissions", headers=agent_headers(token, runtime=runtime, **kw)
        )
        assert resp.status_code == 200, resp.get_json()
        return resp.get_json()["agent"]

    assert perms(agent_id="42", role="agent") == {
        "id": "42",
        "name": "Ada Admin",
        "role": "admin",
        "custom_role": "",
        "custom_role_id": None,
        "verified": True,
        "can_approve": True,
        "can_kill_switch": True,
    }
    assert perms(role="admin")["can_approve"] is False  # 501 claims admin; Zendesk says agent
    assert perms(role="admin")["role"] == "agent"
    assert (
        client.get(
            f"/panel/api/{TENANT}/permissions",  # no verified identity, no privilege
            headers=agent_headers(token, role="admin", agent_id="42"),
        ).status_code
        == 401
    )
    tenants.set_setting(runtime.db, TENANT, "app_approver_ids", ["501"], actor="test")
    assert perms(role="agent")["can_approve"] is True
    assert perms(role="agent", agent_id="502")["can_approve"] is False
    tenants.set_setting(runtime.db, TENANT, "app_approver_roles", ["team lead"], actor="test")
    # a claimed custom role counts for nothing; Zendesk's custom role does
    assert perms(agent_id="502", custom_role="Team Lead")["can_approve"] is False
    zendesk_users.add(503, "agent", custom_role_id=7, custom_role_name="Team Lead")
    assert perms(agent_id="503")["can_approve"] is True
    assert perms(agent_id="503")["can_kill_switch"] is False


def test_approver_settings_from_config(runtime, config, zendesk_users):
    rt = type(runtime)(config | {"app_approver_ids": "900,502", "app_approver_roles": "lead"})
    inject(rt, desk=zendesk_users)
    zendesk_users.add(504, "agent", custom_role_id=8, custom_role_name="Lead")
    app = create_app(runtime=rt)
    token = issue_token(rt.db, TENANT)[1]
    c = app.test_client()

    def can_approve(agent_id):
        return c.get(
            f"/panel/api/{TENANT}/permissions",
            headers=agent_headers(token, runtime=runtime, agent_id=agent_id),
        ).get_json()["agent"]["can_approve"]

    assert can_approve("502") and can_approve("504") and not can_approve("501")
    rt.close()


def test_kill_switch_from_the_panel_is_admin_only_and_audited(
    client, runtime, token, zendesk_users
):
    url = f"/panel/api/{TENANT}/kill-switch"
    resp = client.post(
        url, headers=agent_headers(token, runtime=runtime, role="agent"), json={"on": True}
    )
    assert resp.status_code == 403 and tenants.kill_switch_on(runtime.db, TENANT) is False
    # claiming admin changes nothing: Zendesk says 501 is an agent
    resp = client.post(
        url, headers=agent_headers(token, runtime=runtime, role="admin"), json={"on": True}
    )
    assert resp.status_code == 403 and tenants.kill_switch_on(runtime.db, TENANT) is False
    denied = [
        r["data"]
        for r in audit.rows(runtime.db, tenant_id=TENANT)
        if r["kind"] == "app.permission_denied"
    ]
    assert denied[-1] | {} == {
        "agent_id": "501",
        "action": "kill_switch",
        "claimed_role": "",  # what the browser claims is never read
        "zendesk_role": "agent",
        "reason": "only Zendesk admins may flip the kill switch",
    }
    assert (
        client.post(
            url, headers=agent_headers(token, runtime=runtime, agent_id="42"), json={"on": "yes"}
        ).status_code
        == 400
    )
    resp = client.post(
        url,
        headers=agent_headers(token, runtime=runtime, role="agent", agent_id="42"),
        json={"on": True},
    )
    assert resp.status_code == 200 and resp.get_json() == {"kill_switch": True}
    assert tenants.kill_switch_on(runtime.db, TENANT) is True
    change = [
        r for r in audit.rows(runtime.db, tenant_id=TENANT) if r["kind"] == "setting.changed"
    ][-1]
    assert change["data"]["actor"] == "agent:42" and change["data"]["new"] is True
    v = client.get(
        f"/panel/api/{TENANT}/tickets/1", headers=agent_headers(token, runtime=runtime)
    ).get_json()
    assert v["kill_switch"] is True


# --- demo page -------------------------------------------------------------------------------
def test_there_is_no_unsigned_demo_page(runtime, config, client):
    """The demo opens the panel through the Zendesk emulator's signed launch
    (tests/test_panel_roles.py); the sidecar has no page that hands out an identity."""
    assert client.get(f"/panel/demo?tenant={TENANT}&ticket=1").status_code == 404
    rt = type(runtime)(config | {"demo_mode": "true"})
    c = create_app(runtime=rt).test_client()
    assert c.get(f"/panel/demo?tenant={TENANT}&ticket=1").status_code == 404
    assert c.post("/panel/app?shim=1&ticket=1", data={}).status_code == 401
    page = c.get("/panel/app?shim=1&ticket=1").get_data(as_text=True)
    assert "zaf-shim" not in page and 'name="deskguard-session" content=""' in page
    rt.close()


def test_panel_script_never_parses_data_as_html():
    """The panel renders ticket text, replies and vendor data with textContent only."""
    from pathlib import Path

    static = Path(__file__).resolve().parents[1] / "connector" / "panel" / "static"
    for name in ("panel.js", "zaf-shim.js"):
        source = (static / name).read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in source, f"{name} uses {sink}"
