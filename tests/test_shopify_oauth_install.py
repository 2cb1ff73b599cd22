"""Installing the Shopify app by OAuth against the sandbox shop: the signed install request, the
authorize page, the callback with state bound to the browser, the code exchange, linking the shop
to a tenant, and unlinking it on uninstall. Every forged or stale request is refused and changes
nothing."""

from __future__ import annotations

import time
import urllib.parse

import pytest
import requests
import shopify_support
from shopify_support import API_SECRET, SHOP

from connector.commerce import service, shopify_oauth
from connector.devkit.sandbox.shopify.oauth_state import signed_query
from connector.errors import NotFound
from connector.tenants import ensure_tenant

shop_server = shopify_support.shop_server
shop = shopify_support.shop
CLIENT_ID = "sandbox_client_id"


@pytest.fixture
def config(config, shop):
    return {
        **config,
        "shopify_client_id": CLIENT_ID,
        "shopify_api_secret": API_SECRET,
        "shopify_admin_url": shop.url,
        "shopify_timeout_seconds": 5.0,
    }


def path_of(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.path}?{parts.query}"


def start(client, shop) -> str:
    """The install request as Shopify sends it; returns the authorize URL we redirect to."""
    resp = client.get(
        path_of(shop.state.oauth.install_request_url("http://localhost/shopify/install"))
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return resp.headers["Location"]


def merchant_clicks_install(authorize_url: str, shop) -> str:
    """The authorize page and its Install button, on the sandbox shop; returns the callback URL."""
    page = requests.get(authorize_url, timeout=5)
    assert page.status_code == 200 and 'id="install"' in page.text
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(authorize_url).query))
    grant = requests.post(
        f"{shop.url}/admin/oauth/authorize", data=query, allow_redirects=False, timeout=5
    )
    assert grant.status_code == 302
    return grant.headers["Location"]


def installed(runtime) -> list[dict]:
    return shopify_oauth.installs(runtime)


def test_install_link_use_and_unlink(runtime, client, shop):
    authorize = start(client, shop)
    assert authorize.startswith(f"{shop.url}/admin/oauth/authorize?")
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(authorize).query))
    assert query["client_id"] == CLIENT_ID
    assert query["scope"] == "read_orders,read_customers,write_orders"
    assert query["redirect_uri"] == "http://localhost/shopify/callback"
    assert query["state"]
    callback = merchant_clicks_install(authorize, shop)
    resp = client.get(path_of(callback))
    assert resp.status_code == 302 and f"installed={SHOP}" in resp.headers["Location"]
    [row] = installed(runtime)
    assert row["shop"] == SHOP and row["tenant_id"] is None
    [grant] = shop.state.oauth.grants_of("authorization_code")
    stored = runtime.db.conn.execute("SELECT token_ciphertext FROM shopify_installs").fetchone()[0]
    assert grant.token not in stored  # encrypted

    ensure_tenant(runtime.db, "beta", source="test")
    shopify_oauth.link_shop(runtime, SHOP, "beta", actor="admin:test")
    orders = runtime.services("beta").require_orders()
    assert [o.name for o in orders.find_orders(order_name="#1001")] == ["#1001"]
    assert (
        runtime.db.conn.execute("SELECT token_ciphertext FROM shopify_installs").fetchone()[0]
        is None
    )

    assert shopify_oauth.unlink_shop(runtime, SHOP) == ["beta"]
    assert service.tenant_shop(runtime.db, "beta") == ""
    assert runtime.secrets.get(runtime.db, "beta", service.TOKEN_SECRET) is None
    assert installed(runtime) == []
    assert shopify_oauth.unlink_shop(runtime, SHOP) == []  # idempotent


def test_reinstall_of_a_linked_shop_replaces_its_token(runtime, client, shop):
    client.get(path_of(merchant_clicks_install(start(client, shop), shop)))
    ensure_tenant(runtime.db, "beta", source="test")
    shopify_oauth.link_shop(runtime, SHOP, "beta", actor="admin:test")
    client.get(path_of(merchant_clicks_install(start(client, shop), shop)))
    _first, second = shop.state.oauth.grants_of("authorization_code")
    assert runtime.secrets.get(runtime.db, "beta", service.TOKEN_SECRET) == second.token
    assert installed(runtime)[0]["tenant_id"] == "beta"


def test_link_refuses_unknown_shop_and_a_shop_held_elsewhere(runtime, client, shop):
    ensure_tenant(runtime.db, "beta", source="test")
    with pytest.raises(NotFound):
        shopify_oauth.link_shop(runtime, SHOP, "beta", actor="t")
    client.get(path_of(merchant_clicks_install(start(client, shop), shop)))
    ensure_tenant(runtime.db, "gamma", source="test")
    shopify_oauth.link_shop(runtime, SHOP, "beta", actor="t")
    with pytest.raises(shopify_oauth.LinkConflict):
        shopify_oauth.link_shop(runtime, SHOP, "gamma", actor="t")
    with pytest.raises(NotFound):
        shopify_oauth.link_shop(runtime, SHOP, "nobody", actor="t")


# --- refused requests ----------------------------------------------------------------------------
def signed(path: str, params: dict, secret: str = API_SECRET) -> str:
    return f"{path}?{signed_query(params, secret)}"


def now() -> str:
    return str(int(time.time()))


@pytest.mark.parametrize(
    "params, secret",
    [
        ({"shop": SHOP, "timestamp": "NOW"}, "shpss_not_our_secret"),  # bad hmac
        ({"shop": SHOP, "timestamp": "STALE"}, API_SECRET),  # stale timestamp
        ({"shop": SHOP, "timestamp": "FUTURE"}, API_SECRET),  # from the future
        ({"shop": "evil.com", "timestamp": "NOW"}, API_SECRET),  # not a shop domain
        ({"shop": "evil.com/x.myshopify.com", "timestamp": "NOW"}, API_SECRET),
        ({"shop": SHOP, "timestamp": "soon"}, API_SECRET),  # no timestamp
    ],
)
def test_forged_or_stale_install_request_is_refused(runtime, client, params, secret):
    stamps = {
        "NOW": now(),
        "STALE": str(int(time.time()) - 3600),
        "FUTURE": str(int(time.time()) + 3600),
    }
    params = {k: stamps.get(v, v) for k, v in params.items()}
    resp = client.get(signed("/shopify/install", params, secret))
    assert resp.status_code == 401
    assert resp.get_json()["error"]["code"] == "shopify_install_refused"
    assert "Set-Cookie" not in resp.headers


def test_tampered_install_request_is_refused(client, shop):
    url = shop.state.oauth.install_request_url("http://localhost/shopify/install")
    resp = client.get(path_of(url).replace("deskguard-demo", "other-shop"))
    assert resp.status_code == 401


def test_unsigned_install_request_is_refused(client):
    assert client.get(f"/shopify/install?shop={SHOP}&timestamp={now()}").status_code == 401


def test_callback_from_another_browser_is_refused(runtime, app, client, shop):
    callback = merchant_clicks_install(start(client, shop), shop)
    other_browser = app.test_client()
    resp = other_browser.get(path_of(callback))
    assert resp.status_code == 401 and "state" in resp.get_json()["error"]["message"]
    assert installed(runtime) == []
    assert shop.state.oauth.grants_of("authorization_code") == []  # no code was exchanged


def test_callback_with_a_state_of_another_install_is_refused(runtime, client, shop):
    start(client, shop)  # this browser's cookie holds its own state
    params = {"code": "x", "shop": SHOP, "state": "someone-elses", "timestamp": now()}
    resp = client.get(signed("/shopify/callback", params))
    assert resp.status_code == 401
    assert installed(runtime) == []


def test_callback_with_a_forged_hmac_is_refused(runtime, client, shop):
    callback = merchant_clicks_install(start(client, shop), shop)
    forged = path_of(callback).replace("hmac=", "hmac=0")
    assert client.get(forged).status_code == 401
    assert installed(runtime) == []


def test_code_is_used_once(runtime, client, shop):
    callback = merchant_clicks_install(start(client, shop), shop)
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(callback).query))
    assert client.get(path_of(callback)).status_code == 302
    shopify_oauth.unlink_shop(runtime, SHOP)
    start(client, shop)  # a fresh state cookie, the old (used) code replayed with it
    cookie = client.get_cookie(shopify_oauth.STATE_COOKIE, path="/shopify")
    params = {**query, "state": cookie.value, "timestamp": now()}
    params.pop("hmac")
    resp = client.get(signed("/shopify/callback", params))
    assert resp.status_code >= 400
    assert installed(runtime) == []


def test_install_without_app_settings_is_a_config_error(config, runtime, shop):
    from connector.runtime import Runtime
    from connector.web import create_app

    bare = Runtime({**config, "shopify_client_id": ""})
    try:
        client = create_app(runtime=bare).test_client()
        resp = client.get(path_of(shop.state.oauth.install_request_url("http://x/shopify/install")))
        assert resp.status_code >= 400
        assert "DESKGUARD_SHOPIFY_CLIENT_ID" in resp.get_data(as_text=True)
    finally:
        bare.close()


def test_app_toml_matches_the_code():
    import tomllib
    from pathlib import Path

    from connector.commerce.shopify_webhooks import HANDLERS

    toml = tomllib.loads((Path(__file__).parents[1] / "deploy" / "shopify.app.toml").read_text())
    assert toml["access_scopes"]["scopes"] == ",".join(shopify_oauth.SCOPES)
    assert toml["application_url"].endswith(shopify_oauth.INSTALL_PATH)
    assert [u.endswith(shopify_oauth.CALLBACK_PATH) for u in toml["auth"]["redirect_urls"]] == [
        True
    ]
    topics = set()
    for sub in toml["webhooks"]["subscriptions"]:
        topics |= set(sub.get("topics", [])) | set(sub.get("compliance_topics", []))
        assert sub["uri"].endswith("/webhooks/shopify")
    assert topics == {
        "app/uninstalled",
        "customers/data_request",
        "customers/redact",
        "shop/redact",
    }
    assert topics <= set(HANDLERS)


def _uninstall(client, webhook_id: str) -> None:
    import json

    from connector.devkit.sandbox.shopify.webhooks import topic_payload, webhook_headers

    raw = json.dumps(topic_payload("app/uninstalled", SHOP)).encode()
    headers = webhook_headers(
        "app/uninstalled", raw, secret=API_SECRET, shop_domain=SHOP, webhook_id=webhook_id
    )
    resp = client.post("/webhooks/shopify", data=raw, headers=headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)


def test_uninstall_webhook_unlinks_a_linked_shop(runtime, client, shop):
    client.get(path_of(merchant_clicks_install(start(client, shop), shop)))
    ensure_tenant(runtime.db, "beta", source="test")
    shopify_oauth.link_shop(runtime, SHOP, "beta", actor="admin:test")
    assert service.tenant_shop(runtime.db, "beta") == SHOP

    _uninstall(client, "wh-uninstall-1")

    assert service.tenant_shop(runtime.db, "beta") == ""
    assert runtime.secrets.get(runtime.db, "beta", service.TOKEN_SECRET) is None
    assert installed(runtime) == []
    kinds = [r[0] for r in runtime.db.conn.execute("SELECT kind FROM audit_log")]
    assert "shopify.token_purged" in kinds and "shopify.shop_unlinked" in kinds


def test_uninstall_webhook_drops_an_install_no_tenant_holds_yet(runtime, client, shop):
    client.get(path_of(merchant_clicks_install(start(client, shop), shop)))
    assert [r["shop"] for r in installed(runtime)] == [SHOP]

    _uninstall(client, "wh-uninstall-2")

    assert installed(runtime) == []


def test_secrets_rotate_re_encrypts_an_install_no_tenant_holds_yet(runtime, config, shop):
    from cryptography.fernet import Fernet

    from connector.runtime import Runtime

    shopify_oauth.store_install(runtime, SHOP, "shpat_offline_token", "read_orders")
    old = config["secret_keys"][0]
    new = Fernet.generate_key().decode()
    both = Runtime({**config, "secret_keys": (new, old)})
    assert both.secrets.rotate(both.db) >= 1
    both.close()

    only_new = Runtime({**config, "secret_keys": (new,)})
    ensure_tenant(only_new.db, "beta", source="test")
    shopify_oauth.link_shop(only_new, SHOP, "beta", actor="admin:test")
    assert only_new.secrets.get(only_new.db, "beta", service.TOKEN_SECRET) == "shpat_offline_token"
    only_new.close()
