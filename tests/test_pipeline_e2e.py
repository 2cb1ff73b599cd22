"""The pipeline end to end through the emulators: real zenpy against the Zendesk sandbox, real
ShopifyAPI against the Shopify sandbox, for each mode; the WISMO (order status) auto-reply; replay
over the real export; the kill switch read from the app's installation settings."""

from __future__ import annotations

import json

import pytest
from shopify_support import shop, shop_server, shop_settings  # noqa: F401  (fixtures)
from zendesk_support import TENANT, sandbox, zendesk_config  # noqa: F401  (fixtures)

from connector.bootstrap import ensure_env_tenant
from connector.db import migrate
from connector.devkit.fakes import FakeClassifier, inject, make_reading
from connector.domain import DESKGUARD_MARKER
from connector.pipeline import killswitch
from connector.pipeline.engine import process_ticket
from connector.pipeline.policy import set_category_modes
from connector.pipeline.replay import replay
from connector.runtime import Runtime
from connector.tenants import kill_switch_on
from connector.timeutil import parse_since

UPS_1001 = "1Z999AA10123456784"


@pytest.fixture
def rt(config, sandbox, shop):  # noqa: F811
    runtime = Runtime({**zendesk_config(config, sandbox), **shop_settings(shop)})
    migrate(runtime.db)
    ensure_env_tenant(runtime)
    # The reading is pinned (these tests are about deciding and acting, not reading).
    inject(
        runtime,
        classifier=FakeClassifier(make_reading("order_status", 0.97, entities=_entities("#1001"))),
    )
    yield runtime
    runtime.close()


def _entities(*orders):
    from connector.domain import Entities

    return Entities(order_numbers=orders)


def ours(sb, tid, public=None):
    return [c for c in sb.state.notes(tid, public=public) if DESKGUARD_MARKER in c["body"]]


def ask(
    sb, email="jane.doe@example.com", name="Jane Doe", body="Hi, where is my order #1001? Thanks"
):
    return sb.state.customer_writes(
        subject="Where is my order?", body=body, name=name, email=email
    )["id"]


def test_shadow_decides_and_writes_nothing(rt, sandbox):  # noqa: F811
    tid = ask(sandbox)
    before = len(sandbox.state.calls("PUT"))
    result = process_ticket(rt, TENANT, tid)
    assert (
        result.outcome == "shadow" and result.would_automate is True
    )  # shadow: recorded, not sent
    assert ours(sandbox, tid) == [] and len(sandbox.state.calls("PUT")) == before
    row = rt.db.conn.execute(
        "SELECT context, brief FROM decisions WHERE ticket_id = ?", (tid,)
    ).fetchone()
    assert "#1001" in json.dumps(json.loads(row[0])["orders"]) and UPS_1001 in row[1]


def test_assist_posts_the_brief_as_an_internal_note(rt, sandbox):  # noqa: F811
    set_category_modes(rt.db, TENANT, {"*": "assist"}, actor="test")
    tid = ask(sandbox)
    assert process_ticket(rt, TENANT, tid).outcome == "assist_note"
    [note] = ours(sandbox, tid)
    assert note["public"] is False
    assert "order_status" in note["body"] and "#1001" in note["body"] and UPS_1001 in note["body"]
    assert "Suggested reply" in note["body"]
    ticket = sandbox.state.get_ticket(tid)
    assert {"deskguard", "deskguard_order_status"} <= set(ticket["tags"]) and ticket[
        "status"
    ] != "solved"
    assert process_ticket(rt, TENANT, tid).outcome == "skip"  # our own note is not news
    assert len(ours(sandbox, tid)) == 1


def test_wismo_auto_reply_with_tracking_link_for_the_orders_owner(rt, sandbox):  # noqa: F811
    set_category_modes(rt.db, TENANT, {"order_status": "auto"}, actor="test", override_reason="e2e")
    tid = ask(sandbox)
    result = process_ticket(rt, TENANT, tid)
    assert result.outcome == "auto_reply", result.reason
    [reply] = ours(sandbox, tid, public=True)
    assert f"https://www.ups.com/track?tracknum={UPS_1001}" in reply["body"]
    assert "#1001" in reply["body"] and "written automatically" in reply["body"]
    assert "refund" not in reply["body"].lower()
    ticket = sandbox.state.get_ticket(tid)
    assert ticket["status"] == "solved" and "deskguard_auto" in ticket["tags"]
    assert ours(sandbox, tid, public=False) == []


def test_wismo_with_a_mismatched_email_gets_no_order_details(rt, sandbox):  # noqa: F811
    set_category_modes(rt.db, TENANT, {"order_status": "auto"}, actor="test", override_reason="e2e")
    tid = ask(sandbox, email="mallory@example.net", name="Mallory")
    result = process_ticket(rt, TENANT, tid)
    assert result.outcome == "assist_note" and result.rule == "prerequisites"
    assert ours(sandbox, tid, public=True) == []  # nothing public at all
    everything = json.dumps(sandbox.state.list_comments(tid))
    for secret in (UPS_1001, "ups.com", "Merino", "84.50", "jane.doe"):
        assert secret not in everything
    assert "belong to another email: details withheld" in ours(sandbox, tid)[0]["body"]
    assert sandbox.state.get_ticket(tid)["status"] != "solved"


def test_vip_is_escalated_with_priority_and_tag(rt, sandbox):  # noqa: F811
    set_category_modes(rt.db, TENANT, {"order_status": "auto"}, actor="test", override_reason="e2e")
    inject(
        rt,
        classifier=FakeClassifier(make_reading("order_status", 0.99, entities=_entities("#1004"))),
    )
    tid = ask(sandbox, email="sam.vip@example.com", name="Sam Okafor", body="Where is #1004?")
    result = process_ticket(rt, TENANT, tid)
    assert (result.outcome, result.rule) == ("escalate", "vip")
    ticket = sandbox.state.get_ticket(tid)
    assert ticket["priority"] == "high" and {"deskguard_escalated", "deskguard_vip"} <= set(
        ticket["tags"]
    )
    assert ours(sandbox, tid, public=True) == []


def test_kill_switch_follows_the_app_setting_over_the_real_api(rt, sandbox):  # noqa: F811
    sandbox.state.install_app({"kill_switch": False})
    assert killswitch.sync_from_app(rt, TENANT) is False
    sandbox.state.set_app_settings(kill_switch=True)
    assert killswitch.sync_from_app(rt, TENANT) is True and kill_switch_on(rt.db, TENANT)
    set_category_modes(rt.db, TENANT, {"*": "assist"}, actor="test")
    tid = ask(sandbox)
    from connector.errors import KillSwitchEngaged

    with pytest.raises(KillSwitchEngaged):
        process_ticket(rt, TENANT, tid)
    assert ours(sandbox, tid) == []
    sandbox.state.set_app_settings(kill_switch=False)
    assert killswitch.sync_from_app(rt, TENANT) is False
    assert process_ticket(rt, TENANT, tid).outcome == "assist_note" and len(ours(sandbox, tid)) == 1


def test_replay_reports_per_category_and_writes_nothing(rt, sandbox):  # noqa: F811
    agent = sandbox.state.add_agent("Alex Agent", "alex@shop.example", "alex-token")
    ids = [
        ask(sandbox),
        ask(sandbox, email="li.wei@example.com", name="Li Wei", body="Where is my parcel?"),
        ask(sandbox, email="x@example.com", name="X", body="Where is my order?"),
    ]
    for tid, tag in zip(ids, ("cat_order_status", "cat_order_status", "cat_refund"), strict=True):
        sandbox.state.update_ticket(
            tid,
            {
                "status": "solved",
                "additional_tags": [tag],
                "comment": {"body": "Answered.", "public": True},
            },
            author_id=agent["id"],
        )
    comments_before = {tid: len(sandbox.state.list_comments(tid)) for tid in ids}
    writes_before = len(sandbox.state.calls("PUT")) + len(sandbox.state.calls("POST"))
    report = replay(rt, TENANT, parse_since("1d"))
    assert report["tickets"] == 3
    cat = report["categories"]["order_status"]
    assert cat["volume"] == 3 and cat["agent_labelled"] == 3 and cat["agreed"] == 2
    assert abs(cat["agreement"] - 2 / 3) < 1e-9
    assert cat["would_automate"] == 2  # Jane and Li: one tracked order each; X has no order
    assert cat["cost_usd"] == 0.0 and report["cost_usd"] == 0.0
    assert {tid: len(sandbox.state.list_comments(tid)) for tid in ids} == comments_before
    assert len(sandbox.state.calls("PUT")) + len(sandbox.state.calls("POST")) == writes_before
    assert rt.db.conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0] == 0


@pytest.fixture
def claude():
    from connector.devkit.sandbox.anthropic import start_anthropic_sandbox

    sb = start_anthropic_sandbox()
    yield sb
    sb.stop()


@pytest.fixture
def drafting_rt(config, sandbox, shop, claude):  # noqa: F811
    runtime = Runtime(
        {
            **zendesk_config(config, sandbox),
            **shop_settings(shop),
            "anthropic_base_url": claude.url,
            "anthropic_api_key": claude.api_key,
            "claude_draft_replies": True,
        }
    )
    migrate(runtime.db)
    ensure_env_tenant(runtime)
    inject(
        runtime,
        classifier=FakeClassifier(make_reading("order_status", 0.97, entities=_entities("#1001"))),
    )
    yield runtime
    runtime.close()


def test_claude_drafts_the_suggestion_but_never_the_automated_reply(drafting_rt, sandbox, claude):  # noqa: F811
    rt = drafting_rt
    claude.state.script_text(
        "Hello Jane,\n\nYour order #1001 is with UPS and should arrive soon.\n\nKind regards"
    )
    set_category_modes(rt.db, TENANT, {"*": "assist"}, actor="test")
    tid = ask(sandbox)
    process_ticket(rt, TENANT, tid)
    [note] = ours(sandbox, tid)
    assert "Suggested reply** (claude" in note["body"] and "should arrive soon" in note["body"]
    cost = rt.db.conn.execute(
        "SELECT cost_usd FROM decisions WHERE ticket_id = ?", (tid,)
    ).fetchone()[0]
    assert cost > 0  # the draft's tokens are priced into the decision

    # A draft that promises money is shown as rejected, never as a suggestion to send.
    claude.state.script_text(
        "Hi Jane, we have refunded your order in full and added a 20% discount code."
    )
    tid2 = ask(sandbox, body="Where is #1001? Also I want my money back")
    process_ticket(rt, TENANT, tid2)
    [note2] = ours(sandbox, tid2)
    assert (
        "Rejected by the promise checker" in note2["body"]
        and "we have refunded" not in note2["body"].split("Rejected by the promise checker")[0]
    )

    # In auto mode the public reply is the fixed order answer, not the model's text.
    set_category_modes(rt.db, TENANT, {"order_status": "auto"}, actor="test", override_reason="e2e")
    claude.state.script_text("Hello! Everything is fine, trust me.")
    # (Jane has now asked about #1001 twice: a third time would escalate as a repeat contact.)
    inject(
        rt,
        classifier=FakeClassifier(make_reading("order_status", 0.97, entities=_entities("#1003"))),
    )
    tid3 = ask(sandbox, email="li.wei@example.com", name="Li Wei", body="Where is order #1003?")
    assert process_ticket(rt, TENANT, tid3).outcome == "auto_reply"
    [reply] = ours(sandbox, tid3, public=True)
    assert "trust me" not in reply["body"] and "9400111899223197428490" in reply["body"]
