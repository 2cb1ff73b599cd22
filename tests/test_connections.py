"""The connections console (/admin/connections): admin only (session with CSRF, or bearer),
creates tenants, links installed shops, connects Stripe with a pasted key; each tenant's
Zendesk/Shopify/Stripe state as the page and the JSON show it."""

from __future__ import annotations

import re

import pytest
from stripe_support import stripe_sandbox_fixture  # noqa: F401 (fixture)

from connector.commerce import shopify_oauth
from connector.devkit.sandbox.stripe import DEFAULT_RESTRICTED_PERMISSIONS

ADMIN = "test-admin-token"


@pytest.fixture
def config(config, stripe_sandbox):
    return {
        **config,
        "public_url": "https://deskguard.example.com",
        "stripe_api_base": stripe_sandbox.url,
        "stripe_max_network_retries": 0,
    }


def login(client) -> str:
    resp = client.post("/admin/login", data={"token": ADMIN, "next": "/admin/connections"})
    assert resp.status_code == 302
    page = client.get("/admin/connections")
    assert page.status_code == 200
    return re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True)).group(1)


def test_browser_without_session_is_sent_to_login(client):
    resp = client.get("/admin/connections")
    assert resp.status_code == 302 and "/admin/login" in resp.headers["Location"]
    assert client.post("/admin/connections/tenants", data={"tenant": "x"}).status_code == 302


def test_wrong_bearer_token_is_refused(client):
    resp = client.get("/admin/connections", headers={"Authorization": "Bearer nope"})
    assert resp.status_code == 401


def test_bearer_gets_json(client):
    resp = client.get("/admin/connections", headers={"Authorization": f"Bearer {ADMIN}"})
    body = resp.get_json()
    assert [t["id"] for t in body["tenants"]] == ["acme"]
    assert body["tenants"][0]["stripe"]["connected"] is False


def test_post_without_csrf_is_refused(client):
    login(client)
    resp = client.post("/admin/connections/tenants", data={"tenant": "beta"})
    assert resp.status_code == 403


def test_create_tenant(client, runtime):
    csrf = login(client)
    resp = client.post(
        "/admin/connections/tenants", data={"csrf": csrf, "tenant": "beta", "name": "Beta"}
    )
    assert resp.status_code == 303
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert 'id="tenant-beta"' in page and "Tenant beta created." in page
    again = client.post("/admin/connections/tenants", data={"csrf": csrf, "tenant": "beta"})
    assert "already exists" in client.get(again.headers["Location"]).get_data(as_text=True)
    bad = client.post("/admin/connections/tenants", data={"csrf": csrf, "tenant": "../x"})
    assert "letters, digits" in client.get(bad.headers["Location"]).get_data(as_text=True)


def test_link_an_installed_shop(client, runtime):
    csrf = login(client)
    shopify_oauth.store_install(runtime, "beta-store.myshopify.com", "shpua_token", "read_orders")
    page = client.get("/admin/connections?installed=beta-store.myshopify.com").get_data(
        as_text=True
    )
    assert "beta-store.myshopify.com" in page and 'id="link-shop"' in page
    resp = client.post(
        "/admin/connections/shopify/link",
        data={"csrf": csrf, "shop": "beta-store.myshopify.com", "tenant": "acme"},
    )
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "is linked to acme" in page
    assert re.search(r'data-service="shopify" data-connected="yes"', page)


def test_stripe_key_missing_permissions_is_named(client, runtime, stripe_sandbox):
    csrf = login(client)
    key = stripe_sandbox.state.add_key(
        "rk_test_page_partial", set(DEFAULT_RESTRICTED_PERMISSIONS) - {"rak_charge_read"}
    )
    resp = client.post(
        "/admin/connections/stripe", data={"csrf": csrf, "tenant": "acme", "key": key}
    )
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Charges: Read" in page and key not in page
    key = stripe_sandbox.state.add_key("rk_test_page_full", set(DEFAULT_RESTRICTED_PERMISSIONS))
    resp = client.post(
        "/admin/connections/stripe", data={"csrf": csrf, "tenant": "acme", "key": key}
    )
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Stripe is connected for acme" in page
    assert re.search(r'data-service="stripe" data-connected="yes"', page)


def test_page_has_a_connect_zendesk_form_per_tenant(client):
    login(client)
    page = client.get("/admin/connections").get_data(as_text=True)
    assert 'action="/admin/connect/zendesk"' in page and 'name="tenant" value="acme"' in page


def test_headers(client):
    login(client)
    resp = client.get("/admin/connections")
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["Cache-Control"] == "no-store"
