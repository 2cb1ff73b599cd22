"""The manager's dashboard in headless Chromium, signed in with the admin token: at a phone's
390 px and a desktop's 1280 px nothing overflows sideways, every chart is drawn inside the page,
the tables turn into cards on the phone, and the figures shown are the ledger's. Full-page
screenshots are kept under test-artifacts/ (dashboard-*.png)."""

from __future__ import annotations

import random
import threading

import pytest
from panel_support import TENANT, add_decision
from test_console_browser import shot
from test_dashboard_manager_figures import build_manager_ledger, day
from test_side_panel_browser import artifacts, browser  # noqa: F401  (fixtures)

from connector.dashboard import metrics as dashboard_metrics
from connector.devkit.sandbox import serve_in_thread
from connector.panel.auth import Agent
from connector.panel.ticket_view import record_feedback
from connector.web import create_app

pytestmark = pytest.mark.browser
PHONE, DESKTOP = 390, 1280
CHARTS = 8
# A fortnight of traffic: (category, share of tickets, outcome, usual confidence)
TRAFFIC = (
    ("order_status", 5, "auto_reply", 0.93),
    ("shipping_problem", 2, "assist_note", 0.78),
    ("refund", 2, "assist_note", 0.74),
    ("return_exchange", 1, "assist_note", 0.7),
    ("complaint_feedback", 1, "escalate", 0.62),
    ("product_question", 1, "shadow", 0.66),
    ("payment_billing", 1, "assist_note", 0.58),
    ("account", 1, "shadow", 0.52),
)


def fortnight(db) -> None:
    """About a hundred decisions over 14 days with agents' verdicts, from a fixed seed."""
    rng = random.Random(17)
    agent = Agent(TENANT, id="502", name="Bo Agent", verified=True)
    ticket = 1000
    for offset in range(13, -1, -1):
        for category, share, outcome, confidence in TRAFFIC:
            for _ in range(rng.randint(0, share + 1)):
                ticket += 1
                stated = min(0.99, max(0.3, rng.gauss(confidence, 0.12)))
                decision_id = add_decision(
                    db,
                    TENANT,
                    ticket,
                    category=category,
                    confidence=round(stated, 3),
                    outcome=outcome,
                    cost_usd=round(rng.uniform(0.0005, 0.004), 5),
                    created_at=day(offset, rng.randint(8, 18)),
                )
                if rng.random() < 0.6:
                    right = rng.random() < stated
                    wrong = {} if right else {"correct_category": "other"}
                    verdict = "right" if right else "wrong"
                    record_feedback(db, agent, ticket, {"verdict": verdict, **wrong})
                    db.conn.execute(
                        "UPDATE feedback SET created_at = ? WHERE decision_id = ?",
                        (day(offset, 19), decision_id),
                    )
    db.conn.commit()


@pytest.fixture
def dashboard_site(runtime):
    build_manager_ledger(runtime.db)
    fortnight(runtime.db)
    server = serve_in_thread(create_app(runtime=runtime))
    yield runtime, server
    threading.Thread(target=server.stop, daemon=True).start()


def at_width(driver, width: int) -> None:
    driver.set_window_size(width, 900)
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600},
    )


LAYOUT_JS = """
const charts = [...document.querySelectorAll('svg.chart')].map(s => {
  const r = s.getBoundingClientRect();
  return {label: s.getAttribute('aria-label'), left: r.left, right: r.right, width: r.width,
          height: r.height};
});
const wide = [...document.querySelectorAll('main *')].filter(
  e => e.getBoundingClientRect().right > window.innerWidth + 0.5).map(
  e => e.tagName + (e.id ? '#' + e.id : '') + '.' + e.className);
return {scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
        charts: charts, wide: wide.slice(0, 10),
        theadHidden: getComputedStyle(document.querySelector('#category-table thead')).position
          === 'absolute'};
"""


def test_the_dashboard_fits_a_phone_and_a_desktop(
    browser,  # noqa: F811
    artifacts,  # noqa: F811
    dashboard_site,
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    rt, server = dashboard_site
    wait = WebDriverWait(browser, 60)
    at_width(browser, PHONE)
    browser.get(server.url + "/admin/login")
    browser.find_element(By.ID, "token").send_keys("test-admin-token")
    browser.find_element(By.CSS_SELECTOR, "#token-login button").click()
    wait.until(ec.presence_of_element_located((By.ID, "card-time-saved")))
    browser.get(server.url + f"/admin/?tenant={TENANT}&days=14")
    wait.until(ec.presence_of_element_located((By.ID, "reliability")))

    m = dashboard_metrics.summary(rt, TENANT, days=14)
    card = browser.find_element(By.CSS_SELECTOR, "#card-time-saved .value").text
    assert card == f"{m['time_saved']['hours']:g} h"
    assert browser.find_element(By.CSS_SELECTOR, "#card-automation .value").text == (
        f"{m['automation_rate']:.0%}"
    )

    for width, name in ((PHONE, "phone"), (DESKTOP, "desktop")):
        at_width(browser, width)
        layout = browser.execute_script(LAYOUT_JS)
        assert layout["innerWidth"] == width
        assert layout["scrollWidth"] <= layout["innerWidth"], layout["wide"]
        assert not layout["wide"], layout["wide"]
        assert len(layout["charts"]) == CHARTS
        for chart in layout["charts"]:
            assert chart["width"] > 200 and chart["height"] > 100, chart
            assert chart["left"] >= 0 and chart["right"] <= width, chart
        # the console's card layout for tables below 600 px, plain tables above
        assert layout["theadHidden"] is (width < 600)
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        shot(browser, artifacts / f"dashboard-14d-{name}.png", width)

    # a quarter: the trends are drawn per week
    browser.get(server.url + f"/admin/?tenant={TENANT}&days=90")
    wait.until(ec.presence_of_element_located((By.ID, "reliability")))
    labels = [
        s.get_attribute("aria-label") for s in browser.find_elements(By.CSS_SELECTOR, "svg.chart")
    ]
    assert "Decisions per week" in labels
    for width, name in ((PHONE, "phone"), (DESKTOP, "desktop")):
        at_width(browser, width)
        layout = browser.execute_script(LAYOUT_JS)
        assert layout["scrollWidth"] <= layout["innerWidth"], layout["wide"]
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        shot(browser, artifacts / f"dashboard-90d-{name}.png", width)
