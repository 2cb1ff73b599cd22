"""The connections page and the Zendesk connect flow honour the server-side admin session: a
cookie kept after logout is refused, and a store admin signed in with Zendesk reaches their own
tenant only (no other tenant listed, linked, connected or created)."""

from __future__ import annotations

import re

import pytest
from console_support import add_person, console_runtime, sign_in_with_zendesk
from panel_support import TENANT
from zendesk_support import sandbox  # noqa: F401  (fixture)

from connector.tenants import ensure_tenant
from connector.web import create_app


@pytest.fixture
def console(config, sandbox):  # noqa: F811
    rt = console_runtime(config, sandbox)
    ensure_tenant(rt.db, "other-store", source="test")
    yield rt, create_app(runtime=rt).test_client()
    rt.close()


def _csrf(page: bytes) -> str:
    return re.search(rb'name="csrf" value="([^"]+)"', page)[1].decode()


def test_a_cookie_kept_after_logout_no_longer_reaches_connections(console):
    _rt, client = console
    assert client.post("/admin/login", data={"token": "test-admin-token"}).status_code == 302
    page = client.get("/admin/connections")
    assert page.status_code == 200
    kept = client.get_cookie("deskguard_admin", path="/admin")
    assert kept is not None
    csrf = _csrf(page.data)
    assert client.post("/admin/logout", data={"csrf": csrf}).status_code == 302
    client.set_cookie(kept.key, kept.value, path=kept.path)  # the copied cookie, replayed
    assert client.get("/admin/connections").status_code == 302  # to the sign-in page
    stripe = client.post("/admin/connections/stripe", data={"csrf": csrf, "tenant": TENANT})
    assert stripe.status_code == 302 and "/admin/login" in stripe.headers["Location"]
    connect = client.get(f"/admin/connect/zendesk?subdomain=acme&tenant={TENANT}&go=1")
    assert connect.status_code == 302 and "/admin/login" in connect.headers["Location"]


def test_a_store_admin_reaches_their_own_tenant_only(console, sandbox):  # noqa: F811
    rt, client = console
    sign_in_with_zendesk(client, sandbox, add_person(sandbox)["id"])
    page = client.get("/admin/connections")
    assert page.status_code == 200
    assert TENANT.encode() in page.data and b"other-store" not in page.data
    csrf = _csrf(page.data)

    linked = client.post(
        "/admin/connections/shopify/link",
        data={"csrf": csrf, "tenant": "other-store", "shop": "x.myshopify.com"},
    )
    assert linked.status_code == 404
    stripe = client.post(
        "/admin/connections/stripe", data={"csrf": csrf, "tenant": "other-store", "key": "rk_x"}
    )
    assert stripe.status_code == 404
    created = client.post("/admin/connections/tenants", data={"csrf": csrf, "tenant": "new-one"})
    assert created.status_code == 403
    assert "new-one" not in [r[0] for r in rt.db.conn.execute("SELECT id FROM tenants")]
    connect = client.get("/admin/connect/zendesk?subdomain=other&tenant=other-store&go=1")
    assert connect.status_code == 404


def test_a_forged_csrf_token_is_refused(console):
    _rt, client = console
    assert client.post("/admin/login", data={"token": "test-admin-token"}).status_code == 302
    resp = client.post(
        "/admin/connections/tenants", data={"csrf": "not-the-token", "tenant": "forged"}
    )
    assert resp.status_code == 403
