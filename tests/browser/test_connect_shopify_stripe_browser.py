"""A second tenant connected end to end in headless Chromium, with no CLI step: the admin signs in
to /admin/connections, creates the tenant, connects Zendesk (the sandbox's OAuth page, Allow),
installs the Shopify app as a merchant would (the signed install request, the sandbox shop's
authorize page, Install), links the shop, and pastes a Stripe restricted key. The effects are
checked where they land (the page's states, the tenant's working clients, the Stripe endpoint).
Each flow's clicks and seconds are printed (measured, not asserted); screenshots are kept under
test-artifacts/."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from shopify_support import API_SECRET, start_shop
from stripe_support import start_sandbox
from test_side_panel_browser import browser  # noqa: F401  (the shared headless Chromium)

from connector.bootstrap import ensure_env_tenant
from connector.db import migrate
from connector.devkit.sandbox import serve_in_thread
from connector.devkit.sandbox.stripe import DEFAULT_RESTRICTED_PERMISSIONS
from connector.devkit.sandbox.zendesk import start_zendesk_sandbox
from connector.runtime import Runtime
from connector.web import create_app

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ADMIN = "test-admin-token"
TENANT = "beta"


@pytest.fixture
def world(config):
    """The sidecar and the three vendor sandboxes, wired as a marketplace install is."""
    zendesk = start_zendesk_sandbox(rate_limit_per_minute=None, export_rate_limit_per_minute=None)
    shop = start_shop()
    stripe = start_sandbox()
    rt = Runtime(config)
    migrate(rt.db)
    ensure_env_tenant(rt)
    server = serve_in_thread(create_app(runtime=rt))
    rt.config = rt.config.replace(
        public_url=server.url,
        zendesk_oauth_client_id=zendesk.state.oauth_client.identifier,
        zendesk_oauth_client_secret=zendesk.state.oauth_client.secret,
        zendesk_oauth_url_template=zendesk.url,
        shopify_client_id=shop.state.oauth.client_id,
        shopify_api_secret=API_SECRET,
        shopify_admin_url=shop.url,
        shopify_timeout_seconds=5.0,
        stripe_api_base=stripe.url,
        stripe_max_network_retries=0,
    )
    zendesk.state.oauth_client.redirect_uris.append(server.url + "/connect/zendesk/callback")
    yield rt, server, zendesk, shop, stripe
    threading.Thread(target=server.stop, daemon=True).start()
    stripe.server.stop()
    shop.server.stop()
    zendesk.stop(wait=False)
    rt.close()


class Flow:
    """Clicks and seconds of one connect flow, as an admin or merchant performs it."""

    def __init__(self, name: str, log: list):
        self.name, self.clicks, self.log = name, 0, log

    def __enter__(self):
        self.started = time.perf_counter()
        return self

    def click(self, element) -> None:
        element.click()
        self.clicks += 1

    def __exit__(self, *exc):
        self.log.append((self.name, self.clicks, time.perf_counter() - self.started))


def test_second_tenant_fully_connected_in_the_browser(browser, world):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    rt, server, _zendesk, shop, stripe = world
    browser.set_window_size(1280, 900)  # a desktop console
    ARTIFACTS.mkdir(exist_ok=True)
    wait = WebDriverWait(browser, 60)
    flows: list[tuple[str, int, float]] = []

    def shot(name: str) -> None:
        browser.save_screenshot(str(ARTIFACTS / f"connect-{name}.png"))

    def state(service: str) -> str:
        cell = browser.find_element(By.CSS_SELECTOR, f'#tenant-{TENANT} [data-service="{service}"]')
        return cell.get_attribute("data-connected")

    with Flow("sign in and create the tenant", flows) as f:
        browser.get(server.url + "/admin/connections")
        browser.find_element(By.ID, "token").send_keys(ADMIN)
        f.click(browser.find_element(By.CSS_SELECTOR, "form button[type=submit]"))
        wait.until(ec.presence_of_element_located((By.ID, "new-tenant")))
        browser.find_element(By.ID, "tenant-id").send_keys(TENANT)
        browser.find_element(By.ID, "tenant-name").send_keys("Beta Store")
        f.click(browser.find_element(By.CSS_SELECTOR, "#new-tenant button"))
        wait.until(ec.presence_of_element_located((By.ID, f"tenant-{TENANT}")))
    shot("1-tenant-created")

    with Flow("connect Zendesk", flows) as f:
        field = browser.find_element(By.ID, f"zd-{TENANT}")
        field.clear()
        field.send_keys(TENANT)
        f.click(browser.find_element(By.CSS_SELECTOR, f'#tenant-{TENANT} [name="connect-zendesk"]'))
        allow = wait.until(ec.element_to_be_clickable((By.ID, "allow")))
        shot("2-zendesk-authorize")
        f.click(allow)
        wait.until(
            ec.presence_of_element_located((By.CSS_SELECTOR, '#status[data-status="connected"]'))
        )
    shot("3-zendesk-connected")

    with Flow("install on Shopify and link the shop", flows) as f:
        # The merchant starts from the store's admin: Shopify sends the signed install request.
        browser.get(shop.state.oauth.install_request_url(server.url + "/shopify/install"))
        install = wait.until(ec.element_to_be_clickable((By.ID, "install")))
        shot("4-shopify-authorize")
        f.click(install)
        wait.until(ec.presence_of_element_located((By.ID, "link-shop")))
        shot("5-shopify-installed")
        Select(browser.find_element(By.ID, "link-tenant")).select_by_visible_text(TENANT)
        f.click(browser.find_element(By.CSS_SELECTOR, "#link-shop button"))
        wait.until(ec.presence_of_element_located((By.ID, "flash")))
    shot("6-shopify-linked")

    key = stripe.state.add_key("rk_test_browser_beta", set(DEFAULT_RESTRICTED_PERMISSIONS))
    with Flow("connect Stripe", flows) as f:
        browser.find_element(By.ID, f"rk-{TENANT}").send_keys(key)
        f.click(browser.find_element(By.CSS_SELECTOR, f'#tenant-{TENANT} [name="connect-stripe"]'))
        wait.until(ec.presence_of_element_located((By.ID, "flash")))
    shot("7-all-connected")

    for name, clicks, seconds in flows:
        print(f"connect flow: {name}: {clicks} clicks, {seconds:.2f} s")
    assert "Stripe is connected" in browser.find_element(By.ID, "flash").text
    assert (state("zendesk"), state("shopify"), state("stripe")) == ("yes", "yes", "yes")
    # Connected for real: the tenant's clients work against the sandboxes.
    services = rt.services(TENANT)
    assert services.require_desk() is not None
    assert services.require_orders().find_orders(order_name="#1001")
    assert services.require_payments().payment_context("nobody@example.com").customer_id is None
    [endpoint] = stripe.state.endpoint_objects.values()
    assert endpoint["url"] == f"{server.url}/webhooks/stripe/{TENANT}"
    assert key not in browser.page_source
