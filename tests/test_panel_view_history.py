"""What the side panel says already happened, and the context it shows, through the panel API.

Refunds that ran, cancellations and rejections stay on the ticket with who and when; a ticket
Deskguard answered and solved offers no Insert; payments sit under the order they paid for, with
dates; the customer's tier, lifetime spend and order count; words instead of codes everywhere.
The Stripe and Shopify write ports are small in-memory fakes (unit level), Zendesk's user
directory the panel_support fake (agents 501/502, admins 42 "Ada Admin" and 900 "Ian Admin").
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from panel_support import (
    TENANT,
    add_decision,
    agent_headers,
    install_zendesk_users,
    panel_session,
)

from connector.commerce import approvals
from connector.devkit.fakes import inject
from connector.domain import Refund
from connector.panel.auth import issue_token


class FakeStripe:
    def __init__(self):
        self.refunds = []

    def refund(self, *, payment_intent, charge, amount, reason, metadata, idempotency_key):
        self.refunds.append((payment_intent, amount))
        return Refund(
            id="re_1",
            amount=amount,
            currency="usd",
            status="succeeded",
            payment_intent=payment_intent,
            reason=reason,
        )

    def find_refund(self, *, payment_intent=None, charge=None, idempotency_key):
        return None


class FakeShop:
    def __init__(self):
        self.cancelled = []

    def cancel_order(self, order_id, *, reason, notify_customer, restock, staff_note, refund):
        self.cancelled.append(order_id)
        return {"order_id": order_id, "cancelled": True}

    def find_orders(self, **kw):
        return []


@pytest.fixture
def token(runtime):
    return issue_token(runtime.db, TENANT)[1]


@pytest.fixture
def commerce(runtime):
    stripe, shop = FakeStripe(), FakeShop()
    inject(runtime, payments=stripe, orders=shop)
    install_zendesk_users(runtime)
    return stripe, shop


CONTEXT = {
    "orders": [
        {
            "id": "gid://shopify/Order/1004",
            "name": "#1004",
            "email": "sam@example.com",
            "created_at": "2026-12-04T07:19:23+00:00",
            "financial_status": "PARTIALLY_REFUNDED",
            "fulfillment_status": "SOME_FUTURE_STATUS",
            "total": {"amount": "412.00", "currency": "USD"},
            "line_items": [{"title": "Sweater", "quantity": 2, "sku": "S"}],
            "fulfillments": [
                {
                    "status": "IN_TRANSIT",
                    "tracking_company": "FedEx",
                    "tracking_number": "7712",
                    "tracking_url": "https://fedex.example/7712",
                    "estimated_delivery_at": "2026-12-10T18:00:00+00:00",
                    "delivered_at": None,
                }
            ],
            "customer": {
                "email": "sam@example.com",
                "order_count": 23,
                "lifetime_spend": {"amount": "4318.75", "currency": "USD"},
                "tags": ["VIP", "wholesale-interest"],
            },
            "cancelled_at": None,
        },
        {
            "id": "gid://shopify/Order/1009",
            "name": "#1009",
            "email": "sam@example.com",
            "created_at": "2026-11-17T07:19:23+00:00",
            "financial_status": "PAID",
            "fulfillment_status": "FULFILLED",
            "total": {"amount": "96.00", "currency": "USD"},
            "line_items": [],
            "fulfillments": [],
            "cancelled_at": "2026-11-18T10:00:00+00:00",
            "cancel_reason": "CUSTOMER",
        },
    ],
    "customer": None,
    "payments": {
        "customer_id": "cus_1",
        "email": "sam@example.com",
        "charges": [
            {
                "id": "ch_0012aff7f04464f3",
                "amount": 41200,
                "currency": "usd",
                "status": "succeeded",
                "created_at": "2026-12-04T07:19:23+00:00",
                "payment_intent": "pi_00118b1a265b8662",
                "amount_refunded": 5000,
                "disputed": True,
                "metadata": {"order_name": "#1004"},
            },
            {  # no order named: matched by amount and currency
                "id": "ch_0014d822d364707c",
                "amount": 9600,
                "currency": "usd",
                "status": "succeeded",
                "created_at": "2026-11-17T07:19:23+00:00",
                "payment_intent": "pi_2",
                "amount_refunded": 0,
                "disputed": False,
                "metadata": {},
            },
            {
                "id": "ch_0016302b76da7925",
                "amount": 4500,
                "currency": "usd",
                "status": "weird_new_status",
                "created_at": "2026-10-03T07:19:23+00:00",
                "payment_intent": "pi_3",
                "metadata": {"order_name": "#900"},
            },
        ],
        "refunds": [
            {
                "id": "re_9",
                "amount": 5000,
                "currency": "usd",
                "status": "succeeded",
                "charge": "ch_0012aff7f04464f3",
            }
        ],
        "disputes": [
            {
                "id": "dp_1",
                "amount": 41200,
                "currency": "usd",
                "reason": "product_not_received",
                "status": "needs_response",
                "charge": "ch_0012aff7f04464f3",
                "due_by": "2026-12-20T00:00:00+00:00",
            }
        ],
    },
    "notes": [],
}


def view(client, runtime, token, ticket_id, agent_id="501"):
    resp = client.get(
        f"/panel/api/{TENANT}/tickets/{ticket_id}",
        headers=agent_headers(token, runtime=runtime, agent_id=agent_id),
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


def set_row(runtime, decision_id, **cols):
    sets = ", ".join(f"{k} = ?" for k in cols)
    runtime.db.conn.execute(
        f"UPDATE decisions SET {sets} WHERE id = ?", (*cols.values(), decision_id)
    )


def test_payments_sit_under_their_orders_with_dates_and_the_customer_is_summed_up(
    client, runtime, token
):
    did = add_decision(runtime.db, TENANT, 31, confidence=1.0)
    set_row(runtime, did, context=json.dumps(CONTEXT))
    d = view(client, runtime, token, 31)["decision"]
    assert d["confidence_text"] == ">99%"
    assert d["customer"]["tier"] == "VIP"
    assert d["customer"]["order_count_text"] == "23 orders"
    assert d["customer"]["lifetime_spend_text"] == "4318.75 USD"
    assert d["customer"]["tags"] == ["wholesale-interest"]
    first, second = d["orders"]
    assert first["financial_status_text"] == "Partly refunded"
    assert first["fulfillment_status_text"] == "Some future status"  # unknown: readable
    assert first["fulfillments"][0]["status_text"] == "In transit"
    assert first["fulfillments"][0]["when_text"] == "expected 10 Dec 2026"
    assert [(p["kind"], p["amount_text"], p["date_text"]) for p in first["payments"]] == [
        ("charge", "412.00 USD", "4 Dec 2026"),
        ("refund", "50.00 USD", ""),
        ("dispute", "412.00 USD", ""),
    ]
    assert first["payments"][0]["status_text"] == "Partly refunded"
    assert first["payments"][0]["detail_text"] == "50.00 USD refunded"
    assert first["payments"][2]["status_text"] == "Chargeback: Needs a response"
    assert first["payments"][2]["detail_text"] == "product not received; respond by 20 Dec 2026"
    assert [p["amount_text"] for p in second["payments"]] == ["96.00 USD"]
    assert second["cancelled_text"] == "Cancelled 18 Nov 2026 (the customer asked)"
    (other,) = d["other_payments"]
    assert (other["order_name"], other["status_text"], other["date_text"]) == (
        "#900",
        "Weird new status",
        "3 Oct 2026",
    )
    # every text field the panel shows is free of Stripe ids
    texts = json.dumps([d["orders"], d["other_payments"], d["customer"]])
    shown = " ".join(re.findall(r'"\w+_text": "([^"]*)"', texts))
    assert shown and not re.search(r"\b(ch|pi|re|dp)_\w+", shown)


def test_vip_by_lifetime_spend_and_a_customer_without_orders(client, runtime, token):
    ctx = {
        "orders": [],
        "customer": {
            "email": "x@example.com",
            "order_count": 1,
            "lifetime_spend": {"amount": "1500.00", "currency": "EUR"},
            "tags": [],
        },
        "payments": {},
    }
    did = add_decision(runtime.db, TENANT, 32)
    set_row(runtime, did, context=json.dumps(ctx))
    d = view(client, runtime, token, 32)["decision"]
    assert d["customer"]["tier"] == "VIP"  # the policy's vip_lifetime_spend (1000)
    assert d["customer"]["order_count_text"] == "1 order"
    assert d["orders"] == [] and d["other_payments"] == []


def test_a_broken_context_row_still_renders(client, runtime, token):
    did = add_decision(runtime.db, TENANT, 33)
    set_row(
        runtime,
        did,
        context=json.dumps(
            {"orders": ["nonsense", {"name": None, "total": "12"}], "payments": {"charges": [7]}}
        ),
        policy_trace="not json",
    )
    d = view(client, runtime, token, 33)["decision"]
    assert len(d["orders"]) == 1 and d["orders"][0]["total_text"] == ""
    assert d["policy"]["trace_text"] == []


def test_rules_and_outcomes_in_words(client, runtime, token):
    did = add_decision(runtime.db, TENANT, 34, outcome="auto_reply", mode="auto")
    set_row(
        runtime,
        did,
        rule="auto_gates_passed",
        action="zendesk.public_reply",
        policy_trace=json.dumps(
            [
                {"rule": "risk_flags", "verdict": "pass", "detail": "no risk"},
                {"rule": "confidence", "verdict": "pass", "detail": "confidence 1.00 vs 0.95"},
            ]
        ),
    )
    v = view(client, runtime, token, 34)
    p = v["decision"]["policy"]
    assert p["outcome_text"] == "Answered automatically"
    assert p["rule_text"] == "All automation checks passed"
    assert p["mode_text"] == "Automatic"
    assert [(t["text"], t["verdict_text"]) for t in p["trace_text"]] == [
        ("Risk (legal, fraud, safety, abuse)", "ok"),
        ("Confidence high enough", "ok"),
    ]
    # answered and solved: the panel must not offer to insert the reply again
    assert v["decision"]["answered"] is True
    assert v["decision"]["happened"]["kind"] == "answered"
    assert "answered the customer and solved the ticket" in v["decision"]["happened"]["text"]


def test_an_assist_note_and_a_held_auto_reply_are_not_answered(client, runtime, token):
    add_decision(runtime.db, TENANT, 35, outcome="assist_note")
    assert view(client, runtime, token, 35)["decision"]["answered"] is False
    add_decision(runtime.db, TENANT, 36, outcome="auto_reply", status="deferred")
    v = view(client, runtime, token, 36)
    assert v["decision"]["answered"] is False and v["decision"]["happened"]["kind"] == "held"


def test_an_executed_refund_stays_with_who_and_when(client, runtime, token, commerce):
    stripe, _ = commerce
    did = add_decision(runtime.db, TENANT, 41)
    set_row(runtime, did, context=json.dumps(CONTEXT))
    a = approvals.propose(
        runtime.db,
        TENANT,
        41,
        "refund",
        {
            "payment_intent": "pi_00118b1a265b8662",
            "amount": 5890,
            "currency": "usd",
            "reason": "requested_by_customer",
        },
        "policy:refund_rule",
        "damaged",
    )
    v = view(client, runtime, token, 41)
    (open_,) = v["approvals"]
    assert open_["title"] == "Refund 58.90 USD for order #1004"  # the order, not pi_…
    assert open_["status_text"] == "Waiting for your approval"
    assert open_["why_text"] == "the customer asked"
    resp = client.post(
        f"/panel/api/{TENANT}/approvals/{a.id}/approve",
        headers=agent_headers(token, runtime=runtime, agent_id="42"),
    )
    assert resp.status_code == 200 and stripe.refunds == [("pi_00118b1a265b8662", 5890)]
    v = view(client, runtime, token, 41)  # read by another agent
    assert v["approvals"] == []
    (done,) = v["history"]
    today = datetime.now(UTC)
    assert done["state"] == "done"
    assert done["status_text"].startswith("Refunded 58.90 USD by Ada Admin on ")
    assert f"{today.day} {today:%b %Y}" in done["status_text"]
    assert done["headline"] == "Refunded 58.90 USD for order #1004"
    assert done["byline"].startswith("by Ada Admin on ")


def _duplicate_refund(runtime, ticket_id):
    return approvals.propose(
        runtime.db,
        TENANT,
        ticket_id,
        "refund",
        {"charge": "ch_9", "amount": 1000, "currency": "usd", "reason": "duplicate"},
        "policy:refund_rule",
    )


@pytest.mark.parametrize(
    ("zendesk_name", "expected"),
    [("Ian Admin", "Ian Admin"), ("", "Ian from the launch")],
    ids=["zendesk-name", "launch-name-when-zendesk-has-none"],
)
def test_the_deciders_name_is_stored_and_read_by_a_fresh_process(
    client, runtime, token, commerce, zendesk_name, expected
):
    from connector.domain import DeskUser
    from connector.web import create_app

    directory = install_zendesk_users(runtime)
    directory.users[900] = DeskUser(id=900, role="admin", name=zendesk_name)
    approve, reject = _duplicate_refund(runtime, 44), _duplicate_refund(runtime, 45)
    session = panel_session(runtime, "900", name="Ian from the launch")
    for approval, choice in ((approve, "approve"), (reject, "reject")):
        resp = client.post(
            f"/panel/api/{TENANT}/approvals/{approval.id}/{choice}",
            headers=agent_headers(token, agent_id="900", session=session),
        )
        assert resp.status_code == 200, resp.get_data(as_text=True)
        assert resp.get_json()["result"]["decided_by_name"] == expected
        assert approvals.get(runtime.db, TENANT, approval.id).decided_by == "agent:900"
    # Another process (empty role cache), read by an agent who never met agent 900 in it.
    fresh = create_app(runtime=runtime).test_client()
    (done,) = view(fresh, runtime, token, 44)["history"]
    assert done["status_text"].startswith(f"Refunded 10.00 USD by {expected} on ")
    assert done["byline"].startswith(f"by {expected} on ")
    assert done["decided_by_name"] == expected
    (rejected,) = view(fresh, runtime, token, 45)["history"]
    assert rejected["status_text"].startswith(f"Rejected by {expected} on ")


def test_names_fall_back_to_the_agent_id_when_none_is_stored_or_cached(
    client, runtime, token, commerce
):
    from connector.panel.web import role_cache

    a = _duplicate_refund(runtime, 42)
    client.post(
        f"/panel/api/{TENANT}/approvals/{a.id}/approve",
        headers=agent_headers(token, runtime=runtime, agent_id="900"),
    )
    # a decision recorded before names were stored (or by the CLI, which knows no name)
    runtime.db.conn.execute("UPDATE approvals SET decided_by_name = NULL WHERE id = ?", (a.id,))
    role_cache(client.application).forget()
    (done,) = view(client, runtime, token, 42)["history"]
    assert done["status_text"].startswith("Refunded 10.00 USD by agent 900 on ")
    assert done["title"] == "Refund 10.00 USD"  # no order known: no charge id either


def test_cancelled_and_rejected(client, runtime, token, commerce):
    _, shop = commerce
    cancel = approvals.propose(
        runtime.db,
        TENANT,
        43,
        "cancel_order",
        {
            "order_id": "gid://shopify/Order/1002",
            "order_name": "#1002",
            "reason": "CUSTOMER",
            "restock": True,
            "notify_customer": True,
        },
        "policy:cancel_rule",
    )
    refund = approvals.propose(
        runtime.db,
        TENANT,
        43,
        "refund",
        {"charge": "ch_9", "amount": 1000, "currency": "usd", "reason": "duplicate"},
        "policy:refund_rule",
    )
    for approval, choice in ((cancel, "approve"), (refund, "reject")):
        resp = client.post(
            f"/panel/api/{TENANT}/approvals/{approval.id}/{choice}",
            headers=agent_headers(token, runtime=runtime, agent_id="900"),
        )
        assert resp.status_code == 200
    assert shop.cancelled == ["gid://shopify/Order/1002"]
    history = {h["kind"]: h for h in view(client, runtime, token, 43, agent_id="900")["history"]}
    assert history["cancel_order"]["status_text"].startswith("Cancelled by Ian Admin on ")
    assert history["cancel_order"]["headline"] == "Cancelled order #1002"
    assert history["refund"]["status_text"].startswith("Rejected by Ian Admin on ")
    assert history["refund"]["headline"] == "Rejected: refund 10.00 USD"


def test_shadow_mode_says_what_it_would_have_done(client, runtime, token):
    did = add_decision(runtime.db, TENANT, 37, outcome="shadow", mode="shadow")
    set_row(runtime, did, reason="shadow mode: recorded only (would suggest; would propose refund)")
    happened = view(client, runtime, token, 37)["decision"]["happened"]
    assert happened == {
        "kind": "shadow",
        "text": "Shadow mode: Deskguard decided but wrote nothing to Zendesk; it would have"
        " suggested a reply and it would have proposed a refund.",
        "answered": False,
    }
