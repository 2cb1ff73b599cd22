"""Admin sessions: logout revokes the session server-side (a copied cookie stops working), in
every worker; the CSRF token is compared in constant time and a wrong or missing one changes
nothing."""

from __future__ import annotations

import hmac
import re

from connector import tenants
from connector.dashboard import web as dashboard_web
from connector.runtime import Runtime
from connector.web import create_app

GOOD = "test-admin-token"


def login(client):
    resp = client.post("/admin/login", data={"token": GOOD})
    assert resp.status_code == 302
    return client.get_cookie("deskguard_admin", path="/admin").value


def csrf(client) -> str:
    html = client.get("/admin/").get_data(as_text=True)
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def test_a_copied_cookie_stops_working_after_logout(app, runtime):
    browser = app.test_client()
    cookie = login(browser)
    thief = app.test_client()
    thief.set_cookie("deskguard_admin", cookie, path="/admin")
    assert thief.get("/admin/").status_code == 200  # the copy works while the session lives
    token = csrf(browser)
    assert browser.post("/admin/logout", data={"csrf": token}).status_code == 302
    # the copy (a valid signature, unexpired) is refused now, on pages, forms and the API
    page = thief.get("/admin/")
    assert page.status_code == 302 and "/admin/login" in page.headers["Location"]
    flip = thief.post("/admin/kill-switch", data={"tenant": "acme", "on": "1", "csrf": token})
    assert flip.status_code == 302 and "/admin/login" in flip.headers["Location"]
    assert tenants.kill_switch_on(runtime.db, "acme") is False
    assert thief.get("/admin/api/acme/metrics").status_code == 401
    # signing in again starts a new session; the old cookie stays dead
    login(browser)
    assert browser.get("/admin/").status_code == 200
    assert thief.get("/admin/").status_code == 302


def test_logout_in_one_worker_revokes_in_the_other(runtime, config):
    other = Runtime(config)
    try:
        worker_a = create_app(runtime=runtime).test_client()
        worker_b = create_app(runtime=other).test_client()
        cookie = login(worker_a)
        worker_b.set_cookie("deskguard_admin", cookie, path="/admin")
        assert worker_b.get("/admin/").status_code == 200
        worker_a.post("/admin/logout", data={"csrf": csrf(worker_a)})
        assert worker_b.get("/admin/").status_code == 302
    finally:
        other.close()


def test_only_a_hash_of_the_session_is_stored(app, runtime):
    client = app.test_client()
    login(client)
    token = csrf(client)
    stored = runtime.db.conn.execute("SELECT session_sha256 FROM admin_sessions").fetchall()
    assert len(stored) == 1 and token not in stored[0][0]


def test_logout_needs_the_csrf_token(app, runtime):
    client = app.test_client()
    login(client)
    assert client.post("/admin/logout").status_code == 403
    assert client.post("/admin/logout", data={"csrf": "x" * 22}).status_code == 403
    assert client.get("/admin/").status_code == 200  # still signed in


def test_csrf_is_compared_in_constant_time(app, runtime, monkeypatch):
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(dashboard_web.hmac, "compare_digest", spy)
    client = app.test_client()
    login(client)
    token = csrf(client)
    for wrong in ("", token[:-1], token + "x", token[:-1] + ("A" if token[-1] != "A" else "B")):
        resp = client.post("/admin/kill-switch", data={"tenant": "acme", "on": "1", "csrf": wrong})
        assert resp.status_code == 403
    assert tenants.kill_switch_on(runtime.db, "acme") is False
    ok = client.post("/admin/kill-switch", data={"tenant": "acme", "on": "1", "csrf": token})
    assert ok.status_code == 302 and tenants.kill_switch_on(runtime.db, "acme") is True
    assert (token.encode(), token.encode()) in calls
    assert len(calls) >= 4  # every compared token went through compare_digest
