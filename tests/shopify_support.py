"""Fixtures shared by the tests/test_shopify_*.py files: a running sandbox shop and a runtime
configured to reach it over HTTP with the real ShopifyAPI SDK."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from connector.devkit.sandbox import RunningServer, serve_in_thread
from connector.devkit.sandbox.shopify import ShopifyState, create_app

SHOP = "deskguard-demo.myshopify.com"
TOKEN = "shpat_test_token_0123456789"
API_SECRET = "shpss_test_app_secret"


@dataclass
class Shop:
    state: ShopifyState
    server: RunningServer

    @property
    def url(self) -> str:
        return self.server.url


def new_state(**state_kwargs) -> ShopifyState:
    kwargs = {
        "shop_domain": SHOP,
        "access_token": TOKEN,
        "api_secret": API_SECRET,
        "restore_rate": 1000.0,
        **state_kwargs,
    }
    return ShopifyState(**kwargs).seed_demo()


def start_shop(**state_kwargs) -> Shop:
    """A shop on its own server (stop it yourself); for tests that need two shops or a dead one."""
    state = new_state(**state_kwargs)
    return Shop(state, serve_in_thread(create_app(state)))


@pytest.fixture(scope="session")
def shop_server():
    """One sandbox server per test process (stopping one costs 0.5 s); ``shop`` swaps its data."""
    running = start_shop()
    yield running
    running.server.stop()


@pytest.fixture
def shop(shop_server):
    """A freshly seeded sandbox shop for this test."""
    state = new_state()
    shop_server.server.server.app.extensions["shopify_state"] = state
    return Shop(state, shop_server.server)


def shop_settings(shop: Shop) -> dict:
    return {
        "shopify_shop": SHOP,
        "shopify_access_token": TOKEN,
        "shopify_api_secret": API_SECRET,
        "shopify_admin_url": shop.url,
        "shopify_timeout_seconds": 5.0,
    }


@pytest.fixture
def shop_config(config, shop) -> dict:
    """The conftest ``config`` plus Shopify settings pointing at the sandbox shop."""
    return {**config, **shop_settings(shop)}
