"""The Stripe adapter driving the real stripe SDK over HTTP against the sandbox emulator."""

from __future__ import annotations

import pytest
from stripe_support import start_sandbox, stripe_sandbox_fixture  # noqa: F401

from adapters.stripe import StripeAdapter
from connector.devkit.sandbox.stripe import DEMO_SECRET_KEY, READ_ONLY_PERMISSIONS
from connector.errors import ConfigError, PermanentError, TransientError


def adapter(sandbox, key: str = DEMO_SECRET_KEY, **kwargs) -> StripeAdapter:
    return StripeAdapter(key, api_base=sandbox.url, timeout=5, **kwargs)


def test_lookup_by_search_returns_charges_and_payment_intents(stripe_sandbox):
    ctx = adapter(stripe_sandbox).payment_context("jane.doe@example.com")
    assert ctx.customer_id and ctx.customer_ids == (ctx.customer_id,)
    (charge,) = ctx.charges
    assert (charge.amount, charge.currency, charge.status) == (8450, "usd", "succeeded")
    assert charge.metadata == {"order_name": "#1001"} and charge.email == "jane.doe@example.com"
    assert [pi.id for pi in ctx.payment_intents] == [charge.payment_intent]
    assert ctx.refunds == () and ctx.disputes == ()
    searched = stripe_sandbox.state.requests_to("GET", "/v1/customers/search")
    assert searched[0]["params"]["query"] == "email:'jane.doe@example.com'"
    assert (
        stripe_sandbox.state.requests_to("GET", "/v1/customers") == searched
    )  # no list fallback needed


def test_list_fallback_finds_a_customer_the_search_index_has_not_caught_up_with():
    sandbox = start_sandbox(search_lag_seconds=3600)
    try:
        cus = sandbox.state.add_customer(
            "new.buyer@example.com", "New Buyer"
        )  # created now: not searchable yet
        sandbox.state.add_charge(cus["id"], 1999)
        ctx = adapter(sandbox).payment_context("new.buyer@example.com")
        assert ctx.customer_id == cus["id"]
        assert [c.amount for c in ctx.charges] == [1999]
        lists = [
            r
            for r in sandbox.state.requests_to("GET", "/v1/customers")
            if r["path"] == "/v1/customers"
        ]
        assert lists and lists[0]["params"]["email"] == "new.buyer@example.com"
        # An unknown email: both tried, empty context.
        assert adapter(sandbox).payment_context("nobody@example.com").customer_id is None
    finally:
        sandbox.server.stop()


def test_pagination_follows_has_more_up_to_the_lookup_limit(stripe_sandbox):
    a = adapter(stripe_sandbox, lookup_limit=22, page_size=10)
    ctx = a.payment_context("sam.vip@example.com")
    assert len(ctx.charges) == 22 and len({c.id for c in ctx.charges}) == 22
    created = [c.created_at for c in ctx.charges]
    assert created == sorted(created, reverse=True)
    pages = stripe_sandbox.state.requests_to("GET", "/v1/charges")
    assert len(pages) == 3 and "starting_after" in pages[1]["params"]
    # The default limit reads only the most recent page.
    assert len(adapter(stripe_sandbox).payment_context("sam.vip@example.com").charges) == 10


def test_dispute_and_refund_context(stripe_sandbox):
    a = adapter(stripe_sandbox)
    ctx = a.payment_context("pat.chargeback@example.com")
    (dispute,) = ctx.disputes
    assert (dispute.reason, dispute.status, dispute.amount) == (
        "fraudulent",
        "needs_response",
        24900,
    )
    assert 6.9 < (dispute.due_by - dispute.created_at).total_seconds() / 86400 <= 7.0
    li = a.payment_context("li.wei@example.com").charges[0]
    a.refund(
        payment_intent=li.payment_intent,
        charge=None,
        amount=1000,
        reason="requested_by_customer",
        metadata={"deskguard_ticket": "7"},
        idempotency_key="k-ctx",
    )
    ctx = a.payment_context("li.wei@example.com")
    assert ctx.charges[0].amount_refunded == 1000 and [r.amount for r in ctx.refunds] == [1000]
    assert ctx.refunds[0].created_at is not None  # dated in the side panel


def test_retries_are_configured_a_500_then_success_works(stripe_sandbox):
    stripe_sandbox.state.fail("GET", "/v1/customers/search", 500, times=1)
    ctx = adapter(stripe_sandbox, max_network_retries=2).payment_context("marco.rossi@example.com")
    assert ctx.charges[0].amount == 12900
    assert [
        r["status"] for r in stripe_sandbox.state.requests_to("GET", "/v1/customers/search")
    ] == [500, 200]


def test_without_retries_a_500_is_a_transient_error(stripe_sandbox):
    stripe_sandbox.state.fail("GET", "/v1/customers/search", 503, times=1)
    with pytest.raises(TransientError) as err:
        adapter(stripe_sandbox, max_network_retries=0).payment_context("marco.rossi@example.com")
    assert err.value.status == 503 and err.value.should_retry


def test_rate_limit_is_transient_and_connection_refused_too(stripe_sandbox):
    stripe_sandbox.state.fail("GET", "/v1/customers/search", 429, times=1)
    with pytest.raises(TransientError) as err:
        adapter(stripe_sandbox, max_network_retries=0).payment_context("jane.doe@example.com")
    assert err.value.status == 429
    dead = StripeAdapter(
        DEMO_SECRET_KEY, api_base="http://127.0.0.1:9", max_network_retries=0, timeout=2
    )
    with pytest.raises(TransientError):
        dead.payment_context("jane.doe@example.com")


def test_bad_key_is_a_permanent_error(stripe_sandbox):
    with pytest.raises(PermanentError) as err:
        adapter(stripe_sandbox, key="sk_test_not_a_real_key").payment_context(
            "jane.doe@example.com"
        )
    assert err.value.status == 401 and "DESKGUARD_STRIPE_API_KEY" in err.value.message
    with pytest.raises(ConfigError):
        StripeAdapter("pk_test_publishable", api_base=stripe_sandbox.url)


def test_restricted_key_reads_and_a_missing_permission_is_named(stripe_sandbox):
    key = stripe_sandbox.state.add_key("rk_test_readonly", READ_ONLY_PERMISSIONS)
    ro = adapter(stripe_sandbox, key=key)
    assert ro.restricted
    li = ro.payment_context("li.wei@example.com").charges[0]
    with pytest.raises(PermanentError) as err:
        ro.refund(
            payment_intent=li.payment_intent,
            charge=None,
            amount=100,
            reason="requested_by_customer",
            metadata={},
            idempotency_key="k-ro",
        )
    assert err.value.status == 403 and err.value.code == "stripe_permission_missing"
    assert "Refunds: Write" in err.value.message and "rak_refund_write" in err.value.message
    no_disputes = stripe_sandbox.state.add_key(
        "rk_test_nodisputes", READ_ONLY_PERMISSIONS - {"rak_dispute_read"}
    )
    with pytest.raises(PermanentError, match="Disputes: Read"):
        adapter(stripe_sandbox, key=no_disputes).payment_context("pat.chargeback@example.com")
    assert stripe_sandbox.refunds_created() == []


def test_refund_idempotency_replay_and_conflict(stripe_sandbox):
    a = adapter(stripe_sandbox)
    li = a.payment_context("li.wei@example.com").charges[0]
    args = {
        "payment_intent": li.payment_intent,
        "charge": None,
        "amount": 2500,
        "reason": "requested_by_customer",
        "metadata": {"deskguard_ticket": "42"},
    }
    first = a.refund(**args, idempotency_key="approval-1-refund")
    again = a.refund(**args, idempotency_key="approval-1-refund")
    assert first == again and len(stripe_sandbox.state.refunds) == 1
    posts = stripe_sandbox.state.requests_to("POST", "/v1/refunds")
    assert [p["idempotency_key"] for p in posts] == ["approval-1-refund"] * 2
    assert posts[0]["params"]["metadata"] == {
        "deskguard_ticket": "42",
        "deskguard_idempotency_key": "approval-1-refund",
    }
    with pytest.raises(PermanentError) as err:
        a.refund(**{**args, "amount": 2400}, idempotency_key="approval-1-refund")
    assert err.value.code == "stripe_idempotency_error"
    assert (
        a.find_refund(
            payment_intent=li.payment_intent, charge=None, idempotency_key="approval-1-refund"
        )
        == first
    )
    assert (
        a.find_refund(payment_intent=li.payment_intent, charge=None, idempotency_key="other")
        is None
    )


def test_refund_validation_errors_are_permanent(stripe_sandbox):
    a = adapter(stripe_sandbox)
    li = a.payment_context("li.wei@example.com").charges[0]
    with pytest.raises(PermanentError) as err:
        a.refund(
            payment_intent=None,
            charge=li.id,
            amount=li.amount + 1,
            reason="duplicate",
            metadata={},
            idempotency_key="too-much",
        )
    assert err.value.status == 400 and "amount_too_large" in err.value.message
    pat = a.payment_context("pat.chargeback@example.com").charges[0]
    with pytest.raises(PermanentError, match="charge_disputed"):
        a.refund(
            payment_intent=None,
            charge=pat.id,
            amount=100,
            reason="duplicate",
            metadata={},
            idempotency_key="disputed",
        )
    with pytest.raises(ValueError):
        a.refund(
            payment_intent=li.payment_intent,
            charge=li.id,
            amount=100,
            reason="duplicate",
            metadata={},
            idempotency_key="both",
        )
    with pytest.raises(ValueError):
        a.refund(
            payment_intent=li.payment_intent,
            charge=None,
            amount=100,
            reason="because",
            metadata={},
            idempotency_key="reason",
        )


def test_charge_lookup_fills_the_email_from_the_customer(stripe_sandbox):
    state = stripe_sandbox.state
    cus = state.add_customer("only.on.customer@example.com", created=0)
    ch = state.add_charge(cus["id"], 500, email="")
    charge = adapter(stripe_sandbox).charge(ch["id"])
    assert charge.email == "only.on.customer@example.com" and charge.customer_id == cus["id"]
    with pytest.raises(PermanentError) as err:
        adapter(stripe_sandbox).charge("ch_missing")
    assert err.value.status == 404


def test_emulator_auth_and_error_shapes_over_plain_http(stripe_sandbox):
    import requests

    url = f"{stripe_sandbox.url}/v1/customers"
    ok = requests.get(
        url, params={"email": "li.wei@example.com"}, auth=(DEMO_SECRET_KEY, ""), timeout=5
    )
    assert (
        ok.status_code == 200
        and ok.json()["object"] == "list"
        and ok.json()["data"][0]["name"] == "Li Wei"
    )
    assert ok.headers["Request-Id"].startswith("req_")
    missing = requests.get(url, timeout=5)
    assert missing.status_code == 401 and missing.json()["error"]["type"] == "invalid_request_error"
    wrong = requests.get(url, headers={"Authorization": "Bearer sk_test_wrong"}, timeout=5)
    assert wrong.status_code == 401 and "Invalid API Key" in wrong.json()["error"]["message"]
    unknown = requests.get(
        f"{stripe_sandbox.url}/v1/charges/ch_nope", auth=(DEMO_SECRET_KEY, ""), timeout=5
    )
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "resource_missing"
    bad_limit = requests.get(url, params={"limit": 101}, auth=(DEMO_SECRET_KEY, ""), timeout=5)
    assert bad_limit.status_code == 400 and bad_limit.json()["error"]["param"] == "limit"
