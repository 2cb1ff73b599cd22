"""Self-hosted Shopify on the client credentials grant: the env tenant's Dev Dashboard app gets
expiring tokens from the sandbox shop (through shopifyapp, over HTTP), cached encrypted, renewed
before they expire, once on a 401, and once for many threads at a time."""

from __future__ import annotations

import threading
import time

import pytest
import shopify_support
from shopify_support import API_SECRET, SHOP, start_shop

from adapters.shopify import client_credentials_token
from connector.commerce import service
from connector.errors import PermanentError, TransientError

shop_server = shopify_support.shop_server
shop = shopify_support.shop
CLIENT_ID = "sandbox_client_id"
DAY = 86400.0


class Clock:
    """Wall clock shared by the sandbox shop (token expiry) and the token cache."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch, shop):
    clock = Clock()
    shop.state.oauth.clock = clock
    monkeypatch.setattr(service, "_now", clock)
    return clock


@pytest.fixture
def config(config, shop):
    """The env tenant's shop with a client id and secret, and no static token."""
    return {
        **config,
        "shopify_shop": SHOP,
        "shopify_client_id": CLIENT_ID,
        "shopify_api_secret": API_SECRET,
        "shopify_admin_url": shop.url,
        "shopify_timeout_seconds": 5.0,
    }


@pytest.fixture
def orders(runtime, clock):
    return runtime.services("acme").require_orders()


def grants(shop) -> list:
    return shop.state.oauth.grants_of("client_credentials")


def test_first_call_gets_a_token_and_caches_it_encrypted(runtime, orders, shop):
    assert [o.name for o in orders.find_orders(order_name="#1001")] == ["#1001"]
    [grant] = grants(shop)
    stored = runtime.db.conn.execute(
        "SELECT ciphertext FROM secrets WHERE tenant_id = 'acme' AND name = ?",
        (service.CLIENT_TOKEN_SECRET,),
    ).fetchone()[0]
    assert grant.token not in stored  # encrypted at rest
    orders.find_orders(order_name="#1001")
    assert len(grants(shop)) == 1  # the cached token is reused


def test_token_is_renewed_before_it_expires(runtime, orders, shop, clock):
    orders.find_orders(order_name="#1001")
    margin = runtime.config.shopify_token_renew_margin_seconds
    clock.advance(DAY - margin + 1)  # inside the renewal margin, not yet expired at Shopify
    orders.find_orders(order_name="#1001")
    first, second = grants(shop)
    assert second.token != first.token
    assert shop.state.oauth.token_valid(first.token)  # renewed early, not after a failure
    clock.advance(DAY)  # both expire; the next call renews again and works
    assert orders.find_orders(order_name="#1001")
    assert len(grants(shop)) == 3


def test_token_rejected_with_401_is_renewed_once_and_the_call_retried(orders, shop):
    orders.find_orders(order_name="#1001")
    shop.state.oauth.expire_tokens()  # Shopify no longer accepts it, our cache still does
    assert [o.name for o in orders.find_orders(order_name="#1001")] == ["#1001"]
    assert len(grants(shop)) == 2


def test_renewal_refused_is_a_permanent_error_naming_the_settings(orders, shop):
    orders.find_orders(order_name="#1001")
    shop.state.oauth.installed = False  # the app was uninstalled from the store
    shop.state.oauth.expire_tokens()
    with pytest.raises(PermanentError) as err:
        orders.find_orders(order_name="#1001")
    assert err.value.code == "shopify_invalid_client"
    assert "DESKGUARD_SHOPIFY_CLIENT_ID" in str(err.value)


def test_many_threads_with_an_expired_token_renew_it_once(orders, shop, clock):
    orders.find_orders(order_name="#1001")
    clock.advance(DAY + 1)
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def lookup() -> None:
        start.wait()
        try:
            orders.find_orders(order_name="#1001")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=lookup) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert len(grants(shop)) == 2


def test_static_token_wins_over_client_credentials(runtime, shop, clock):
    runtime.secrets.put(runtime.db, "acme", service.TOKEN_SECRET, shopify_support.TOKEN)
    runtime.forget_services("acme")
    runtime.services("acme").require_orders().find_orders(order_name="#1001")
    assert grants(shop) == []


def test_wrong_client_secret_is_refused(shop):
    with pytest.raises(PermanentError) as err:
        client_credentials_token(SHOP, CLIENT_ID, "shpss_wrong", admin_url=shop.url, timeout=5)
    assert err.value.code == "shopify_invalid_client"


def test_token_endpoint_down_is_transient(shop):
    dead = start_shop()
    url = dead.url
    dead.server.stop()
    with pytest.raises(TransientError):
        client_credentials_token(SHOP, CLIENT_ID, API_SECRET, admin_url=url, timeout=5)


def test_expiry_comes_from_expires_in(shop, clock):
    shop.state.oauth.token_ttl_seconds = 120
    token = client_credentials_token(
        SHOP, CLIENT_ID, API_SECRET, admin_url=shop.url, timeout=5, clock=clock
    )
    assert token.expires_at == pytest.approx(clock() + 120, abs=2)
    assert token.scope == "read_orders,read_customers,write_orders"


def _renew_in_process(cfg: dict, old: str, start, out) -> None:
    from connector.runtime import Runtime

    rt = Runtime(cfg)
    try:
        start.wait(30)
        out.put(service.client_token(rt, "acme", SHOP, rejected=old))
    finally:
        rt.close()


def test_two_processes_that_see_a_401_renew_once(config, runtime, shop):
    """The ledger transaction serialises renewals across processes: the second one finds the
    token the first stored and uses it (spawned processes, each with its own ledger
    connection)."""
    import multiprocessing

    old = service.client_token(runtime, "acme", SHOP)
    shop.state.oauth.expire_tokens()
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=_renew_in_process, args=(config, old, start, out)) for _ in range(2)
    ]
    for p in procs:
        p.start()
    start.set()
    got = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    assert got[0] == got[1] != old
    assert len(grants(shop)) == 2  # the first token, and one renewal for both processes
