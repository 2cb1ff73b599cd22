"""Collaborative actions: proposed → approved → executed once (real stripe SDK against the
sandbox)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from stripe_support import stripe_sandbox_fixture, stripe_settings  # noqa: F401

from connector import audit
from connector.commerce import approvals
from connector.commerce.approvals import ApprovalConflict
from connector.devkit.fakes import inject
from connector.errors import BadRequest, NotFound
from connector.jobs import drain
from connector.tenants import ensure_tenant, set_kill_switch

LI = "li.wei@example.com"


@pytest.fixture
def config(config, stripe_sandbox):
    return {**config, **stripe_settings(stripe_sandbox)}


@pytest.fixture
def li_charge(stripe_sandbox):
    return stripe_sandbox.state.charges_of(LI)[0]


def propose_refund(runtime, charge, amount=2000, ticket_id=77, **extra):
    params = {
        "payment_intent": charge["payment_intent"],
        "amount": amount,
        "currency": "usd",
        "reason": "requested_by_customer",
        **extra,
    }
    return approvals.propose(
        runtime.db,
        "acme",
        ticket_id,
        "refund",
        params,
        "policy:refund_rule",
        "customer asked for a refund of a delivered item",
    )


def kinds(runtime):
    return [
        r["kind"]
        for r in audit.rows(runtime.db, tenant_id="acme")
        if r["kind"].startswith("approval.")
    ]


class CrashAfterRefund:
    """Our PaymentActions port around the real adapter: the refund reaches Stripe, then the
    process 'dies' before Deskguard can record the outcome."""

    def __init__(self, real):
        self.real = real

    def refund(self, **kwargs):
        self.real.refund(**kwargs)
        raise RuntimeError("process killed after the refund was sent")

    def find_refund(self, **kwargs):
        return self.real.find_refund(**kwargs)


# --- proposing -------------------------------------------------------------------------------
def test_propose_validates_and_dedupes(runtime, li_charge):
    a = propose_refund(runtime, li_charge)
    assert (a.state, a.kind, a.amount, a.currency) == ("proposed", "refund", 2000, "usd")
    assert a.idempotency_key == f"approval-{a.id}-refund"
    assert a.summary == f"Refund 20.00 USD on {li_charge['payment_intent']} (requested by customer)"
    assert propose_refund(runtime, li_charge).id == a.id  # a retried pipeline job proposes again
    assert propose_refund(runtime, li_charge, amount=1500).id != a.id
    bad = [
        {"amount": 2000, "currency": "usd", "reason": "requested_by_customer"},  # no target
        {
            "payment_intent": "pi_x",
            "charge": "ch_x",
            "amount": 1,
            "currency": "usd",
            "reason": "duplicate",
        },
        {"payment_intent": "pi_x", "amount": 19.99, "currency": "usd", "reason": "duplicate"},
        {"payment_intent": "pi_x", "amount": 0, "currency": "usd", "reason": "duplicate"},
        {"payment_intent": "pi_x", "amount": 100, "currency": "dollars", "reason": "duplicate"},
        {"payment_intent": "pi_x", "amount": 100, "currency": "usd", "reason": "because"},
        {
            "payment_intent": "ch_wrong_prefix",
            "amount": 100,
            "currency": "usd",
            "reason": "duplicate",
        },
    ]
    for params in bad:
        with pytest.raises(BadRequest):
            approvals.propose(runtime.db, "acme", 1, "refund", params, "policy:x")
    with pytest.raises(BadRequest):
        approvals.propose(
            runtime.db,
            "acme",
            1,
            "cancel_order",
            {
                "order_id": "gid://shopify/Order/1",
                "order_name": "#1",
                "reason": "because",
                "restock": True,
                "notify_customer": False,
            },
            "policy:x",
        )
    with pytest.raises(BadRequest):
        approvals.propose(runtime.db, "acme", 1, "teleport", {}, "policy:x")
    assert kinds(runtime) == ["approval.proposed", "approval.proposed"]


# --- executing once --------------------------------------------------------------------------
def test_approved_refund_executes_once_even_when_approved_again(runtime, stripe_sandbox, li_charge):
    a = propose_refund(runtime, li_charge)
    done = approvals.approve(runtime, "acme", a.id, "agent:jo")
    assert done.state == "done" and done.decided_by == "agent:jo" and done.executed_at
    refund = done.result["refund"]
    assert (refund["amount"], refund["payment_intent"], refund["status"]) == (
        2000,
        li_charge["payment_intent"],
        "succeeded",
    )
    (post,) = stripe_sandbox.refunds_created()
    assert post["idempotency_key"] == f"approval-{a.id}-refund"
    assert post["params"]["metadata"] == {
        "deskguard_tenant": "acme",
        "deskguard_ticket": "77",
        "deskguard_approval": str(a.id),
        "deskguard_idempotency_key": f"approval-{a.id}-refund",
    }
    again = approvals.approve(runtime, "acme", a.id, "agent:sam")  # double click / network retry
    assert again.state == "done" and again.decided_by == "agent:jo" and again.result == done.result
    assert (
        len(stripe_sandbox.state.requests_to("POST", "/v1/refunds")) == 1
    )  # no second call at all
    assert kinds(runtime) == [
        "approval.proposed",
        "approval.approved",
        "approval.executing",
        "approval.executed",
    ]
    assert audit.verify(runtime.db).ok


def test_concurrent_approvals_execute_once(runtime, stripe_sandbox, li_charge):
    a = propose_refund(runtime, li_charge)
    barrier = threading.Barrier(4)
    results, errors = [], []

    def click():
        barrier.wait()
        try:
            results.append(approvals.approve(runtime, "acme", a.id, "agent:jo").state)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=click) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert "done" in results and set(results) <= {"done", "executing"}
    assert len(stripe_sandbox.state.refunds) == 1 and len(stripe_sandbox.refunds_created()) == 1
    assert approvals.get(runtime.db, "acme", a.id).state == "done"


def test_crash_between_send_and_record_is_reconciled_by_the_key(runtime, stripe_sandbox, li_charge):
    real = runtime.services("acme").require_payments()
    a = propose_refund(runtime, li_charge)
    inject(runtime, payments=CrashAfterRefund(real))
    with pytest.raises(RuntimeError):
        approvals.approve(runtime, "acme", a.id, "agent:jo")
    assert approvals.get(runtime.db, "acme", a.id).state == "executing"
    assert len(stripe_sandbox.state.refunds) == 1  # Stripe applied it; we never recorded it
    inject(runtime, payments=None)

    # A retry while the crashed attempt's lease still holds does nothing.
    assert approvals.approve(runtime, "acme", a.id, "agent:jo").state == "executing"
    # After the lease lapses, the next attempt takes over and asks Stripe before sending.
    later = datetime.now(UTC).timestamp() + runtime.config.approval_lease_seconds + 1
    done = approvals.execute(runtime, "acme", a.id, clock=lambda: later)
    assert done.state == "done" and done.result["refund"]["id"] in stripe_sandbox.state.refunds
    assert len(stripe_sandbox.state.refunds) == 1
    assert (
        len(stripe_sandbox.state.requests_to("POST", "/v1/refunds")) == 1
    )  # reconciled, not re-sent
    executing = [
        r["data"]
        for r in audit.rows(runtime.db, tenant_id="acme")
        if r["kind"] == "approval.executing"
    ]
    assert [e["took_over"] for e in executing] == [False, True]
    executed = [
        r["data"]
        for r in audit.rows(runtime.db, tenant_id="acme")
        if r["kind"] == "approval.executed"
    ]
    assert executed[0]["reconciled"] is True


def test_crash_before_the_refund_reached_stripe_sends_it_on_takeover(
    runtime, stripe_sandbox, li_charge
):
    a = propose_refund(runtime, li_charge)
    stripe_sandbox.state.fail("POST", "/v1/refunds", 500, times=3)  # all SDK attempts fail...
    first = approvals.approve(runtime, "acme", a.id, "agent:jo")
    assert (
        first.state == "approved" and first.deferred_reason == "vendor_unavailable"
    )  # ...transient: retry later
    assert stripe_sandbox.state.refunds == {}
    (job,) = runtime.db.conn.execute(
        "SELECT id FROM jobs WHERE kind = 'approvals.execute'"
    ).fetchall()
    runtime.db.conn.execute("UPDATE jobs SET run_at = 0 WHERE id = ?", job)
    drain(runtime)
    assert approvals.get(runtime.db, "acme", a.id).state == "done"
    assert len(stripe_sandbox.state.refunds) == 1


def test_kill_switch_blocks_execution_and_the_approval_waits(runtime, stripe_sandbox, li_charge):
    a = propose_refund(runtime, li_charge)
    set_kill_switch(runtime.db, "acme", True, actor="admin", reason="incident")
    blocked = approvals.approve(runtime, "acme", a.id, "agent:jo")
    assert (blocked.state, blocked.deferred_reason, blocked.decided_by) == (
        "approved",
        "kill_switch",
        "agent:jo",
    )
    assert stripe_sandbox.state.requests_to("POST", "/v1/refunds") == []
    jobs = runtime.db.conn.execute(
        "SELECT id, state FROM jobs WHERE kind = 'approvals.execute'"
    ).fetchall()
    assert [j[1] for j in jobs] == ["queued"]
    drain(runtime)  # the worker re-checks while the switch is on: still deferred, nothing sent
    assert stripe_sandbox.state.requests_to("POST", "/v1/refunds") == []
    assert approvals.get(runtime.db, "acme", a.id).state == "approved"
    set_kill_switch(runtime.db, "acme", False, actor="admin")
    runtime.db.conn.execute("UPDATE jobs SET run_at = 0 WHERE id = ?", (jobs[0][0],))
    drain(runtime)
    assert approvals.get(runtime.db, "acme", a.id).state == "done"
    assert len(stripe_sandbox.refunds_created()) == 1
    assert approvals.approve(runtime, "acme", a.id, "agent:jo").state == "done"
    assert len(stripe_sandbox.refunds_created()) == 1
    assert kinds(runtime).count("approval.deferred") == 1


def test_permanent_vendor_error_fails_the_approval(runtime, stripe_sandbox, li_charge):
    a = propose_refund(runtime, li_charge, amount=li_charge["amount"] + 100)
    failed = approvals.approve(runtime, "acme", a.id, "agent:jo")
    assert failed.state == "failed" and "amount_too_large" in failed.error
    assert stripe_sandbox.state.refunds == {}
    assert "approval.failed" in kinds(runtime)


def test_reject_and_conflicts(runtime, stripe_sandbox, li_charge):
    a = propose_refund(runtime, li_charge)
    rejected = approvals.reject(
        runtime, "acme", a.id, "agent:jo", note="already refunded in store credit"
    )
    assert rejected.state == "rejected" and rejected.decision_note.startswith("already")
    assert approvals.reject(runtime, "acme", a.id, "agent:jo").state == "rejected"
    with pytest.raises(ApprovalConflict):
        approvals.approve(runtime, "acme", a.id, "agent:sam")
    assert stripe_sandbox.state.requests_to("POST", "/v1/refunds") == []
    b = propose_refund(runtime, li_charge, amount=100)
    approvals.approve(runtime, "acme", b.id, "agent:jo")
    with pytest.raises(ApprovalConflict):
        approvals.reject(runtime, "acme", b.id, "agent:jo")
    with pytest.raises(BadRequest):
        approvals.approve(runtime, "acme", b.id, "")
    ensure_tenant(runtime.db, "other")
    with pytest.raises(NotFound):
        approvals.approve(runtime, "other", b.id, "agent:jo")  # not their approval
    assert [x.id for x in approvals.list_pending(runtime.db, "acme")] == []
    assert {x.id for x in approvals.list_approvals(runtime.db, "acme", ticket_id=77)} == {
        a.id,
        b.id,
    }


# --- order cancellation ----------------------------------------------------------------------
class FakeShop:
    """Our OrderActions + OrderSource ports in memory (the Shopify adapter is another area's)."""

    def __init__(self):
        self.cancelled: list[tuple[str, dict]] = []
        self.cancelled_at: dict[str, datetime] = {}

    def cancel_order(self, order_id, **kwargs):
        self.cancelled.append((order_id, kwargs))
        self.cancelled_at[order_id] = datetime.now(UTC)
        return {"order_id": order_id, "job": "gid://shopify/Job/1"}

    def find_orders(self, *, email=None, order_name=None):
        from connector.domain import Money, Order

        return [
            Order(
                oid,
                order_name,
                "",
                None,
                "PAID",
                "UNFULFILLED",
                Money("129.00", "USD"),
                cancelled_at=when,
            )
            for oid, when in self.cancelled_at.items()
        ]


def test_cancel_order_executes_once_and_reconciles_by_reading_the_order(runtime):
    shop = FakeShop()
    inject(runtime, orders=shop)
    params = {
        "order_id": "gid://shopify/Order/5500001002",
        "order_name": "#1002",
        "reason": "customer",
        "restock": True,
        "notify_customer": True,
    }
    a = approvals.propose(runtime.db, "acme", 88, "cancel_order", params, "policy:cancel_rule")
    assert a.summary == "Cancel order #1002 (customer, restock, notify customer)"
    done = approvals.approve(runtime, "acme", a.id, "agent:jo")
    assert done.state == "done" and done.result["cancel"]["order_id"] == params["order_id"]
    ((_, kwargs),) = shop.cancelled
    assert kwargs["reason"] == "CUSTOMER" and kwargs["restock"] and kwargs["notify_customer"]
    assert kwargs["refund"] is False and f"approval {a.id}" in kwargs["staff_note"]
    approvals.approve(runtime, "acme", a.id, "agent:jo")
    assert len(shop.cancelled) == 1

    # Crash after Shopify accepted the cancel: the takeover reads the order back instead of
    # re-sending.
    b = approvals.propose(
        runtime.db,
        "acme",
        89,
        "cancel_order",
        {**params, "order_id": "gid://shopify/Order/9"},
        "policy:cancel_rule",
    )
    real_cancel = shop.cancel_order

    def crash(order_id, **kwargs):
        real_cancel(order_id, **kwargs)
        raise RuntimeError("killed")

    shop.cancel_order = crash
    with pytest.raises(RuntimeError):
        approvals.approve(runtime, "acme", b.id, "agent:jo")
    shop.cancel_order = real_cancel
    later = datetime.now(UTC).timestamp() + runtime.config.approval_lease_seconds + 1
    assert approvals.execute(runtime, "acme", b.id, clock=lambda: later).state == "done"
    assert len(shop.cancelled) == 2
