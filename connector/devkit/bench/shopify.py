"""``deskguard bench shopify``: order-lookup latency through the real SDK against the sandbox, and
how long the privacy webhooks take on a big ledger (Shopify wants an answer within 5 s).

Figures go in docs/BENCHMARKS.md under "Shopify"; nothing here is asserted by a unit test.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from typing import Any

import click

from connector.devkit.bench import _percentile


def _lookup_benchmark(lookups: int) -> dict[str, Any]:
    from adapters.shopify import ShopifyAdmin
    from connector.devkit.sandbox import serve_in_thread
    from connector.devkit.sandbox.shopify import ShopifyState, create_app

    # a bucket large enough that throttling does not dominate: this measures our overhead + HTTP
    state = ShopifyState(maximum_available=1e9, restore_rate=1e9).seed_demo()
    server = serve_in_thread(create_app(state))
    try:
        adapter = ShopifyAdmin(
            lambda: (state.shop_domain, state.access_token), admin_url=server.url
        )
        out: dict[str, Any] = {}
        for label, kwargs in (
            ("by_name", {"order_name": "order 1001"}),
            ("by_email", {"email": "sam.vip@example.com"}),
        ):
            adapter.find_orders(**kwargs)  # warm-up
            times = []
            for _ in range(lookups):
                started = time.perf_counter()
                adapter.find_orders(**kwargs)
                times.append((time.perf_counter() - started) * 1000)
            out[label] = {
                "lookups": lookups,
                "p50_ms": round(_percentile(times, 50), 2),
                "p99_ms": round(_percentile(times, 99), 2),
            }
        return out
    finally:
        server.stop()


def _seed_ledger(path: str, tickets: int) -> None:
    from connector import actions
    from connector.db import Ledger, migrate, transaction
    from connector.tenants import ensure_tenant

    ledger = Ledger(path)
    db = ledger.db
    migrate(db)
    ensure_tenant(db, "bench", shopify_shop="bench.myshopify.com")
    for t in range(1, tickets + 1):
        email = f"customer{t % (tickets // 2 or 1)}@example.com"  # two tickets per customer
        context = {
            "orders": [
                {
                    "id": f"gid://shopify/Order/{5_000_000 + t}",
                    "name": f"#{1000 + t}",
                    "email": email,
                    "line_items": [{"title": "Merino Wool Beanie", "quantity": 1}] * 3,
                }
            ]
        }
        with transaction(db):
            db.conn.execute(
                "INSERT INTO decisions (tenant_id, ticket_id, created_at, category, outcome,"
                " context, brief, requester_hash)"
                " VALUES ('bench', ?, '2025-01-01', 'order_status', 'assist_note', ?, ?, ?)",
                (
                    t,
                    json.dumps(context),
                    f"Customer {email} asks where order #{1000 + t} is. " * 4,
                    hashlib.sha256(email.encode()).hexdigest(),
                ),
            )
        actions.execute(
            db,
            "bench",
            actions.WriteAction(
                "zendesk",
                "zendesk.internal_note",
                f"note-{t}",
                {"ticket_id": t, "body": f"Order #{1000 + t} for {email}"},
                send=lambda key: {"comment_id": 1},
                ticket_id=t,
            ),
        )
    ledger.close()


def _privacy_benchmark(tickets: int) -> dict[str, Any]:
    from connector import audit
    from connector.commerce import privacy
    from connector.db import Ledger

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bench-privacy.db")
        started = time.perf_counter()
        _seed_ledger(path, tickets)
        seeded_s = time.perf_counter() - started
        ledger = Ledger(path)
        db = ledger.db
        audit_rows = db.conn.execute("SELECT count(*) FROM audit_log").fetchone()[0]
        subject = privacy.CustomerSubject(email="customer7@example.com", customer_id="7")
        started = time.perf_counter()
        privacy.collect_customer(db, "bench", subject)
        export_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        customer = privacy.erase_customer(db, "bench", subject)
        customer_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        shop = privacy.erase_shop(db, "bench", "bench.myshopify.com")
        shop_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        verified = audit.verify(db).ok
        verify_ms = (time.perf_counter() - started) * 1000
        ledger.close()
    return {
        "tickets": tickets,
        "audit_rows": audit_rows,
        "seed_s": round(seeded_s, 1),
        "data_request_collect_ms": round(export_ms, 1),
        "customers_redact_ms": round(customer_ms, 1),
        "customers_redact_rows": customer,
        "shop_redact_ms": round(shop_ms, 1),
        "shop_redact_audit_rows": shop.get("audit_log"),
        "audit_verify_ok": verified,
        "audit_verify_ms": round(verify_ms, 1),
    }


@click.command("shopify")
@click.option(
    "--lookups",
    default=200,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="Timed lookups per kind (by order name, by email).",
)
@click.option(
    "--tickets",
    default=5000,
    show_default=True,
    type=click.IntRange(2, 1_000_000),
    help="Tickets (decision + keyed note + audit rows each) in the privacy ledger.",
)
def bench_shopify(lookups: int, tickets: int) -> None:
    """Order lookups through ShopifyAPI against the sandbox, and privacy webhook work on a big
    ledger.

    Example: deskguard bench shopify --lookups 200 --tickets 5000
    """
    import logging

    from connector.cli_context import echo_json

    logging.getLogger("werkzeug").setLevel(
        logging.WARNING
    )  # one access-log line per request otherwise
    echo_json({"lookups": _lookup_benchmark(lookups), "privacy": _privacy_benchmark(tickets)})
