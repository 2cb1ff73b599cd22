"""Approve / reject refunds and cancellations from the side panel (through
connector.commerce.approvals).

The Stripe service is swapped for a small in-memory fake of our PaymentActions port (unit level),
and Zendesk's user directory for the panel_support fake (agents 501/502, admins 42/900); the
commerce area's own tests drive the real stripe SDK against the emulator, and
tests/test_panel_roles.py the real zenpy against the Zendesk sandbox.
"""

from __future__ import annotations

import pytest
from panel_support import TENANT, agent_headers, install_zendesk_users, tenant_with_token

from connector import tenants
from connector.commerce import approvals
from connector.devkit.fakes import inject
from connector.domain import Refund
from connector.panel.auth import issue_token


class FakeStripe:
    def __init__(self):
        self.refunds = []

    def refund(self, *, payment_intent, charge, amount, reason, metadata, idempotency_key):
        self.refunds.append((payment_intent, amount, idempotency_key))
        return Refund(
            id=f"re_{len(self.refunds)}",
            amount=amount,
            currency="eur",
            status="succeeded",
            payment_intent=payment_intent,
            reason=reason,
        )

    def find_refund(self, *, payment_intent=None, charge=None, idempotency_key):
        return None


@pytest.fixture
def stripe(runtime):
    fake = FakeStripe()
    inject(runtime, payments=fake)
    return fake


@pytest.fixture
def token(runtime):
    return issue_token(runtime.db, TENANT)[1]


@pytest.fixture
def zendesk_users(runtime):
    return install_zendesk_users(runtime)


def propose_refund(db, tenant=TENANT, ticket_id=21):
    return approvals.propose(
        db,
        tenant,
        ticket_id,
        "refund",
        {
            "payment_intent": "pi_1",
            "amount": 1500,
            "currency": "eur",
            "reason": "requested_by_customer",
        },
        "policy:refund_rule",
        "damaged item",
    )


def test_pending_approval_is_listed_and_agents_without_rights_cannot_decide(
    client, runtime, token, stripe, zendesk_users
):
    a = propose_refund(runtime.db)
    v = client.get(
        f"/panel/api/{TENANT}/tickets/21", headers=agent_headers(token, runtime=runtime)
    ).get_json()
    assert [(x["id"], x["kind"], x["state"], x["can_decide"]) for x in v["approvals"]] == [
        (a.id, "refund", "proposed", True)
    ]
    assert v["approvals"][0]["amount"] == 1500 and "15.00" in v["approvals"][0]["summary"]
    resp = client.post(
        f"/panel/api/{TENANT}/approvals/{a.id}/approve",
        headers=agent_headers(token, runtime=runtime),
    )
    assert resp.status_code == 403
    # an agent whose browser claims admin is still an agent in Zendesk
    resp = client.post(
        f"/panel/api/{TENANT}/approvals/{a.id}/approve",
        headers=agent_headers(token, runtime=runtime, role="admin"),
    )
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "forbidden"
    assert approvals.get(runtime.db, TENANT, a.id).state == "proposed" and stripe.refunds == []


def test_admin_approves_once_and_the_refund_runs_once(
    client, runtime, token, stripe, zendesk_users
):
    a = propose_refund(runtime.db)
    url = f"/panel/api/{TENANT}/approvals/{a.id}/approve"
    resp = client.post(
        url, headers=agent_headers(token, runtime=runtime, role="admin", agent_id="900")
    )
    assert resp.status_code == 200
    assert resp.get_json()["result"]["state"] == "done"
    client.post(
        url, headers=agent_headers(token, runtime=runtime, role="admin", agent_id="900")
    )  # a double click
    assert stripe.refunds == [("pi_1", 1500, f"approval-{a.id}-refund")]
    done = approvals.get(runtime.db, TENANT, a.id)
    assert done.decided_by == "agent:900"
    v = client.get(
        f"/panel/api/{TENANT}/tickets/21", headers=agent_headers(token, runtime=runtime)
    ).get_json()
    assert v["approvals"] == []  # done is no longer open


def test_approver_allow_list_rejects(client, runtime, token, stripe, zendesk_users):
    tenants.set_setting(runtime.db, TENANT, "app_approver_ids", ["502"], actor="test")
    a = propose_refund(runtime.db)
    resp = client.post(
        f"/panel/api/{TENANT}/approvals/{a.id}/reject",
        headers=agent_headers(token, runtime=runtime, agent_id="502"),
        json={"note": "customer withdrew"},
    )
    assert resp.status_code == 200
    got = approvals.get(runtime.db, TENANT, a.id)
    assert (got.state, got.decided_by, got.decision_note) == (
        "rejected",
        "agent:502",
        "customer withdrew",
    )
    assert stripe.refunds == []


def test_kill_switch_defers_an_approved_refund(client, runtime, token, stripe, zendesk_users):
    tenants.set_kill_switch(runtime.db, TENANT, True, actor="test")
    a = propose_refund(runtime.db)
    resp = client.post(
        f"/panel/api/{TENANT}/approvals/{a.id}/approve",
        headers=agent_headers(token, runtime=runtime, agent_id="900"),
    )
    assert resp.status_code == 200
    assert stripe.refunds == []
    v = client.get(
        f"/panel/api/{TENANT}/tickets/21", headers=agent_headers(token, runtime=runtime)
    ).get_json()
    assert [(x["state"], x["deferred_reason"], x["can_decide"]) for x in v["approvals"]] == [
        ("approved", "kill_switch", False)
    ]
    assert v["state"] == "not_processed"  # the approvals job is not a ticket-processing job


def test_another_tenants_approval_is_not_found(client, runtime, token, stripe, zendesk_users):
    tenant_with_token(runtime.db, "globex")
    theirs = propose_refund(runtime.db, "globex")
    resp = client.post(
        f"/panel/api/{TENANT}/approvals/{theirs.id}/approve",
        headers=agent_headers(token, runtime=runtime, agent_id="900"),
    )
    assert resp.status_code == 404
    assert (
        approvals.get(runtime.db, "globex", theirs.id).state == "proposed" and stripe.refunds == []
    )
