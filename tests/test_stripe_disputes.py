"""Dispute briefs: charge.dispute.created → stripe.dispute job → internal note or new ticket.

Stripe is the real SDK against the sandbox; Zendesk and Shopify are in-memory fakes of our own
ports (TicketDesk, OrderSource), as allowed for unit tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from stripe_support import FakeDesk, signed, stripe_sandbox_fixture, stripe_settings  # noqa: F401

from connector import audit
from connector.devkit.fakes import inject
from connector.domain import Fulfillment, Money, Order
from connector.errors import TransientError
from connector.jobs import drain
from connector.tenants import set_kill_switch

URL = "/webhooks/stripe/acme"
PAT = "pat.chargeback@example.com"


@pytest.fixture
def config(config, stripe_sandbox):
    return {**config, **stripe_settings(stripe_sandbox)}


class FakeShop:
    def __init__(self, orders=(), error: Exception | None = None):
        self.orders, self.error, self.calls = list(orders), error, []

    def find_orders(self, *, email=None, order_name=None):
        self.calls.append(email)
        if self.error:
            raise self.error
        return [o for o in self.orders if o.email == email]


def order(name, total, *, days_ago, email=PAT, delivered=False):
    now = datetime.now(UTC)
    fulfillments = (
        (Fulfillment("SUCCESS", delivered_at=now - timedelta(days=days_ago - 2)),)
        if delivered
        else ()
    )
    return Order(
        f"gid://shopify/Order/{name[1:]}",
        name,
        email,
        now - timedelta(days=days_ago),
        "PAID",
        "FULFILLED",
        Money(total, "USD"),
        fulfillments=fulfillments,
    )


@pytest.fixture
def desk(runtime):
    fake = FakeDesk()
    inject(runtime, desk=fake)
    return fake


@pytest.fixture
def shop(runtime):
    fake = FakeShop(
        [order("#0990", "12.00", days_ago=2), order("#1005", "249.00", days_ago=25, delivered=True)]
    )
    inject(runtime, orders=fake)
    return fake


def post_dispute(client, sandbox, email=PAT):
    state = sandbox.state
    charge = state.charges_of(email)[0]
    dispute = next(
        (d for d in state.disputes.values() if d["charge"] == charge["id"]), None
    ) or state.add_dispute(charge["id"], reason="product_not_received", due_in_days=5)
    body, headers = signed(state.event("charge.dispute.created", dispute))
    resp = client.post(URL, data=body, headers=headers)
    assert resp.status_code == 200, resp.json
    return dispute, resp.json["job_id"]


def job_state(runtime, job_id):
    return runtime.db.conn.execute(
        "SELECT state, last_error FROM jobs WHERE id = ?", (job_id,)
    ).fetchone()


def test_brief_lands_on_the_customers_latest_open_ticket(
    client, runtime, stripe_sandbox, desk, shop
):
    desk.add_ticket(101, PAT, hours_ago=30)
    desk.add_ticket(102, PAT, hours_ago=2)
    desk.add_ticket(103, PAT, status="solved", hours_ago=1)
    desk.add_ticket(104, "someone.else@example.com", hours_ago=1)
    dispute, job_id = post_dispute(client, stripe_sandbox)
    assert drain(runtime) == 1 and job_state(runtime, job_id)[0] == "done"
    (note,) = desk.notes
    assert (
        note["ticket_id"] == 102
        and note["priority"] == "high"
        and "deskguard_dispute" in note["tags"]
    )
    assert note["marker"] == f"stripe-dispute-{dispute['id']}-brief"
    body = note["body"]
    due = datetime.fromtimestamp(dispute["evidence_details"]["due_by"], UTC).strftime(
        "%Y-%m-%d %H:%M UTC"
    )
    for expected in (
        "Amount: 249.00 USD",
        "Reason: fraudulent",
        f"Evidence due: {due} (in 7 days)",
        f"Customer: {PAT}",
        dispute["id"],
        "#1005: 249.00 USD",
        "paid by the disputed charge",
        "#0990",
    ):
        assert expected in body, expected
    assert body.index("#1005") < body.index("#0990")  # the matching order first
    assert desk.created == [] and shop.calls == [PAT]
    kinds = [r["kind"] for r in audit.rows(runtime.db, tenant_id="acme")]
    assert {"action.requested", "action.succeeded", "stripe.dispute_brief"} <= set(kinds)


def test_no_open_ticket_opens_a_high_priority_ticket(client, runtime, stripe_sandbox, desk, shop):
    desk.add_ticket(201, PAT, status="solved")
    dispute, _ = post_dispute(client, stripe_sandbox)
    drain(runtime)
    (created,) = desk.created
    assert (
        created["priority"] == "high" and created["requester"] == PAT and created["public"] is False
    )
    assert created["subject"].startswith(
        "Chargeback: 249.00 USD disputed (fraudulent), evidence due "
    )
    assert "Amount: 249.00 USD" in created["body"] and desk.notes == []
    row = runtime.db.conn.execute(
        "SELECT state, result FROM actions WHERE idempotency_key = ?",
        (f"stripe-dispute-{dispute['id']}-brief",),
    ).fetchone()
    assert row[0] == "done" and '"new_ticket"' in row[1]


def test_a_second_job_for_the_same_dispute_replays(client, runtime, stripe_sandbox, desk, shop):
    desk.add_ticket(301, PAT)
    dispute, _ = post_dispute(client, stripe_sandbox)
    drain(runtime)
    # A different event about the same dispute (e.g. re-sent from the Dashboard) → new job, same
    # key.
    body, headers = signed(stripe_sandbox.state.event("charge.dispute.created", dispute))
    client.post(URL, data=body, headers=headers)
    assert drain(runtime) == 1
    assert len(desk.notes) == 1


def test_crash_after_the_note_was_written_is_reconciled_not_reposted(
    client, runtime, stripe_sandbox, desk, shop
):
    desk.add_ticket(401, PAT)
    desk.fail_after_write = True
    _, job_id = post_dispute(client, stripe_sandbox)
    drain(runtime)
    assert job_state(runtime, job_id)[0] == "queued" and len(desk.notes) == 1  # retried later
    desk.fail_after_write = False
    runtime.db.conn.execute("UPDATE jobs SET run_at = 0 WHERE id = ?", (job_id,))
    drain(runtime)
    assert job_state(runtime, job_id)[0] == "done"
    assert len(desk.notes) == 1  # found by its marker, not posted again
    succeeded = [
        r for r in audit.rows(runtime.db, tenant_id="acme") if r["kind"] == "action.succeeded"
    ]
    assert succeeded[-1]["data"]["reconciled"] is True


def test_a_crash_after_opening_a_ticket_is_reconciled_by_external_id_despite_search_lag(
    client, runtime, stripe_sandbox, desk, shop
):
    # No open ticket: the brief opens one. The write lands, then the worker "crashes"; Zendesk
    # search has not indexed the new ticket yet, so only its external id can find it.
    desk.search_lags = True
    desk.fail_after_write = True
    dispute, job_id = post_dispute(client, stripe_sandbox)
    drain(runtime)
    assert job_state(runtime, job_id)[0] == "queued" and len(desk.created) == 1
    desk.fail_after_write = False
    runtime.db.conn.execute("UPDATE jobs SET run_at = 0 WHERE id = ?", (job_id,))
    drain(runtime)
    assert job_state(runtime, job_id)[0] == "done"
    key = f"stripe-dispute-{dispute['id']}-brief"
    assert len(desk.created) == 1 and desk.external_ids[key] == desk.created[0]["ticket_id"]


def test_kill_switch_defers_the_brief_until_released(client, runtime, stripe_sandbox, desk, shop):
    desk.add_ticket(501, PAT)
    set_kill_switch(runtime.db, "acme", True, actor="test")
    _, job_id = post_dispute(client, stripe_sandbox)
    drain(runtime)
    assert job_state(runtime, job_id)[0] == "queued" and desk.notes == []
    set_kill_switch(runtime.db, "acme", False, actor="test")
    runtime.db.conn.execute("UPDATE jobs SET run_at = 0 WHERE id = ?", (job_id,))
    drain(runtime)
    assert job_state(runtime, job_id)[0] == "done" and len(desk.notes) == 1


def test_shopify_outage_degrades_the_brief(client, runtime, stripe_sandbox, desk):
    inject(runtime, orders=FakeShop(error=TransientError("shopify down", vendor="shopify")))
    desk.add_ticket(601, PAT)
    post_dispute(client, stripe_sandbox)
    drain(runtime)
    assert "none (Shopify lookup failed (TransientError))" in desk.notes[0]["body"]


def test_dispute_without_any_email_goes_to_the_dead_letter_queue(
    client, runtime, stripe_sandbox, desk, shop
):
    state = stripe_sandbox.state
    anon = state.add_charge(None, 700, email="")
    dispute = state.add_dispute(anon["id"])
    body, headers = signed(state.event("charge.dispute.created", dispute))
    job_id = client.post(URL, data=body, headers=headers).json["job_id"]
    drain(runtime)
    st, error = job_state(runtime, job_id)
    assert st == "dead" and "DESKGUARD_STRIPE_DISPUTE_REQUESTER_EMAIL" in error
    assert desk.notes == [] and desk.created == []
