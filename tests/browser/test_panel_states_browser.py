"""Every side-panel state, and every demo ticket, at 320 px in headless Chromium.

The data is real: `deskguard demo`'s stack (Zendesk, Shopify and Stripe sandboxes, the local
model, workers) processes the demo tickets of connector/devkit/sandbox/zendesk/demo_tickets.json
and then plays the demo's scenarios (auto-answered WISMO, proposed cancellation, VIP escalation,
proposed refund approved under the kill switch, shadow mode, a ticket held by the kill switch, a
Stripe chargeback). The panel is opened as Zendesk opens it, through the Zendesk sandbox's signed
launch, as the demo's admin (Dana Admin) at a 320 x 560 viewport.

Why 560 px of height: the ticket sidebar is 320 px wide; its height is what is left of the most
common laptop screen (1366 x 768) after the OS task bar (~40 px), the browser's tab strip and
toolbar (~80 px), Zendesk's top bar (~50 px) and the apps panel header (~40 px): about 560 px.
Taller screens only show more. What an agent acts on (Approve / Reject, a held action, the kill
switch hold, the suggested reply and Insert) must lie inside that first viewport; each test
asserts the bounding boxes and keeps a screenshot in test-artifacts/.
"""

from __future__ import annotations

import base64
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from test_side_panel_browser import (  # noqa: F401  (the browser fixture is used by name)
    ARTIFACTS,
    browser,
    full_page_screenshot,
    permissions_are,
    state_is,
    text_of,
    wait_for,
)

pytestmark = pytest.mark.browser

WIDTH, HEIGHT = 320, 560
TENANT = "demo"


def _wait(predicate, timeout: float = 60.0, step: float = 0.1) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())


@pytest.fixture(scope="module")
def demo(browser):  # noqa: F811  (browser first: without Chromium the stack is never started)
    """The demo stack with the demo tickets processed and the demo's scenarios played."""
    from connector.devkit import demo as demo_mod
    from connector.devkit.sandbox.zendesk.demo import demo_tickets

    data_dir = Path(tempfile.mkdtemp(prefix="deskguard-panel-states-"))
    d = demo_mod.Demo(port=demo_mod._free_port(0), engine="local", data_dir=data_dir)
    try:
        d.start()
        d.configure()
        d.run_workers()
        d.json_tickets = []
        # One at a time, as customers write: the Shopify sandbox throttles bursts like Shopify.
        for t in demo_tickets():
            tid = d.zendesk.state.customer_writes(
                subject=t["subject"], body=t["body"], name=t["name"], email=t["email"]
            )["id"]
            assert _wait(lambda tid=tid: d._decision(tid) is not None), f"ticket {tid}"
            d.json_tickets.append((tid, t["subject"]))
        d.play()
        yield d
    finally:
        d.stop()


def _scenario(key: str) -> int:
    from connector.devkit import demo as demo_mod

    if key == "blocked":
        return demo_mod.BLOCKED.require_ticket_id()
    return next(s for s in demo_mod.SCENARIOS if s.key == key).require_ticket_id()


def _viewport(driver) -> None:
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False},
    )


def open_as_admin(driver, d, ticket_id: int, *, blocked: list[str] | None = None) -> None:
    """The signed launch for Dana Admin; waits until the view and her permissions are in."""
    from connector.devkit.sandbox.zendesk.app_signing import launch_page_url

    _viewport(driver)
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": blocked or []})
    url = launch_page_url(d.zendesk.state, d.installation["id"], d.demo_admin["id"], ticket_id)
    driver.get(url)
    if blocked:
        wait_for(driver, state_is("error"))
        return
    wait_for(driver, state_is("processed", "deferred", "not_processed", "failed", "error"))
    wait_for(driver, permissions_are("ok", "unavailable", "denied"))


BOXES = """
return Array.from(document.querySelectorAll(arguments[0])).map(function (el) {
  var r = el.getBoundingClientRect();
  return {top: r.top, bottom: r.bottom, left: r.left, right: r.right, text: el.textContent};
});
"""


def boxes(driver, css: str) -> list[dict[str, Any]]:
    driver.execute_script("window.scrollTo(0, 0)")
    return driver.execute_script(BOXES, css)


def assert_in_first_viewport(driver, css: str) -> list[dict[str, Any]]:
    found = boxes(driver, css)
    assert found, f"nothing matches {css!r}"
    for b in found:
        assert b["top"] >= 0 and b["bottom"] <= HEIGHT, (css, b)
        assert b["left"] >= 0 and b["right"] <= WIDTH, (css, b)
    return found


def shoot(driver, name: str) -> None:
    """The first viewport (what the agent sees) and the whole panel."""
    ARTIFACTS.mkdir(exist_ok=True)
    driver.execute_script("window.scrollTo(0, 0)")
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
    (ARTIFACTS / f"{name}.png").write_bytes(base64.b64decode(shot["data"]))
    full_page_screenshot(driver, ARTIFACTS / f"{name}-full.png")


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:30]


def expectations(d, ticket_id: int) -> dict[str, bool]:
    """What the ledger says the panel must offer for this ticket."""
    from connector.commerce import approvals

    row = d.runtime.db.conn.execute(
        "SELECT suggested_reply, outcome, status FROM decisions WHERE tenant_id = ?"
        " AND ticket_id = ? ORDER BY id DESC LIMIT 1",
        (TENANT, ticket_id),
    ).fetchone()
    open_ = approvals.list_approvals(
        d.runtime.db, TENANT, ticket_id=ticket_id, states=approvals.OPEN_STATES
    )
    answered = bool(row) and row[1] == "auto_reply" and row[2] == "done"
    return {
        "insert": bool(row and row[0]) and not answered,
        "answered": answered,
        "decide": any(a.state == "proposed" for a in open_),
        "held": any(a.state != "proposed" for a in open_),
    }


def check_first_viewport(driver, d, ticket_id: int) -> dict[str, bool]:
    from selenium.webdriver.common.by import By

    want = expectations(d, ticket_id)
    assert driver.execute_script("return document.documentElement.scrollWidth") <= WIDTH
    if want["insert"]:
        assert_in_first_viewport(driver, "#insert-reply")
        reply = assert_in_first_viewport(driver, "#suggested-reply")[0]
        assert reply["bottom"] - reply["top"] >= 60, "the reply box shows a few lines at least"
    else:
        assert not driver.find_elements(By.ID, "insert-reply")
    if want["decide"]:
        assert_in_first_viewport(driver, "#approvals [data-action=approve]")
        assert_in_first_viewport(driver, "#approvals [data-action=reject]")
    if want["held"]:
        assert_in_first_viewport(driver, "#approvals .approval")
    if d.runtime and _kill_switch(d):
        assert_in_first_viewport(driver, "#kill-switch")
    return want


def _kill_switch(d) -> bool:
    from connector import tenants

    return tenants.kill_switch_on(d.runtime.db, TENANT)


def _set_kill_switch(d, on: bool) -> None:
    from connector.pipeline.killswitch import set_switch

    set_switch(d.runtime.db, TENANT, on, actor="test", reason="browser test")


# --- every demo ticket ----------------------------------------------------------------------
def test_every_demo_ticket_shows_action_and_reply_without_scrolling(browser, demo):  # noqa: F811
    tickets = [(tid, subject) for tid, subject in demo.json_tickets]
    tickets += [(_scenario(k), k) for k in ("wismo", "cancel", "escalate", "refund", "shadow")]
    tickets += [(_scenario("blocked"), "blocked")]
    offered = {"insert": 0, "decide": 0, "held": 0, "answered": 0}
    for tid, name in tickets:
        open_as_admin(browser, demo, tid)
        want = check_first_viewport(browser, demo, tid)
        for k, v in want.items():
            offered[k] += int(v)
        shoot(browser, f"panel-320-ticket-{tid:02d}-{slug(name)}")
    # the run covered what it claims to: replies, a decision to take, a held action, an answer
    assert offered["insert"] >= 10 and offered["decide"] >= 1
    assert offered["held"] >= 1 and offered["answered"] >= 1


# --- one test per state ---------------------------------------------------------------------
def test_auto_answered_and_solved_offers_no_insert(browser, demo):  # noqa: F811
    from selenium.webdriver.common.by import By

    open_as_admin(browser, demo, _scenario("wismo"))
    did = text_of(browser, "#deskguard-did")
    assert "answered the customer and solved the ticket" in did
    assert not browser.find_elements(By.ID, "insert-reply")
    assert text_of(browser, "#outcome") == "Answered automatically"
    assert text_of(browser, "#rule-text") == "All automation checks passed"
    assert_in_first_viewport(browser, "#deskguard-did")
    context = text_of(browser, "#context")
    assert "In transit" in context and "IN_TRANSIT" not in context and "PAID" not in context
    assert text_of(browser, "#confidence") in (">99%",) or text_of(browser, "#confidence").endswith(
        "%"
    )
    assert "100%" not in browser.find_element(By.ID, "app").text
    shoot(browser, "panel-state-auto-answered")


def test_escalated_vip_with_payments_under_their_orders(browser, demo):  # noqa: F811
    from selenium.webdriver.common.by import By

    tid = _scenario("escalate")
    open_as_admin(browser, demo, tid)
    check_first_viewport(browser, demo, tid)
    assert "Escalated to a person" in text_of(browser, "#deskguard-did")
    assert text_of(browser, "#customer-tier") == "VIP"
    facts = text_of(browser, "#customer-facts")
    assert re.search(r"\d+ orders · [\d.]+ USD spent", facts), facts
    # each shown order carries its own payment, dated; no raw Stripe ids anywhere
    orders = browser.find_elements(By.CSS_SELECTOR, "#context .order")
    assert orders and all(o.find_elements(By.CSS_SELECTOR, ".payment-charge") for o in orders)
    for line in browser.find_elements(By.CSS_SELECTOR, "#context .order .payment-charge"):
        assert re.search(r"\d{1,2} [A-Z][a-z]{2} \d{4}", line.text), line.text
    assert not re.search(r"\b(ch|pi|cus)_[0-9a-f]{6,}", browser.find_element(By.ID, "app").text)
    shoot(browser, "panel-state-escalated")


def test_shadow_mode_says_nothing_was_written(browser, demo):  # noqa: F811
    tid = _scenario("shadow")
    open_as_admin(browser, demo, tid)
    check_first_viewport(browser, demo, tid)
    assert "wrote nothing to Zendesk" in text_of(browser, "#deskguard-did")
    assert_in_first_viewport(browser, "#deskguard-did")
    shoot(browser, "panel-state-shadow")


def test_no_order_found(browser, demo):  # noqa: F811
    tid = next(t for t, s in demo.json_tickets if s == "Size question")
    open_as_admin(browser, demo, tid)
    check_first_viewport(browser, demo, tid)
    assert text_of(browser, "#no-order") == "No order found for this customer."
    shoot(browser, "panel-state-no-order")


def test_error_loading_says_so_and_offers_retry(browser, demo):  # noqa: F811
    open_as_admin(browser, demo, _scenario("shadow"), blocked=["*/panel/api/*/tickets/*"])
    assert "cannot be reached" in text_of(browser, ".state-error")
    assert_in_first_viewport(browser, ".state-error button")
    shoot(browser, "panel-state-error")
    browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})


def test_kill_switch_holds_a_reply_and_an_approved_refund_then_it_runs(
    browser,  # noqa: F811
    demo,
):
    """Kill switch on (as the demo leaves it): the held ticket and the approved refund say so at
    the top; once it is off the refund runs and the panel says who refunded what, and when."""
    from connector.commerce import approvals

    _set_kill_switch(demo, True)
    held = _scenario("blocked")
    open_as_admin(browser, demo, held)
    check_first_viewport(browser, demo, held)
    assert text_of(browser, "#kill-switch-state") == "Kill switch ON"
    assert_in_first_viewport(browser, "#kill-switch-toggle")  # Dana is an admin
    shoot(browser, "panel-state-kill-switch-on")

    refund_ticket = _scenario("refund")
    open_as_admin(browser, demo, refund_ticket)
    check_first_viewport(browser, demo, refund_ticket)
    status = text_of(browser, "#approvals .approval-status")
    assert status.startswith("Approved by demo-agent") and "held by the kill switch" in status
    assert "pi_" not in text_of(browser, "#approvals")
    shoot(browser, "panel-state-approved-held")

    _set_kill_switch(demo, False)
    (pending,) = approvals.list_approvals(demo.runtime.db, TENANT, ticket_id=refund_ticket)
    assert _wait(lambda: approvals.get(demo.runtime.db, TENANT, pending.id).state == "done")
    open_as_admin(browser, demo, refund_ticket)
    done = text_of(browser, f"#happened [data-id='{pending.id}']")
    assert re.search(
        r"Refunded [\d.]+ USD for order #\d+\s+by demo-agent on "
        r"\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d UTC",
        done,
    ), done
    assert_in_first_viewport(browser, f"#happened [data-id='{pending.id}']")
    check_first_viewport(browser, demo, refund_ticket)
    shoot(browser, "panel-state-refunded")


def test_needs_approval_then_approved_and_cancelled(browser, demo):  # noqa: F811
    _set_kill_switch(demo, False)
    tid = _scenario("cancel")
    open_as_admin(browser, demo, tid)
    assert text_of(browser, "#approvals h2").lower() == "needs your decision"
    check_first_viewport(browser, demo, tid)
    shoot(browser, "panel-state-needs-approval")
    from connector.commerce import approvals

    (proposal,) = approvals.list_approvals(demo.runtime.db, TENANT, ticket_id=tid)
    browser.find_element("css selector", "#approvals [data-action=approve]").click()
    # approving runs the cancellation at once; if Shopify throttles it, the worker retries it
    assert _wait(lambda: approvals.get(demo.runtime.db, TENANT, proposal.id).state == "done")
    open_as_admin(browser, demo, tid)
    line = text_of(browser, "#happened .approval-done")
    assert re.search(r"Cancelled order #\d+\s+by Dana Admin on ", line), line
    assert_in_first_viewport(browser, "#happened .approval-done")
    shoot(browser, "panel-state-cancelled")


def test_a_rejected_proposal_says_who_and_when(browser, demo):  # noqa: F811
    from connector.commerce import approvals

    tid = _scenario("escalate")
    charge = demo.runtime.db.conn.execute(
        "SELECT context FROM decisions WHERE tenant_id = ? AND ticket_id = ? ORDER BY id DESC",
        (TENANT, tid),
    ).fetchone()[0]
    import json

    first = json.loads(charge)["payments"]["charges"][0]
    approvals.propose(
        demo.runtime.db,
        TENANT,
        tid,
        "refund",
        {
            "payment_intent": first["payment_intent"],
            "amount": 1500,
            "currency": first["currency"],
            "reason": "requested_by_customer",
        },
        "policy:test",
        "goodwill for the broken order",
    )
    open_as_admin(browser, demo, tid)
    check_first_viewport(browser, demo, tid)
    browser.find_element("css selector", "#approvals [data-action=reject]").click()
    wait_for(browser, lambda drv: drv.find_elements("css selector", "#happened .approval-rejected"))
    line = text_of(browser, "#happened .approval-rejected")
    assert re.search(r"Rejected: refund 15\.00 USD for order #\d+\s+by Dana Admin on ", line), line
    shoot(browser, "panel-state-rejected")
