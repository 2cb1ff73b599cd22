"""The admin console in headless Chromium, clicked through as an admin would, with no CLI step:
sign in with Zendesk (the emulator's authorization page), run a replay, read the go-live gate,
switch a category from shadow to auto with a reason, and flip the kill switch with a reason and
a confirmation; and open the console from the Zendesk app's nav_bar (signed launch). Full-page
screenshots at phone (390 px) and desktop (1280 px) widths are kept under test-artifacts/."""

from __future__ import annotations

import base64
import threading

import pytest
from console_support import add_person, console_runtime, shadow_history
from panel_support import TENANT, install_app_for
from test_side_panel_browser import artifacts, browser  # noqa: F401  (fixtures)
from zendesk_support import sandbox  # noqa: F401  (fixture)

from connector import jobs, tenants
from connector.devkit.sandbox import serve_in_thread
from connector.devkit.sandbox.zendesk.app_signing import launch_page_url
from connector.devkit.sandbox.zendesk.demo import demo_tickets
from connector.pipeline import policy
from connector.web import create_app

pytestmark = pytest.mark.browser
PHONE, DESKTOP = 390, 1280


@pytest.fixture
def console_site(config, sandbox):  # noqa: F811
    """The sidecar on a port, against the sandbox, with one worker thread for replays."""
    rt = console_runtime(config, sandbox, public_url="http://127.0.0.1:0")
    app = create_app(runtime=rt)
    server = serve_in_thread(app)
    rt.config = rt.config.replace(public_url=server.url)
    sandbox.state.oauth_client.redirect_uris.append(server.url + "/admin/login/zendesk/callback")
    sandbox.state.seed(demo_tickets()[:12])
    shadow_history(rt.db, "order_status", agreed=60)
    pool = jobs.worker_pool(rt, 1)
    pool.start()
    yield rt, server
    pool.stop()
    threading.Thread(target=server.stop, daemon=True).start()
    rt.close()


def shot(driver, path, width: int) -> None:
    """A full-page screenshot at ``width`` CSS pixels."""
    driver.set_window_size(width, 900)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    data = driver.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}
    )
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    path.write_bytes(base64.b64decode(data["data"]))


def both(driver, artifacts, name: str) -> None:  # noqa: F811
    shot(driver, artifacts / f"console-{name}-phone.png", PHONE)
    shot(driver, artifacts / f"console-{name}-desktop.png", DESKTOP)


def test_an_admin_takes_a_category_to_auto_and_flips_the_kill_switch(
    browser,  # noqa: F811
    artifacts,  # noqa: F811
    console_site,
    sandbox,  # noqa: F811
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    rt, server = console_site
    wait = WebDriverWait(browser, 60)
    ada = add_person(sandbox)
    sandbox.state.browser_user_id = ada["id"]

    # Sign in with Zendesk: our login page, Zendesk's authorization page, back to the console.
    browser.set_window_size(PHONE, 900)
    browser.get(server.url + "/admin/login")
    both(browser, artifacts, "1-login")
    browser.find_element(By.ID, "zendesk-signin").click()
    wait.until(ec.presence_of_element_located((By.ID, "consent")))
    assert browser.current_url.startswith(sandbox.url)
    assert browser.find_element(By.ID, "user").text == ada["email"]
    both(browser, artifacts, "2-zendesk-authorize")
    browser.find_element(By.ID, "allow").click()
    wait.until(ec.presence_of_element_located((By.ID, "kill-switch")))
    assert "Ada Admin" in browser.find_element(By.ID, "who").text
    assert browser.find_element(By.ID, "mode-order_status").text == "shadow"
    both(browser, artifacts, "3-overview")

    # Run a replay over the last 30 days and read its report when the worker is done.
    days = browser.find_element(By.ID, "replay-days")
    days.clear()
    days.send_keys("30")
    browser.find_element(By.ID, "replay-submit").click()
    wait.until(
        lambda d: (
            d.find_element(By.ID, "replay-state").get_attribute("data-state") in ("done", "failed")
        )
    )
    assert browser.find_element(By.ID, "replay-state").get_attribute("data-state") == "done"
    assert browser.find_element(By.ID, "replay-order_status").is_displayed()
    both(browser, artifacts, "4-replay-report")

    # Read the go-live gate and switch order_status to auto with a reason.
    browser.find_element(By.CSS_SELECTOR, "#replay-order_status a").click()
    gate = wait.until(ec.presence_of_element_located((By.ID, "gate")))
    assert gate.get_attribute("data-ready") == "yes"
    assert browser.find_element(By.ID, "gate-tickets").text == "60"
    Select(browser.find_element(By.ID, "mode")).select_by_value("auto")
    browser.find_element(By.ID, "reason").send_keys("replay and gate look good")
    both(browser, artifacts, "5-gate-and-mode")
    browser.find_element(By.ID, "save").click()
    wait.until(ec.presence_of_element_located((By.ID, "flash")))
    assert browser.find_element(By.ID, "mode-order_status").text == "auto"
    assert policy.load(rt.db, TENANT).category("order_status").mode == "auto"

    # The kill switch, with a reason and a confirmation.
    browser.find_element(By.ID, "kill-reason").send_keys("customers report wrong answers")
    browser.find_element(By.ID, "kill-submit").click()
    wait.until(ec.presence_of_element_located((By.ID, "confirm-kill")))
    assert not tenants.kill_switch_on(rt.db, TENANT)
    both(browser, artifacts, "6-kill-confirm")
    browser.find_element(By.ID, "confirm").click()
    wait.until(lambda d: d.find_element(By.ID, "kill-switch").get_attribute("data-on") == "on")
    assert tenants.kill_switch_on(rt.db, TENANT)
    both(browser, artifacts, "7-kill-on")
    actors = [
        r[0]
        for r in rt.db.conn.execute(
            "SELECT json_extract(data, '$.actor') FROM audit_log WHERE kind = 'setting.changed'"
            " AND json_extract(data, '$.name') IN ('policy', 'kill_switch')"
        )
    ]
    assert actors and all(a.startswith(f"zendesk_user:{ada['id']}") for a in actors[-2:])


def test_an_admin_opens_the_console_from_the_zendesk_nav_bar(
    browser,  # noqa: F811
    artifacts,  # noqa: F811
    console_site,
    sandbox,  # noqa: F811
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    rt, server = console_site
    wait = WebDriverWait(browser, 60)
    browser.delete_all_cookies()
    ada = add_person(sandbox, "Nav Admin")
    inst = install_app_for(rt, sandbox, server.url)
    browser.get(launch_page_url(sandbox.state, inst["id"], ada["id"], location="nav_bar"))
    link = wait.until(ec.presence_of_element_located((By.ID, "open-console")))
    both(browser, artifacts, "8-nav-bar-launch")
    browser.get(link.get_attribute("href"))  # what the new tab opens
    wait.until(ec.presence_of_element_located((By.ID, "kill-switch")))
    assert "Nav Admin" in browser.find_element(By.ID, "who").text
