"""The side panel and dashboard in headless Chromium.

The production page (/panel/app) is opened as Zendesk opens it: the Zendesk sandbox's launch page
makes the browser POST a launch token it signed for one agent, and the sidecar verifies it against
the sandbox's public key. A stand-in for the ZAF client (connector/panel/static/zaf-shim.js, the
same file the demo uses) is injected before any page script runs; it records `invoke` calls and
performs `request` with the secure token substituted, like the Zendesk proxy. The real ZAF SDK URL
is blocked, so nothing leaves the machine. Effects are checked where they land: the recorded
insert call and the feedback row in SQLite. Who the agent is comes from the signed launch; what
they may do (approve, kill switch) from the Zendesk sandbox, as in production: the stand-in's
``currentUser`` only claims an id and a role, and is ignored.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
from pathlib import Path

import pytest
from panel_support import TENANT, add_decision, install_app_for
from zendesk_support import make_runtime, zendesk_config

from connector import tenants
from connector.devkit.sandbox import serve_in_thread
from connector.devkit.sandbox.zendesk import start_zendesk_sandbox
from connector.devkit.sandbox.zendesk.app_signing import launch_page_url
from connector.panel.auth import issue_token
from connector.web import create_app

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _find(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


CHROMIUM = _find("chromium", "chromium-browser", "google-chrome")
CHROMEDRIVER = _find("chromedriver")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not CHROMIUM or not CHROMEDRIVER:
        pytest.skip(
            "headless Chromium is not installed (apt-get install chromium chromium-driver, "
            "or `make browser`)"
        )
    webdriver = pytest.importorskip(
        "selenium.webdriver", reason="selenium is not installed (pip install -e '.[dev]')"
    )
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager reach for the network
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-extensions",
        "--no-first-run",
        "--disable-sync",
        "--disable-component-update",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture
def sidecar(runtime):
    server = serve_in_thread(create_app(runtime=runtime))
    yield server
    server.stop()


@pytest.fixture
def zendesk():
    sb = start_zendesk_sandbox(rate_limit_per_minute=None, export_rate_limit_per_minute=None)
    yield sb
    sb.stop(wait=False)


@pytest.fixture
def zd_sidecar(config, zendesk):
    """The sidecar against the Zendesk sandbox (which signs the panel's launches and where the
    role checks look agents up), with the Deskguard app installed there."""
    rt = make_runtime(zendesk_config(config, zendesk))
    server = serve_in_thread(create_app(runtime=rt))
    install_app_for(rt, zendesk, server.url)
    yield rt, server
    server.stop()
    rt.close()


def open_panel(driver, zendesk, user_id: int, ticket_id: int) -> None:
    """Open the panel as Zendesk does for ``user_id``: a signed launch, POSTed by the browser."""
    installation = zendesk.state.installations[-1]["id"]
    driver.get(launch_page_url(zendesk.state, installation, user_id, ticket_id))


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


SHIM = (
    Path(__file__).resolve().parents[2] / "connector" / "panel" / "static" / "zaf-shim.js"
).read_text()
REPLY = "Hi Jane, your order #1001 shipped today with DHL (JD0002)."


@contextlib.contextmanager
def zaf_stand_in(
    driver,
    *,
    sidecar_url: str,
    token: str,
    ticket_id: int,
    role: str = "agent",
    agent_id: int = 501,
):
    """Inject the ZAF stand-in into every page loaded inside the block."""
    config = {
        "settings": {
            "sidecar_url": sidecar_url,
            "kill_switch": False,
            "default_mode": "assist",
            "auto_categories": "",
        },
        "secure": {"api_token": token},
        "context": {
            "ticket.id": ticket_id,
            "currentUser": {"id": agent_id, "name": "Ana Agent", "role": role},
        },
    }
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*zdassets.com*"]})
    script = driver.execute_cdp_cmd(
        "Page.addScriptToEvaluateOnNewDocument",
        {"source": f"window.DESKGUARD_ZAF_SHIM = {json.dumps(config)};\n{SHIM}"},
    )
    try:
        yield
    finally:
        driver.execute_cdp_cmd(
            "Page.removeScriptToEvaluateOnNewDocument", {"identifier": script["identifier"]}
        )


def full_page_screenshot(driver, path: Path) -> None:
    """The whole page at the current width (a plain screenshot stops at the viewport)."""
    driver.execute_script("window.scrollTo(0, 0)")
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        },
    )
    path.write_bytes(base64.b64decode(shot["data"]))


def wait_for(driver, condition, timeout: float = 60):
    """Wait for ``condition``; the panel re-renders its DOM after every call, so an element read
    mid-render may go stale or be missing for a moment: those count as "not yet"."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(
        driver, timeout, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)
    ).until(condition)


def state_is(*states):
    def check(driver):
        return (
            driver.execute_script(
                "return document.getElementById('app').getAttribute('data-state')"
            )
            in states
        )

    return check


def text_of(driver, css: str) -> str:
    """The element's visible text, found and read in one step in the page: the panel re-renders
    its DOM after every call, so an element found first and read after may have gone stale."""
    text = driver.execute_script(
        "const e = document.querySelector(arguments[0]); return e ? e.innerText : null", css
    )
    assert text is not None, f"no element {css!r}"
    return text


def click(driver, css: str) -> None:
    """Click the element, finding it again if a re-render made it stale in between."""
    from selenium.webdriver.common.by import By

    wait_for(driver, lambda d: d.find_element(By.CSS_SELECTOR, css).click() or True)


def test_side_panel_renders_inserts_and_records_feedback(browser, zd_sidecar, zendesk, artifacts):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    runtime, sidecar = zd_sidecar
    agent = zendesk.state.add_user("Ana Agent", "ana@shop.example", role="agent")
    db = runtime.db
    token = issue_token(db, TENANT)[1]
    decision_id = add_decision(
        db, TENANT, 7, category="order_status", confidence=0.93, suggested_reply=REPLY
    )
    browser.set_window_size(320, 1000)
    # the stand-in claims agent 501; the signed launch says Ana: feedback is Ana's
    with zaf_stand_in(browser, sidecar_url=sidecar.url, token=token, ticket_id=7):
        open_panel(browser, zendesk, agent["id"], 7)
        wait_for(browser, state_is("processed", "error"))
        assert (
            browser.execute_script("return document.getElementById('app').dataset.state")
            == "processed"
        )

        assert text_of(browser, "#category").lower() == "order status"
        assert text_of(browser, "#confidence") == "93%"
        assert "Shipping problem 4%" in text_of(browser, "#runners-up")
        assert "Upset" in text_of(browser, ".chips") and "Urgent" in text_of(browser, ".chips")
        assert "mentions order #1001" in text_of(browser, "#reasons")
        assert text_of(browser, "#outcome") == "Suggested reply for an agent"
        assert "PAID" not in text_of(browser, "#context")  # words, not Shopify's codes
        context = text_of(browser, "#context")
        assert "#1001" in context and "49.90 EUR" in context and "JD0002" in context
        assert text_of(browser, "#suggested-reply") == REPLY
        # fits the 320 px sidebar: nothing overflows sideways
        assert browser.execute_script("return document.documentElement.scrollWidth") <= 320

        click(browser, "#insert-reply")
        wait_for(browser, lambda d: text_of(d, "#insert-reply") == "Inserted ✓")
        calls = browser.execute_script("return window.__zafCalls")
        assert ["ticket.editor.insert", REPLY] in calls["invoke"]
        # every call went through the proxy path with the secure setting
        assert calls["request"] and all(r["secure"] for r in calls["request"])
        assert token not in browser.page_source

        click(browser, "#feedback-right")
        wait_for(browser, lambda d: "You said: right" in text_of(d, "#feedback-status"))
        rows = db.conn.execute(
            "SELECT decision_id, agent_id, verdict, correct_category, source FROM feedback"
            " WHERE tenant_id = ?",
            (TENANT,),
        ).fetchall()
        assert rows == [(decision_id, str(agent["id"]), "right", "order_status", "panel")]

        Select(browser.find_element(By.ID, "feedback-category")).select_by_value("shipping_problem")
        click(browser, "#feedback-save")
        wait_for(browser, lambda d: "Shipping problem" in text_of(d, "#feedback-status"))
        rows = db.conn.execute(
            "SELECT verdict, correct_category FROM feedback WHERE tenant_id = ?", (TENANT,)
        ).fetchall()
        assert rows == [("wrong", "shipping_problem")]
        full_page_screenshot(browser, artifacts / "side-panel.png")
    assert (artifacts / "side-panel.png").stat().st_size > 0


def permissions_are(*states):
    def check(driver):
        return (
            driver.execute_script(
                "return document.getElementById('app').getAttribute('data-permissions')"
            )
            in states
        )

    return check


def test_unprocessed_ticket_and_admin_kill_switch(browser, zd_sidecar, zendesk):
    runtime, sidecar = zd_sidecar
    admin = zendesk.state.add_user("Ada Admin", "ada@shop.example", role="admin")
    token = issue_token(runtime.db, TENANT)[1]
    browser.set_window_size(320, 800)
    with zaf_stand_in(
        browser,
        sidecar_url=sidecar.url,
        token=token,
        ticket_id=99,
        role="admin",
        agent_id=admin["id"],
    ):
        open_panel(browser, zendesk, admin["id"], 99)
        wait_for(browser, state_is("not_processed", "error"))
        assert "has not processed this ticket yet" in text_of(browser, ".state")
        wait_for(browser, permissions_are("ok"))
        assert text_of(browser, "#kill-switch-state") == "off"
        click(browser, "#kill-switch-toggle")
        assert text_of(browser, "#kill-switch-toggle") == "Click again to confirm"
        assert tenants.kill_switch_on(runtime.db, TENANT) is False
        click(browser, "#kill-switch-toggle")
        wait_for(browser, lambda d: "ON" in text_of(d, "#kill-switch-state"))
    assert tenants.kill_switch_on(runtime.db, TENANT) is True


def test_a_claimed_admin_role_shows_no_admin_controls_and_zendesk_down_says_so(
    browser, zd_sidecar, zendesk
):
    from selenium.webdriver.common.by import By

    from connector.commerce import approvals

    runtime, sidecar = zd_sidecar
    agent = zendesk.state.add_user("Ana Agent", "ana@shop.example", role="agent")
    admin = zendesk.state.add_user("Ada Admin", "ada@shop.example", role="admin")
    add_decision(runtime.db, TENANT, 7, suggested_reply=REPLY)
    approvals.propose(
        runtime.db,
        TENANT,
        7,
        "refund",
        {
            "payment_intent": "pi_1",
            "amount": 1500,
            "currency": "eur",
            "reason": "requested_by_customer",
        },
        "policy:test",
        "damaged",
    )
    token = issue_token(runtime.db, TENANT)[1]
    browser.set_window_size(320, 1000)
    # an agent whose browser claims to be the admin: the signed launch says Ana, Zendesk says
    # agent, so no approve buttons and no kill switch
    with zaf_stand_in(
        browser,
        sidecar_url=sidecar.url,
        token=token,
        ticket_id=7,
        role="admin",
        agent_id=admin["id"],
    ):
        open_panel(browser, zendesk, agent["id"], 7)
        wait_for(browser, state_is("processed", "error"))
        wait_for(browser, permissions_are("ok"))
        assert "An admin or an approver must approve this." in text_of(browser, "#approvals")
        assert not browser.find_elements(By.CSS_SELECTOR, "#approvals button")
        assert not browser.find_elements(By.ID, "kill-switch")
    # a real admin while Zendesk is down: the brief still renders; approving says why it is
    # unavailable
    zendesk.state.fail_next.extend([(503, "ServiceUnavailable")] * 100)
    with zaf_stand_in(
        browser,
        sidecar_url=sidecar.url,
        token=token,
        ticket_id=7,
        role="admin",
        agent_id=admin["id"],
    ):
        open_panel(browser, zendesk, admin["id"], 7)
        wait_for(browser, state_is("processed", "error"))
        assert (
            browser.execute_script("return document.getElementById('app').dataset.state")
            == "processed"
        )
        wait_for(browser, permissions_are("unavailable"))
        assert "Zendesk could not be reached" in text_of(browser, "#approvals .role-check")
        assert text_of(browser, "#suggested-reply") == REPLY
        assert not browser.find_elements(By.ID, "kill-switch")


def test_bad_token_shows_a_clear_error(browser, sidecar, runtime):
    browser.set_window_size(320, 600)
    with zaf_stand_in(browser, sidecar_url=sidecar.url, token="dgapp_wrong", ticket_id=7):
        browser.get(f"{sidecar.url}/panel/app")
        wait_for(browser, state_is("error"))
        assert "API token is missing or not valid" in text_of(browser, ".state-error")


def test_demo_link_works_in_a_plain_browser(browser, config, zendesk):
    """The demo's side-panel link: the sandbox's launch page, then the sidecar's stand-in client
    (demo mode only); no injected script."""
    rt = make_runtime(zendesk_config(config, zendesk, demo_mode="true"))
    add_decision(rt.db, TENANT, 3, suggested_reply=REPLY)
    server = serve_in_thread(create_app(runtime=rt))
    install_app_for(rt, zendesk, server.url)
    agent = zendesk.state.add_user("Ana Agent", "ana@shop.example", role="agent")
    try:
        browser.set_window_size(360, 900)
        open_panel(browser, zendesk, agent["id"], 3)
        wait_for(browser, state_is("processed", "error"))
        # the panel renders again when Zendesk's answer on the agent's role arrives
        wait_for(browser, permissions_are("ok", "unavailable", "denied"))
        click(browser, "#insert-reply")
        wait_for(browser, lambda d: text_of(d, "#demo-inserted-text") == REPLY)
    finally:
        server.stop()
        rt.close()


def test_admin_dashboard_on_a_phone(browser, sidecar, runtime, artifacts):
    from selenium.webdriver.common.by import By

    for i, outcome in enumerate(("auto_reply", "assist_note", "escalate", "auto_reply")):
        add_decision(runtime.db, TENANT, 100 + i, outcome=outcome, cost_usd=0.001)
    browser.set_window_size(390, 900)
    browser.get(f"{sidecar.url}/admin/")
    browser.find_element(By.ID, "token").send_keys("test-admin-token")
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait_for(browser, lambda d: d.find_elements(By.ID, "card-processed"))
    assert text_of(browser, "#card-automation .value") == "50%"
    assert browser.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth"
    )
    browser.find_element(By.CSS_SELECTOR, "#decisions a").click()
    wait_for(browser, lambda d: "Audit trail" in d.page_source)
    assert "Ticket #103" in browser.find_element(By.TAG_NAME, "h1").text
    browser.back()
    wait_for(browser, lambda d: d.find_elements(By.ID, "card-processed"))
    full_page_screenshot(browser, artifacts / "admin-dashboard-phone.png")
