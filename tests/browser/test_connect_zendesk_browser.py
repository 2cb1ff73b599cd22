"""Connect a Zendesk account in headless Chromium: the admin signs in, Deskguard sends the browser
to the (emulated) Zendesk authorization page, the admin clicks Allow, and our page says
connected. The screenshot of each page is kept under test-artifacts/; the clicks and seconds of
the flow are printed (figures for the docs, not assertions)."""

from __future__ import annotations

import threading
import time
from urllib.parse import quote

import pytest
from test_side_panel_browser import artifacts, browser  # noqa: F401  (fixtures)
from zendesk_support import sandbox  # noqa: F401  (fixture)

from connector.db import migrate
from connector.devkit.sandbox import serve_in_thread
from connector.runtime import Runtime
from connector.web import create_app
from connector.zendesk.oauth import load_tokens
from connector.zendesk.service import account

pytestmark = pytest.mark.browser


@pytest.fixture
def connectable(config, sandbox):  # noqa: F811
    rt = Runtime(config)
    migrate(rt.db)
    server = serve_in_thread(create_app(runtime=rt))
    rt.config = rt.config.replace(
        public_url=server.url,
        zendesk_oauth_client_id=sandbox.state.oauth_client.identifier,
        zendesk_oauth_client_secret=sandbox.state.oauth_client.secret,
        zendesk_oauth_url_template=sandbox.url,
    )
    sandbox.state.oauth_client.redirect_uris.append(server.url + "/connect/zendesk/callback")
    yield rt, server
    threading.Thread(target=server.stop, daemon=True).start()
    rt.close()


def test_an_admin_connects_zendesk_in_the_browser(
    browser,  # noqa: F811
    artifacts,  # noqa: F811
    connectable,
    sandbox,  # noqa: F811
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    def element(element_id: str):
        """The element once the page that has it has loaded (a click starts a navigation that
        may not have finished yet on a busy machine)."""
        return WebDriverWait(browser, 60).until(ec.presence_of_element_located((By.ID, element_id)))

    rt, server = connectable
    clicks = 0
    started = time.monotonic()
    target = "/admin/connect/zendesk?subdomain=gamma"
    browser.get(f"{server.url}/admin/login?next={quote(target, safe='')}")
    element("token").send_keys("test-admin-token")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    clicks += 1
    assert element("subdomain").text == "gamma"
    element("continue").click()  # "Connect Zendesk"
    clicks += 1
    # Zendesk's authorization page (the emulator's), reached through our 302.
    consent = element("consent")
    assert "deskguard" in consent.text and browser.current_url.startswith(sandbox.url)
    browser.save_screenshot(str(artifacts / "connect-zendesk-1-authorize.png"))
    element("allow").click()
    clicks += 1
    status = element("status")
    elapsed = time.monotonic() - started
    browser.save_screenshot(str(artifacts / "connect-zendesk-2-connected.png"))
    assert status.get_attribute("data-status") == "connected", browser.page_source
    assert element("tenant").text == "gamma"
    assert load_tokens(rt, rt.db, "gamma").grant == "authorization_code"
    assert account(rt.db, "gamma")["webhook_id"] in sandbox.state.webhooks
    print(f"connect Zendesk: {clicks} clicks (plus typing the admin token), {elapsed:.2f} s")
