"""Signing in to the admin console: with Zendesk (OAuth code + PKCE against the Zendesk
sandbox, role admin required, no token kept), from the app's nav_bar (signed launch), the role
re-check that signs a demoted admin out, and the admin-token form behind its setting."""

from __future__ import annotations

import json
import re

import pytest
from console_support import PUBLIC_URL, add_person, console_runtime, sign_in_with_zendesk
from panel_support import TENANT, install_app_for
from zendesk_support import sandbox  # noqa: F401  (fixture)

from connector.db import transaction
from connector.devkit.sandbox.zendesk.app_signing import launch_form
from connector.web import create_app


@pytest.fixture
def console(config, sandbox):  # noqa: F811
    rt = console_runtime(config, sandbox)
    yield rt, create_app(runtime=rt).test_client()
    rt.close()


def _audit(rt, kind: str) -> list[dict]:
    return [
        json.loads(r[0])
        for r in rt.db.conn.execute(
            "SELECT data FROM audit_log WHERE kind = ? ORDER BY id", (kind,)
        )
    ]


def test_a_zendesk_admin_signs_in_and_the_session_names_them(console, sandbox):  # noqa: F811
    rt, client = console
    ada = add_person(sandbox)
    page = sign_in_with_zendesk(client, sandbox, ada["id"])
    assert page.status_code == 200 and b"Ada Admin" in page.data
    assert b'http-equiv="refresh"' in page.data  # moves on to the console from our own page
    row = rt.db.conn.execute(
        "SELECT tenant_id, via, zendesk_user_id, person_name, person_email FROM admin_sessions"
    ).fetchone()
    assert row == (TENANT, "zendesk", ada["id"], "Ada Admin", ada["email"])
    console_page = client.get("/admin/console")
    assert console_page.status_code == 200 and b"Ada Admin" in console_page.data
    assert _audit(rt, "console.signed_in")[-1]["zendesk_user_id"] == ada["id"]
    # Only users:read was asked for, and the person's token was revoked at once.
    assert not [t for t in sandbox.state.oauth.live_tokens() if t.user_id == ada["id"]]
    assert sandbox.state.oauth.revoked >= 1
    assert (
        rt.db.conn.execute("SELECT COUNT(*) FROM secrets WHERE name LIKE '%user%'").fetchone()[0]
        == 0
    )


def test_the_sign_in_asks_zendesk_for_users_read_only_with_pkce(console):
    _rt, client = console
    started = client.get("/admin/login/zendesk")
    location = started.headers["Location"]
    assert "scope=users%3Aread" in location and "code_challenge_method=S256" in location
    assert (
        "HttpOnly" in started.headers["Set-Cookie"]
        and "SameSite=Lax" in started.headers["Set-Cookie"]
    )


def test_an_agent_is_refused_and_the_refusal_is_audited(console, sandbox):  # noqa: F811
    rt, client = console
    agent = add_person(sandbox, "Sam Agent", role="agent")
    page = sign_in_with_zendesk(client, sandbox, agent["id"])
    assert page.status_code == 403 and b"Only Zendesk admins" in page.data
    assert rt.db.conn.execute("SELECT COUNT(*) FROM admin_sessions").fetchone()[0] == 0
    assert _audit(rt, "console.sign_in_refused")[-1]["role"] == "agent"
    assert client.get("/admin/console").status_code == 302


def test_denied_access_or_a_foreign_state_signs_nobody_in(console, sandbox):  # noqa: F811
    rt, client = console
    ada = add_person(sandbox)
    denied = sign_in_with_zendesk(client, sandbox, ada["id"], decision="deny")
    assert denied.status_code == 403
    client.get("/admin/login/zendesk")
    forged = client.get("/admin/login/zendesk/callback?state=someone-elses&code=x")
    assert forged.status_code == 403 and b"does not match" in forged.data
    assert rt.db.conn.execute("SELECT COUNT(*) FROM admin_sessions").fetchone()[0] == 0


def test_a_demoted_admin_is_signed_out_at_the_next_role_check(console, sandbox):  # noqa: F811
    rt, client = console
    ada = add_person(sandbox)
    sign_in_with_zendesk(client, sandbox, ada["id"])
    assert client.get("/admin/console").status_code == 200
    sandbox.state.update_user(ada["id"], role="agent")
    # Within the re-check period the session is trusted without asking Zendesk...
    assert client.get("/admin/console").status_code == 200
    # ...once it has passed, Zendesk is asked and the demoted admin is out.
    with transaction(rt.db):
        rt.db.conn.execute("UPDATE admin_sessions SET role_checked_at = role_checked_at - 3600")
    out = client.get("/admin/console")
    assert out.status_code == 302 and "/admin/login" in out.headers["Location"]
    assert client.get("/admin/").status_code == 302  # the dashboard too
    revoked = _audit(rt, "console.access_revoked")[-1]
    assert revoked["zendesk_user_id"] == ada["id"] and revoked["role"] == "agent"


def test_a_still_admin_is_confirmed_and_stays(console, sandbox):  # noqa: F811
    rt, client = console
    ada = add_person(sandbox)
    sign_in_with_zendesk(client, sandbox, ada["id"])
    with transaction(rt.db):
        rt.db.conn.execute("UPDATE admin_sessions SET role_checked_at = role_checked_at - 3600")
    before = rt.db.conn.execute("SELECT role_checked_at FROM admin_sessions").fetchone()[0]
    assert client.get("/admin/console").status_code == 200
    after = rt.db.conn.execute("SELECT role_checked_at FROM admin_sessions").fetchone()[0]
    assert after > before + 3000


def test_a_person_reaches_their_own_tenant_only(console, sandbox):  # noqa: F811
    from connector.tenants import ensure_tenant

    rt, client = console
    ensure_tenant(rt.db, "other", source="test")
    sign_in_with_zendesk(client, sandbox, add_person(sandbox)["id"])
    assert client.get("/admin/?tenant=other").status_code == 404
    page = client.get("/admin/console?tenant=other")
    assert page.status_code == 200 and b'Console <span class="muted">acme' in page.data


def test_logout_revokes_a_zendesk_session(console, sandbox):  # noqa: F811
    _rt, client = console
    sign_in_with_zendesk(client, sandbox, add_person(sandbox)["id"])
    csrf = re.search(rb'name="csrf" value="([^"]+)"', client.get("/admin/console").data)[1]
    assert client.post("/admin/logout", data={"csrf": csrf.decode()}).status_code == 302
    assert client.get("/admin/console").status_code == 302


def test_the_token_form_is_offered_only_when_the_setting_allows_it(config, sandbox):  # noqa: F811
    rt = console_runtime({**config, "admin_token_login": False}, sandbox)
    client = create_app(runtime=rt).test_client()
    page = client.get("/admin/login")
    assert b"Sign in with Zendesk" in page.data and b'id="token"' not in page.data
    refused = client.post("/admin/login", data={"token": "test-admin-token"})
    assert refused.status_code == 403 and "Set-Cookie" not in refused.headers
    # The bearer token still drives the API.
    api = client.get(
        "/admin/api/acme/decisions", headers={"Authorization": "Bearer test-admin-token"}
    )
    assert api.status_code == 200
    rt.close()


def test_the_login_page_offers_both_by_default(console):
    _rt, client = console
    page = client.get("/admin/login")
    assert b"Sign in with Zendesk" in page.data and b'id="token"' in page.data
    assert "form-action 'self' https:" in page.headers["Content-Security-Policy"]


# --- the nav_bar launch ------------------------------------------------------------------------
def _nav_bar_launch(client, rt, sandbox, user_id: int):  # noqa: F811
    inst = install_app_for(rt, sandbox, PUBLIC_URL)
    action, fields = launch_form(sandbox.state, inst["id"], user_id, location="nav_bar")
    assert action.startswith(PUBLIC_URL + "/admin/console/launch")
    return client.post("/admin/console/launch", data=fields)


def test_the_nav_bar_launch_hands_an_admin_a_one_time_link(console, sandbox):  # noqa: F811
    rt, client = console
    ada = add_person(sandbox)
    page = _nav_bar_launch(client, rt, sandbox, ada["id"])
    assert page.status_code == 200, page.data
    link = re.search(rb'href="(/admin/console/enter\?ticket=[^"]+)"', page.data)[1].decode()
    assert "frame-ancestors" in page.headers["Content-Security-Policy"]
    entered = client.get(link)
    assert entered.status_code == 200 and "deskguard_admin=" in entered.headers["Set-Cookie"]
    via = rt.db.conn.execute("SELECT via, zendesk_user_id FROM admin_sessions").fetchone()
    assert via == ("zendesk_app", ada["id"])
    assert client.get("/admin/console").status_code == 200
    again = create_app(runtime=rt).test_client().get(link)  # the link works once
    assert again.status_code == 400 and b"used already" in again.data


def test_the_nav_bar_launch_refuses_an_agent(console, sandbox):  # noqa: F811
    rt, client = console
    agent = add_person(sandbox, "Sam Agent", role="agent")
    page = _nav_bar_launch(client, rt, sandbox, agent["id"])
    assert page.status_code == 403 and b"enter?ticket" not in page.data


def test_a_forged_nav_bar_launch_is_refused(console, sandbox):  # noqa: F811
    rt, client = console
    install_app_for(rt, sandbox, PUBLIC_URL)
    assert client.post("/admin/console/launch", data={"token": "not.a.jwt"}).status_code == 401


def test_the_dashboard_kill_switch_names_the_signed_in_person(console, sandbox):  # noqa: F811
    rt, client = console
    ada = add_person(sandbox)
    sign_in_with_zendesk(client, sandbox, ada["id"])
    csrf = re.search(rb'name="csrf" value="([^"]+)"', client.get("/admin/").data)[1].decode()
    client.post("/admin/kill-switch", data={"csrf": csrf, "on": "1", "reason": "incident"})
    change = _audit(rt, "setting.changed")[-1]
    assert change["name"] == "kill_switch" and change["actor"].startswith(
        f"zendesk_user:{ada['id']}"
    )
