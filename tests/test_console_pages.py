"""The console's changes: each needs a reason, goes through the policy functions the admin API
uses (validation, the go-live gate, the audit trail) and names the signed-in person; the kill
switch asks for a confirmation; replays run as queue jobs; decisions export as CSV."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from console_support import add_person, console_runtime, shadow_history, sign_in_with_zendesk
from panel_support import TENANT, add_decision
from zendesk_support import sandbox  # noqa: F401  (fixture)

from connector import jobs, tenants
from connector.db import transaction
from connector.pipeline import policy
from connector.web import create_app


@pytest.fixture
def signed_in(config, sandbox):  # noqa: F811
    rt = console_runtime(config, sandbox)
    client = create_app(runtime=rt).test_client()
    ada = add_person(sandbox)
    sign_in_with_zendesk(client, sandbox, ada["id"])
    page = client.get("/admin/console")
    csrf = re.search(rb'name="csrf" value="([^"]+)"', page.data)[1].decode()
    yield rt, client, csrf, ada
    rt.close()


def _changes(rt, kind: str = "setting.changed") -> list[dict]:
    return [
        json.loads(r[0])
        for r in rt.db.conn.execute(
            "SELECT data FROM audit_log WHERE kind = ? ORDER BY id", (kind,)
        )
    ]


def _form(csrf: str, **fields) -> dict:
    base = {"csrf": csrf, "min_confidence": "0.95", "rollout_percent": "100", "mode": "shadow"}
    return {**base, **fields}


def test_a_mode_change_needs_a_reason(signed_in):
    rt, client, csrf, _ada = signed_in
    page = client.post(
        "/admin/console/categories/refund", data=_form(csrf, mode="assist", reason="")
    )
    assert page.status_code == 422 and b"reason" in page.data
    assert policy.load(rt.db, TENANT).category("refund").mode == "shadow"


def test_a_mode_change_is_audited_with_the_person_and_the_reason(signed_in):
    rt, client, csrf, ada = signed_in
    saved = client.post(
        "/admin/console/categories/refund",
        data=_form(csrf, mode="assist", rollout_percent="50", reason="agents want drafts"),
    )
    assert saved.status_code == 302
    cat = policy.load(rt.db, TENANT).category("refund")
    assert (cat.mode, cat.rollout_percent) == ("assist", 50.0)
    change = _changes(rt)[-1]
    assert change["name"] == "policy" and change["reason"] == "agents want drafts"
    assert change["actor"].startswith(f"zendesk_user:{ada['id']} ({ada['email']}")
    assert b"agents want drafts" in client.get("/admin/console").data  # the latest changes


def test_invalid_values_are_refused_with_the_policy_validation(signed_in):
    _rt, client, csrf, _ada = signed_in
    page = client.post(
        "/admin/console/categories/refund",
        data=_form(csrf, min_confidence="1.5", reason="typo test"),
    )
    assert page.status_code == 422 and b"between 0 and 1" in page.data


def test_auto_before_the_gate_passes_needs_an_override_reason(signed_in):
    rt, client, csrf, _ada = signed_in
    shadow_history(rt.db, agreed=10)
    blocked = client.post(
        "/admin/console/categories/order_status",
        data=_form(csrf, mode="auto", auto_allowed="1", reason="try it"),
    )
    assert blocked.status_code == 422 and b"cannot switch to auto yet" in blocked.data
    assert b'id="override_reason"' in blocked.data
    assert policy.load(rt.db, TENANT).category("order_status").mode == "shadow"
    done = client.post(
        "/admin/console/categories/order_status",
        data=_form(
            csrf, mode="auto", auto_allowed="1", reason="try it", override_reason="pilot week"
        ),
    )
    assert done.status_code == 302
    override = _changes(rt, "policy.go_live_overridden")[-1]
    assert override["reason"] == "pilot week" and override["actor"].startswith("zendesk_user:")


def test_the_gate_statistics_are_shown_per_category(signed_in):
    rt, client, _csrf, _ada = signed_in
    shadow_history(rt.db, agreed=60)
    page = client.get("/admin/console/categories/order_status").data.decode()
    assert 'data-ready="yes"' in page
    assert re.search(r'id="gate-tickets">60<', page)
    assert re.search(r'id="gate-lower">9\d%<', page)  # the Wilson bound of 60/60 (≈ 94 %)
    assert re.search(r'id="gate-agreement">100%<', page)


def test_the_kill_switch_asks_for_a_confirmation(signed_in):
    rt, client, csrf, ada = signed_in
    first = client.post(
        "/admin/console/kill-switch", data={"csrf": csrf, "on": "1", "reason": "bad refunds"}
    )
    assert first.status_code == 200 and b'id="confirm"' in first.data
    assert not tenants.kill_switch_on(rt.db, TENANT)
    done = client.post(
        "/admin/console/kill-switch",
        data={"csrf": csrf, "on": "1", "reason": "bad refunds", "confirm": "yes"},
    )
    assert done.status_code == 302 and tenants.kill_switch_on(rt.db, TENANT)
    change = _changes(rt)[-1]
    assert change["name"] == "kill_switch" and change["reason"] == "bad refunds"
    assert change["actor"].startswith(f"zendesk_user:{ada['id']}")


def test_the_kill_switch_needs_a_reason(signed_in):
    rt, client, csrf, _ada = signed_in
    page = client.post("/admin/console/kill-switch", data={"csrf": csrf, "on": "1", "reason": ""})
    assert page.status_code == 400 and not tenants.kill_switch_on(rt.db, TENANT)


def test_changes_without_the_csrf_token_are_refused(signed_in):
    rt, client, _csrf, _ada = signed_in
    page = client.post(
        "/admin/console/kill-switch",
        data={"csrf": "wrong", "on": "1", "reason": "x y z", "confirm": "yes"},
    )
    assert page.status_code == 403 and not tenants.kill_switch_on(rt.db, TENANT)


def test_caps_change_with_a_reason(signed_in):
    rt, client, csrf, _ada = signed_in
    saved = client.post(
        "/admin/console/caps",
        data={
            "csrf": csrf,
            "auto_replies_per_hour": "5",
            "auto_replies_per_day": "40",
            "reason": "go slowly",
        },
    )
    assert saved.status_code == 302
    assert policy.load(rt.db, TENANT).caps == {
        "auto_replies_per_hour": 5,
        "auto_replies_per_day": 40,
    }


def _minutes_form(csrf: str, auto: str = "6", assist: str = "2.5", reason: str = "timed 40"):
    return {
        "csrf": csrf,
        "minutes_saved_per_auto_reply": auto,
        "minutes_saved_per_assist_note": assist,
        "reason": reason,
    }


def test_minutes_saved_change_with_a_reason_and_feed_the_estimate(signed_in):
    from connector.pipeline import metrics

    rt, client, csrf, ada = signed_in
    page = client.get("/admin/console").data.decode()
    assert re.search(r'id="minutes-auto"[^>]*value="4"', page)  # the documented default
    saved = client.post("/admin/console/minutes-saved", data=_minutes_form(csrf))
    assert saved.status_code == 302
    rates = metrics.minutes_saved(rt.db, TENANT)
    assert (rates.per_auto_reply, rates.per_assist_note) == (6.0, 2.5)
    assert set(rates.source.values()) == {"tenant setting"}
    changes = {c["name"]: c for c in _changes(rt)}
    auto = changes["minutes_saved_per_auto_reply"]
    assert (auto["old"], auto["new"], auto["reason"]) == (None, 6.0, "timed 40")
    assert auto["actor"].startswith(f"zendesk_user:{ada['id']} ({ada['email']}")
    assert changes["minutes_saved_per_assist_note"]["new"] == 2.5
    page = client.get("/admin/console").data.decode()
    assert re.search(r'id="minutes-assist"[^>]*value="2.5"', page) and "timed 40" in page


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"auto": "601"}, b"between 0 and 600"),
        ({"assist": "-1"}, b"between 0 and 600"),
        ({"auto": "nan"}, b"between 0 and 600"),
        ({"assist": "soon"}, b"must be a number"),
        ({"reason": ""}, b"reason"),
    ],
)
def test_minutes_saved_are_validated_and_nothing_is_half_saved(signed_in, fields, message):
    rt, client, csrf, _ada = signed_in
    page = client.post("/admin/console/minutes-saved", data=_minutes_form(csrf, **fields))
    assert page.status_code == 400 and message in page.data
    assert tenants.get_setting(rt.db, TENANT, "minutes_saved_per_auto_reply") is None
    assert tenants.get_setting(rt.db, TENANT, "minutes_saved_per_assist_note") is None


def test_minutes_saved_need_the_csrf_token(signed_in):
    rt, client, _csrf, _ada = signed_in
    page = client.post("/admin/console/minutes-saved", data=_minutes_form("wrong"))
    assert page.status_code == 403
    assert tenants.get_setting(rt.db, TENANT, "minutes_saved_per_auto_reply") is None


def test_when_zendesk_cannot_confirm_the_role_only_the_kill_switch_on_works(signed_in, sandbox):  # noqa: F811
    from connector.db import transaction

    rt, client, csrf, _ada = signed_in
    with transaction(rt.db):
        rt.db.conn.execute("UPDATE admin_sessions SET role_checked_at = role_checked_at - 3600")
    sandbox.state.fail_next.extend([(403, "Forbidden")] * 5)  # Zendesk refuses the lookup
    page = client.post(
        "/admin/console/categories/refund", data=_form(csrf, mode="assist", reason="x y z")
    )
    assert page.status_code == 422 and b"could not confirm" in page.data
    on = client.post(
        "/admin/console/kill-switch",
        data={"csrf": csrf, "on": "1", "reason": "incident", "confirm": "yes"},
    )
    assert on.status_code == 302 and tenants.kill_switch_on(rt.db, TENANT)


def test_a_replay_runs_as_a_job_and_reports_per_category(signed_in, sandbox):  # noqa: F811
    rt, client, csrf, ada = signed_in
    for body in ("Where is my order #1001?", "Where is my parcel?"):
        sandbox.state.customer_writes(subject="Help", body=body, name="Jo", email="jo@example.com")
    started = client.post("/admin/console/replays", data={"csrf": csrf, "days": "7"})
    assert started.status_code == 302
    replay_url = started.headers["Location"]
    waiting = client.get(replay_url)
    assert b'data-state="queued"' in waiting.data and b'http-equiv="refresh"' in waiting.data
    assert jobs.drain(rt, kinds=("console.replay",)) == 1
    report = client.get(replay_url).data.decode()
    assert 'data-state="done"' in report and 'id="replay-order_status"' in report
    row = rt.db.conn.execute("SELECT state, requested_by, report FROM console_replays").fetchone()
    assert row[0] == "done" and row[1].startswith(f"zendesk_user:{ada['id']}")
    assert json.loads(row[2])["categories"]["order_status"]["volume"] == 2


def test_a_replay_window_is_checked(signed_in):
    _rt, client, csrf, _ada = signed_in
    page = client.post("/admin/console/replays", data={"csrf": csrf, "days": "400"})
    assert page.status_code == 400 and b"1 to 90" in page.data


def test_decisions_export_as_csv_in_the_date_range(signed_in):
    rt, client, _csrf, _ada = signed_in
    add_decision(rt.db, TENANT, 1, created_at="2026-11-01T10:00:00+00:00")
    add_decision(rt.db, TENANT, 2, created_at="2026-11-15T10:00:00+00:00")
    add_decision(rt.db, TENANT, 3, created_at="2026-11-16T10:00:00+00:00", category="refund")
    with transaction(rt.db):
        rt.db.conn.execute("UPDATE decisions SET reason = '=HYPERLINK(1)' WHERE ticket_id = 2")
    resp = client.get("/admin/console/export.csv?from=2026-11-10&to=2026-11-15")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert [r["ticket_id"] for r in rows] == ["2"]
    assert rows[0]["reason"] == "'=HYPERLINK(1)"  # no formula reaches a spreadsheet
    assert "suggested_reply" not in rows[0]  # no customer text in the export


def test_an_admin_token_session_still_uses_the_console(config, sandbox):  # noqa: F811
    rt = console_runtime(config, sandbox)
    client = create_app(runtime=rt).test_client()
    client.post("/admin/login", data={"token": "test-admin-token"})
    page = client.get("/admin/console")
    assert page.status_code == 200 and b"admin token" in page.data
    rt.close()


def test_connections_show_their_state_and_last_error(signed_in):
    _rt, client, _csrf, _ada = signed_in
    page = client.get("/admin/console").data.decode()
    zendesk = page[page.index('id="conn-zendesk"') :][:400]
    stripe = page[page.index('id="conn-stripe"') :][:600]
    assert ">connected<" in zendesk
    assert "not set up" in stripe and "DESKGUARD_STRIPE_API_KEY" in stripe
    assert 'href="/admin/connections"' in page
