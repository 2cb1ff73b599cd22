"""`deskguard bench stripe`: Stripe lookups, webhook intake and approved refunds, measured
end to end against the sandbox emulator over HTTP loopback with the real stripe SDK.

What it measures (figures belong in docs/BENCHMARKS.md, never in timed unit tests):

- lookup: ``payment_context(email)`` for the demo customers (search → charges → PaymentIntents
  → refunds/disputes), latency p50/p99 and Stripe API requests per lookup;
- webhooks: signed ``charge.dispute.created`` deliveries through the Flask app (verify the
  signature on the raw body, dedupe, enqueue), per second and p50/p99;
- refunds: propose + approve + execute (action ledger, Idempotency-Key, audit) per approval.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from typing import Any

import click

from connector.cli_context import echo_json
from connector.devkit.bench import _percentile


def _stats(latencies_s: list[float], elapsed: float) -> dict[str, Any]:
    ms = [x * 1000 for x in latencies_s]
    return {
        "n": len(ms),
        "per_second": round(len(ms) / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(_percentile(ms, 50), 2),
        "p99_ms": round(_percentile(ms, 99), 2),
    }


def stripe_benchmark(
    *, lookups: int = 200, webhooks: int = 500, refunds: int = 100
) -> dict[str, Any]:
    from cryptography.fernet import Fernet

    from connector.bootstrap import ensure_env_tenant
    from connector.commerce import approvals
    from connector.db import migrate
    from connector.devkit.sandbox.stripe import DEMO_CUSTOMERS, sign_payload, start_stripe_sandbox
    from connector.runtime import Runtime
    from connector.web import create_app

    logging.getLogger("werkzeug").setLevel(
        logging.WARNING
    )  # no access-log line per sandbox request
    sandbox = start_stripe_sandbox()
    tmp = tempfile.mkdtemp(prefix="deskguard-bench-stripe-")
    runtime = Runtime(
        {
            "db_path": os.path.join(tmp, "ledger.db"),
            "secret_keys": (Fernet.generate_key().decode(),),
            "tenant_id": "bench",
            "log_level": "warning",
            **sandbox.settings,
        }
    )
    try:
        migrate(runtime.db)
        ensure_env_tenant(runtime)
        stripe = runtime.services("bench").require_payments()
        emails = [email for email, _, _ in DEMO_CUSTOMERS]
        out: dict[str, Any] = {}

        # --- lookups ----------------------------------------------------------------------
        per_email: dict[str, list[int]] = {e: [] for e in emails}
        lat: list[float] = []
        start = time.perf_counter()
        for i in range(lookups):
            email = emails[i % len(emails)]
            before, t0 = len(sandbox.state.requests), time.perf_counter()
            stripe.payment_context(email)
            lat.append(time.perf_counter() - t0)
            per_email[email].append(len(sandbox.state.requests) - before)
        out["lookup"] = {
            **_stats(lat, time.perf_counter() - start),
            "requests_per_lookup": {e: max(v) for e, v in per_email.items() if v},
        }

        # --- webhook intake ----------------------------------------------------------------
        client = create_app(runtime=runtime).test_client()
        charge = sandbox.state.charges_of("pat.chargeback@example.com")[0]
        dispute = next(d for d in sandbox.state.disputes.values() if d["charge"] == charge["id"])
        lat = []
        start = time.perf_counter()
        for _ in range(webhooks):
            body = json.dumps(sandbox.state.event("charge.dispute.created", dispute)).encode()
            headers = {
                "Stripe-Signature": sign_payload(body, sandbox.settings["stripe_webhook_secret"]),
                "Content-Type": "application/json",
            }
            t0 = time.perf_counter()
            resp = client.post("/webhooks/stripe/bench", data=body, headers=headers)
            lat.append(time.perf_counter() - t0)
            if resp.status_code != 200:
                raise RuntimeError(
                    f"webhook answered {resp.status_code}: {resp.get_data(as_text=True)}"
                )
        out["webhooks"] = _stats(lat, time.perf_counter() - start)

        # --- approved refunds --------------------------------------------------------------
        cus = sandbox.state.add_customer("bench.refunds@example.com", created=0)
        charges = [sandbox.state.add_charge(cus["id"], 10_000) for _ in range(refunds)]
        lat = []
        start = time.perf_counter()
        for n, ch in enumerate(charges):
            t0 = time.perf_counter()
            a = approvals.propose(
                runtime.db,
                "bench",
                1000 + n,
                "refund",
                {
                    "charge": ch["id"],
                    "amount": 2500,
                    "currency": "usd",
                    "reason": "requested_by_customer",
                },
                "bench",
            )
            if approvals.approve(runtime, "bench", a.id, "bench").state != "done":
                raise RuntimeError(f"approval {a.id} did not execute")
            lat.append(time.perf_counter() - t0)
        out["refunds"] = {
            **_stats(lat, time.perf_counter() - start),
            "refunds_in_stripe": len(sandbox.state.refunds),
        }
        return out
    finally:
        runtime.close()
        sandbox.stop()


@click.command("stripe")
@click.option("--lookups", default=200, show_default=True, type=click.IntRange(1))
@click.option("--webhooks", default=500, show_default=True, type=click.IntRange(1))
@click.option("--refunds", default=100, show_default=True, type=click.IntRange(1))
def bench_stripe(lookups: int, webhooks: int, refunds: int) -> None:
    """Stripe lookups, webhook intake and approved refunds against the sandbox (JSON figures).

    Example: deskguard bench stripe --lookups 200 --webhooks 500 --refunds 100
    """
    echo_json(stripe_benchmark(lookups=lookups, webhooks=webhooks, refunds=refunds))
