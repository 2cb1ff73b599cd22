"""Bounded waits: a vendor's retry-after never holds a worker longer than the setting; a longer
wait sends the job back to the queue with that delay. Drives the real anthropic SDK against the
Anthropic emulator."""

from __future__ import annotations

import time

import pytest

from adapters.anthropic import AnthropicClient
from connector import waits
from connector.errors import TransientError
from connector.waits import WaitBudget
from connector.worker import drain

pytest_plugins = ["anthropic_support"]
PARAMS = {
    "model": "claude-haiku-4-5",
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "Where is my order #1001?"}],
}


def client(sandbox, *, max_wait, max_retries=2):
    return AnthropicClient(
        api_key=sandbox.api_key,
        base_url=sandbox.url,
        timeout=5.0,
        connect_timeout=2.0,
        max_retries=max_retries,
        max_wait=max_wait,
    )


def test_a_short_retry_after_is_waited_out_in_place(sandbox):
    sandbox.state.fail(429, times=2, retry_after=0.2)
    waits.reset_longest_wait()
    started = time.monotonic()
    reply = client(sandbox, max_wait=5.0).create_message(**PARAMS)
    assert reply.text and len(sandbox.state.recorded()) == 3
    assert 0.4 <= time.monotonic() - started < 3.0
    assert waits.longest_wait() == pytest.approx(0.4)


def test_a_long_retry_after_ends_the_call_at_once_with_that_delay(sandbox):
    sandbox.state.fail(429, times=2, retry_after=600)
    started = time.monotonic()
    with pytest.raises(TransientError) as caught:
        client(sandbox, max_wait=30.0).create_message(**PARAMS)
    held = time.monotonic() - started
    print(f"two 429s with retry-after 600: the worker was held {held:.3f} s")
    assert held < 5.0  # not 600 s, not 20 minutes
    assert caught.value.retry_after == 600 and caught.value.status == 429
    assert len(sandbox.state.recorded()) == 1  # no second request: the queue waits instead


def test_the_job_goes_back_to_the_queue_with_the_vendors_delay(runtime, sandbox):
    sandbox.state.fail(429, times=1, retry_after=600)
    claude = client(sandbox, max_wait=30.0)

    def handler(rt, job):
        claude.create_message(**PARAMS)

    runtime.queue.enqueue("acme", "fault.claude", {}, "c1")
    started = time.time()
    drain(runtime, {"fault.claude": handler})
    state, run_at, attempts = runtime.db.conn.execute(
        "SELECT state, run_at, attempts FROM jobs"
    ).fetchone()
    assert (state, attempts) == ("queued", 1)
    assert run_at - started >= 600


def test_the_budget_counts_every_wait_of_one_call():
    slept: list[float] = []
    budget = WaitBudget(10.0, sleep=slept.append)
    budget.wait(4, vendor="zendesk")
    budget.wait(6, vendor="zendesk")
    with pytest.raises(TransientError) as caught:
        budget.wait(0.5, vendor="zendesk", status=429)
    assert slept == [4, 6] and caught.value.retry_after == 0.5


def test_zendesk_waits_no_longer_than_the_vendor_cap(config):
    """zenpy sleeps out 429s within its budget: the budget is capped by the vendor wait setting."""
    from connector.db import migrate
    from connector.runtime import Runtime
    from connector.zendesk.service import build_desk

    rt = Runtime(
        {
            **config,
            "zendesk_url": "https://acme.zendesk.com",
            "zendesk_email": "bot@acme.example",
            "zendesk_api_token": "tok",
            "zendesk_ratelimit_budget_seconds": 60,
            "vendor_max_wait_seconds": 5,
        }
    )
    try:
        migrate(rt.db)
        from connector.bootstrap import ensure_env_tenant

        ensure_env_tenant(rt)
        assert build_desk(rt, "acme").ratelimit_budget == 5
    finally:
        rt.close()


def test_shopify_and_stripe_wait_no_longer_than_the_vendor_cap(config):
    """Shopify's throttle wait and Stripe's retries (stripe-python sleeps up to 5 s per retry and
    ignores Retry-After) are both bounded by the vendor wait setting."""
    from adapters.stripe import retries_within
    from connector.commerce.service import build_orders, build_payments
    from connector.runtime import Runtime

    rt = Runtime(
        {
            **config,
            "shopify_throttle_max_wait_seconds": 60,
            "stripe_max_network_retries": 5,
            "vendor_max_wait_seconds": 12,
        }
    )
    try:
        from connector.db import migrate
        from connector.tenants import ensure_tenant

        migrate(rt.db)
        ensure_tenant(rt.db, "acme")
        rt.secrets.put(rt.db, "acme", "stripe_api_key", "rk_test_x")
        assert build_orders(rt, "acme").throttle_max_wait == 12
        assert build_payments(rt, "acme").max_network_retries == 2  # 2 x 5 s <= 12 s
    finally:
        rt.close()
    assert retries_within(2, 30) == 2 and retries_within(8, 30) == 6 and retries_within(3, 4) == 0
