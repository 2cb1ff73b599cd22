"""End to end over HTTP with every real SDK: the Stripe sandbox delivers a signed
``charge.dispute.created`` to the running sidecar; the worker reads the charge with the stripe
SDK, the orders with ShopifyAPI and writes the brief with zenpy into the Zendesk sandbox. Then a
refund proposed for a real Zendesk ticket is approved through the admin API and lands in Stripe."""

from __future__ import annotations

import time

import pytest
from shopify_support import shop, shop_server, shop_settings  # noqa: F401
from stripe_support import stripe_sandbox_fixture, stripe_settings  # noqa: F401
from zendesk_support import sandbox, zendesk_config  # noqa: F401

from connector.commerce import approvals
from connector.devkit.fakes import inject
from connector.devkit.sandbox import serve_in_thread
from connector.devkit.sandbox.stripe import DEMO_WEBHOOK_SECRET
from connector.domain import DESKGUARD_MARKER
from connector.jobs import drain
from connector.web import create_app

PAT = "pat.chargeback@example.com"


@pytest.fixture
def e2e(config, sandbox, shop, stripe_sandbox):  # noqa: F811
    from zendesk_support import make_runtime

    runtime = make_runtime(
        zendesk_config(
            {**config, **shop_settings(shop), **stripe_settings(stripe_sandbox)}, sandbox
        )
    )
    sidecar = serve_in_thread(create_app(runtime=runtime))
    stripe_sandbox.state.add_webhook_endpoint(
        f"{sidecar.url}/webhooks/stripe/acme", DEMO_WEBHOOK_SECRET
    )
    yield runtime, sidecar
    sidecar.stop()
    runtime.close()


def pats_dispute(stripe_sandbox):
    state = stripe_sandbox.state
    charge = state.charges_of(PAT)[0]
    return next(d for d in state.disputes.values() if d["charge"] == charge["id"])


def test_dispute_brief_lands_on_the_open_zendesk_ticket(e2e, sandbox, stripe_sandbox):  # noqa: F811
    runtime, _ = e2e
    ticket = sandbox.state.customer_writes(
        subject="Where is my headphones refund?",
        body="I never got them.",
        name="Pat Morgan",
        email=PAT,
    )
    dispute = pats_dispute(stripe_sandbox)
    (delivery,) = stripe_sandbox.state.deliver(
        stripe_sandbox.state.event("charge.dispute.created", dispute)
    )
    assert delivery.status == 200
    assert drain(runtime, kinds=("stripe.dispute",)) == 1
    comments = sandbox.state.comments[ticket["id"]]
    note = comments[-1]
    assert note["public"] is False
    assert "Amount: 249.00 USD" in note["body"] and "Reason: fraudulent" in note["body"]
    assert "#1005: 249.00 USD" in note["body"] and "paid by the disputed charge" in note["body"]
    assert (
        note["body"].rstrip().endswith(f"{DESKGUARD_MARKER} stripe-dispute-{dispute['id']}-brief")
    )
    assert sandbox.state.tickets[ticket["id"]]["priority"] == "high"
    assert "deskguard_dispute" in sandbox.state.tickets[ticket["id"]]["tags"]


def test_dispute_without_an_open_ticket_opens_a_high_priority_one(e2e, sandbox, stripe_sandbox):  # noqa: F811
    runtime, _ = e2e
    before = set(sandbox.state.tickets)
    charge = stripe_sandbox.state.charges_of("jane.doe@example.com")[0]
    stripe_sandbox.state.open_dispute(charge["id"], reason="product_not_received", due_in_days=10)
    drain(runtime, kinds=("stripe.dispute",))
    (new_id,) = set(sandbox.state.tickets) - before
    created = sandbox.state.tickets[new_id]
    assert created["priority"] == "high" and created["subject"].startswith(
        "Chargeback: 84.50 USD disputed"
    )
    requester = sandbox.state.users[created["requester_id"]]
    assert requester["email"] == "jane.doe@example.com"
    (first,) = sandbox.state.comments[new_id]
    assert first["public"] is False and "#1001: 84.50 USD" in first["body"]


def test_refund_approved_through_the_admin_api_lands_in_stripe_once(e2e, sandbox, stripe_sandbox):  # noqa: F811
    runtime, sidecar = e2e
    import requests

    ticket = sandbox.state.customer_writes(
        subject="Refund please",
        body="The coffee set arrived broken.",
        name="Li Wei",
        email="li.wei@example.com",
    )
    charge = stripe_sandbox.state.charges_of("li.wei@example.com")[0]
    proposal = approvals.propose(
        runtime.db,
        "acme",
        ticket["id"],
        "refund",
        {
            "charge": charge["id"],
            "amount": 5890,
            "currency": "usd",
            "reason": "requested_by_customer",
        },
        "policy:refund",
        "damaged on arrival",
    )
    auth = {"Authorization": "Bearer test-admin-token"}
    listed = requests.get(
        f"{sidecar.url}/api/v1/tenants/acme/tickets/{ticket['id']}/approvals",
        headers=auth,
        timeout=10,
    ).json()
    assert [a["id"] for a in listed["approvals"]] == [proposal.id]
    url = f"{sidecar.url}/api/v1/tenants/acme/approvals/{proposal.id}/approve"
    for _ in range(2):  # a double click
        resp = requests.post(url, json={"agent": "agent:jo"}, headers=auth, timeout=30)
        assert resp.status_code == 200 and resp.json()["state"] == "done"
    assert len(stripe_sandbox.refunds_created()) == 1
    assert stripe_sandbox.state.charges[charge["id"]]["refunded"] is True


def test_order_cancellation_approved_lands_in_shopify_once(e2e, sandbox, shop):  # noqa: F811
    runtime, _ = e2e
    order = shop.state.order_by_name("#1002")
    gid = f"gid://shopify/Order/{order.id}"
    proposal = approvals.propose(
        runtime.db,
        "acme",
        501,
        "cancel_order",
        {
            "order_id": gid,
            "order_name": "#1002",
            "reason": "CUSTOMER",
            "restock": True,
            "notify_customer": False,
        },
        "policy:cancel",
        "customer changed their mind",
    )
    done = approvals.approve(runtime, "acme", proposal.id, "agent:jo")
    assert done.state == "done" and done.result["cancel"]["order_id"] == gid
    assert shop.state.order_by_name("#1002").cancelled_at is not None
    assert approvals.approve(runtime, "acme", proposal.id, "agent:jo").result == done.result
    # Crash after Shopify cancelled, before Deskguard recorded it: the takeover reads the order
    # back.
    real = runtime.services("acme").require_orders()

    class CrashAfterCancel:  # our OrderActions port around the real adapter
        def cancel_order(self, order_id, **kwargs):
            real.cancel_order(order_id, **kwargs)
            raise RuntimeError("process killed after orderCancel")

        def reconcile_cancel(self, order_id):
            return real.reconcile_cancel(order_id)

    other = shop.state.order_by_name("#1008")
    second = approvals.propose(
        runtime.db,
        "acme",
        502,
        "cancel_order",
        {
            "order_id": f"gid://shopify/Order/{other.id}",
            "order_name": "#1008",
            "reason": "CUSTOMER",
            "restock": True,
            "notify_customer": False,
        },
        "policy:cancel",
    )
    inject(runtime, orders=CrashAfterCancel())
    with pytest.raises(RuntimeError):
        approvals.approve(runtime, "acme", second.id, "agent:jo")
    inject(runtime, orders=None)
    assert shop.state.order_by_name("#1008").cancelled_at is not None
    later = time.time() + runtime.config.approval_lease_seconds + 1
    recovered = approvals.execute(runtime, "acme", second.id, clock=lambda: later)
    assert recovered.state == "done" and recovered.result["cancel"]["already_cancelled"] is True
