"""Agent-approved refunds end to end with every real SDK: a refund ticket in the Zendesk sandbox
(zenpy) is enriched from the Shopify (ShopifyAPI) and Stripe (stripe) sandboxes, the policy
proposes the refund, an agent approves it through the running sidecar's API, and Stripe refunds
once."""

from __future__ import annotations

import json

import pytest
import requests
from shopify_support import shop, shop_server, shop_settings  # noqa: F401  (fixtures)
from stripe_support import stripe_sandbox_fixture, stripe_settings  # noqa: F401  (fixtures)
from zendesk_support import TENANT, sandbox, zendesk_config  # noqa: F401  (fixtures)

from connector.bootstrap import ensure_env_tenant
from connector.db import migrate
from connector.devkit.fakes import FakeClassifier, inject, make_reading
from connector.devkit.sandbox import serve_in_thread
from connector.domain import DESKGUARD_MARKER, Entities
from connector.pipeline.engine import process_ticket
from connector.pipeline.policy import set_category_modes
from connector.runtime import Runtime
from connector.web import create_app

LI = "li.wei@example.com"
AUTH = {"Authorization": "Bearer test-admin-token"}


@pytest.fixture
def rt(config, sandbox, shop, stripe_sandbox):  # noqa: F811
    runtime = Runtime(
        zendesk_config(
            {**config, **shop_settings(shop), **stripe_settings(stripe_sandbox)}, sandbox
        )
    )
    migrate(runtime.db)
    ensure_env_tenant(runtime)
    # The reading is pinned: these tests are about proposing and approving, not about reading.
    inject(
        runtime,
        classifier=FakeClassifier(
            make_reading("refund", 0.96, entities=Entities(order_numbers=("#1003",)))
        ),
    )
    sidecar = serve_in_thread(create_app(runtime=runtime))
    runtime.sidecar_url = sidecar.url
    yield runtime
    sidecar.stop()
    runtime.close()


def ours(sb, tid, public=None):
    return [c for c in sb.state.notes(tid, public=public) if DESKGUARD_MARKER in c["body"]]


def li_asks_for_a_refund(sb) -> int:
    return sb.state.customer_writes(
        subject="Refund for order #1003",
        body="The pour-over coffee set from order #1003 arrived with a cracked dripper. "
        "I'd like a refund, please.",
        name="Li Wei",
        email=LI,
    )["id"]


def test_refund_proposed_approved_through_the_api_and_executed_once_in_stripe(
    rt,
    sandbox,  # noqa: F811
    stripe_sandbox,
):
    set_category_modes(rt.db, TENANT, {"refund": "assist"}, actor="test")
    charge = stripe_sandbox.state.charges_of(LI)[0]
    tid = li_asks_for_a_refund(sandbox)

    result = process_ticket(rt, TENANT, tid)
    assert result.outcome == "assist_note", result.reason

    # A pending proposal, visible through the approvals API.
    url = f"{rt.sidecar_url}/api/v1/tenants/{TENANT}"
    [pending] = requests.get(f"{url}/tickets/{tid}/approvals", headers=AUTH, timeout=10).json()[
        "approvals"
    ]
    assert (pending["kind"], pending["state"], pending["proposed_by"]) == (
        "refund",
        "proposed",
        "policy:propose_refund",
    )
    assert pending["params"] == {
        "charge": charge["id"],
        "amount": 5890,
        "currency": "usd",
        "reason": "requested_by_customer",
    }
    assert stripe_sandbox.refunds_created() == []  # nothing moves before an agent approves

    # The internal note says what is proposed; nothing public, nothing promised.
    [note] = ours(sandbox, tid)
    assert note["public"] is False
    assert (
        f"**Proposed:** refund of $58.90 on charge {charge['id']} (order #1003) — "
        "awaiting agent approval in "
        f"the Deskguard panel (approval #{pending['id']})"
    ) in note["body"]
    assert "passed your request to the team" in note["body"]
    assert (
        ours(sandbox, tid, public=True) == []
        and sandbox.state.get_ticket(tid)["status"] != "solved"
    )
    assert (
        process_ticket(rt, TENANT, tid).outcome == "skip"
    )  # our note is not news: no second proposal

    # An agent approves (twice: a double click); Stripe refunds once.
    for _ in range(2):
        resp = requests.post(
            f"{url}/approvals/{pending['id']}/approve",
            json={"agent": "agent:jo"},
            headers=AUTH,
            timeout=30,
        )
        assert resp.status_code == 200 and resp.json()["state"] == "done", resp.text
    [created] = stripe_sandbox.refunds_created()
    assert created["idempotency_key"] == f"approval-{pending['id']}-refund"
    assert stripe_sandbox.state.charges[charge["id"]]["refunded"] is True
    [refund] = [r for r in stripe_sandbox.state.refunds.values() if r["charge"] == charge["id"]]
    assert refund["amount"] == 5890 and refund["metadata"]["deskguard_ticket"] == str(tid)

    # Audited: proposed by the policy, approved by the agent, executed once.
    events = rt.db.conn.execute(
        "SELECT kind, data FROM audit_log WHERE ticket_id = ? AND kind LIKE 'approval.%'"
        " ORDER BY id",
        (tid,),
    ).fetchall()
    # (the second click finds it done: no second execution, no second event)
    assert [k for k, _ in events] == [
        "approval.proposed",
        "approval.approved",
        "approval.executing",
        "approval.executed",
    ]
    proposed, approved, _, executed = (json.loads(d) for _, d in events)
    assert (
        proposed["proposed_by"] == "policy:propose_refund"
        and proposed["params"] == pending["params"]
    )
    assert approved["agent"] == "agent:jo"
    assert executed["result"]["refund"]["amount"] == 5890 and executed["replayed"] is False
    sent = rt.db.conn.execute(
        "SELECT COUNT(*) FROM audit_log WHERE ticket_id = ? AND kind = 'action.succeeded'"
        " AND data LIKE '%stripe.refund%'",
        (tid,),
    ).fetchone()[0]
    assert sent == 1

    # Li writes again: the charge is refunded now, so nothing is proposed a second time.
    sandbox.state.customer_replies(tid, "Thanks! When will I see it on my card?")
    assert process_ticket(rt, TENANT, tid).outcome == "assist_note"
    assert (
        len(
            requests.get(f"{url}/tickets/{tid}/approvals", headers=AUTH, timeout=10).json()[
                "approvals"
            ]
        )
        == 1
    )
    trace = json.loads(
        rt.db.conn.execute(
            "SELECT policy_trace FROM decisions WHERE ticket_id = ? ORDER BY id DESC LIMIT 1",
            (tid,),
        ).fetchone()[0]
    )
    [verdict] = [v for v in trace if v["rule"] == "propose_refund"]
    assert verdict["verdict"] == "info" and "already refunded" in verdict["detail"]


def test_shadow_records_the_refund_proposal_and_writes_nothing(rt, sandbox, stripe_sandbox):  # noqa: F811
    tid = li_asks_for_a_refund(sandbox)
    result = process_ticket(rt, TENANT, tid)  # every category starts in shadow
    assert result.outcome == "shadow" and "would propose refund" in result.reason
    assert rt.db.conn.execute("SELECT COUNT(*) FROM approvals").fetchone()[0] == 0
    assert ours(sandbox, tid) == [] and stripe_sandbox.refunds_created() == []
    brief = rt.db.conn.execute(
        "SELECT brief FROM decisions WHERE ticket_id = ?", (tid,)
    ).fetchone()[0]
    assert "**Would propose:** refund of $58.90" in brief


def test_disputed_payment_is_escalated_not_proposed(rt, sandbox, stripe_sandbox):  # noqa: F811
    set_category_modes(rt.db, TENANT, {"refund": "assist"}, actor="test")
    inject(
        rt,
        classifier=FakeClassifier(
            make_reading("refund", 0.96, entities=Entities(order_numbers=("#1005",)))
        ),
    )
    tid = sandbox.state.customer_writes(
        subject="Refund #1005",
        body="I want my money back for #1005.",
        name="Pat Morgan",
        email="pat.chargeback@example.com",
    )["id"]
    result = process_ticket(rt, TENANT, tid)
    assert (result.outcome, result.rule) == ("escalate", "risk_flags")
    assert rt.db.conn.execute("SELECT COUNT(*) FROM approvals").fetchone()[0] == 0
    assert "**Proposed:**" not in ours(sandbox, tid)[0]["body"]
