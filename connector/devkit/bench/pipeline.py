"""``deskguard bench pipeline``: decisions per second and time per stage, measured.

Three parts, each on a fresh file-backed WAL ledger in a temporary directory:

1. ``in-memory``: the pipeline alone (in-memory Zendesk/Shopify fakes, a fixed reading), assist
   mode, N tickets, with 1 and more worker threads calling ``process_ticket``.
2. ``sandboxes``: the same through the real zenpy and ShopifyAPI SDKs against the Zendesk and
   Shopify emulators on 127.0.0.1 (one thread: what one ticket costs end to end).
3. ``caps``: 16 threads racing for automated-reply slots (``caps.reserve``), reservations/s.
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import click

from connector.devkit.bench import _percentile


def _runtime(tmp: Path, extra: dict | None = None, database_url: str = ""):
    """A migrated runtime on a SQLite file in ``tmp``, or on a fresh schema in the PostgreSQL
    database ``database_url``."""
    from cryptography.fernet import Fernet

    from connector.bootstrap import ensure_env_tenant
    from connector.db import migrate
    from connector.devkit.pgcluster import new_schema
    from connector.runtime import Runtime

    rt = Runtime(
        {
            "db_path": str(tmp / "ledger.db"),
            "database_url": new_schema(database_url, "bench_pipeline")[0] if database_url else "",
            "secret_keys": (Fernet.generate_key().decode(),),
            "tenant_id": "bench",
            "log_level": "error",
            **(extra or {}),
        }
    )
    migrate(rt.db)
    ensure_env_tenant(rt)
    return rt


def _stage_summary(contexts) -> dict[str, dict[str, float]]:
    stages: dict[str, list[float]] = {}
    for ctx in contexts:
        for name, ms in ctx.timings_ms.items():
            stages.setdefault(name, []).append(ms)
    return {
        name: {"p50_ms": round(_percentile(v, 50), 3), "p95_ms": round(_percentile(v, 95), 3)}
        for name, v in stages.items()
    }


def bench_in_memory(tickets: int, threads: int, database_url: str = "") -> dict:
    from connector.devkit.fakes import (
        FakeClassifier,
        FakeDesk,
        FakeOrders,
        inject,
        make_order,
        make_reading,
    )
    from connector.pipeline.engine import process_ticket
    from connector.pipeline.policy import set_category_modes

    with tempfile.TemporaryDirectory() as tmp:
        rt = _runtime(Path(tmp), database_url=database_url)
        desk = FakeDesk()
        inject(rt, desk=desk)
        inject(rt, classifier=FakeClassifier(make_reading("order_status", 0.97)))
        inject(
            rt,
            orders=FakeOrders(
                [make_order(email=f"c{i}@example.com", name=f"#{1000 + i}") for i in range(tickets)]
            ),
        )
        set_category_modes(rt.db, "bench", {"*": "assist"}, actor="bench")
        for tid in range(1, tickets + 1):
            desk.add_ticket(tid, "Where is my order?", email=f"c{tid - 1}@example.com")
        results, lock, latencies = [], threading.Lock(), []
        queue = list(range(1, tickets + 1))

        def work():
            while True:
                with lock:
                    if not queue:
                        return
                    tid = queue.pop()
                started = time.perf_counter()
                r = process_ticket(rt, "bench", tid)
                with lock:
                    latencies.append((time.perf_counter() - started) * 1000)
                    results.append(r)

        pool = [threading.Thread(target=work) for _ in range(threads)]
        started = time.perf_counter()
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        elapsed = time.perf_counter() - started
        notes = sum(1 for w in desk.writes if w[0] == "internal_note")
        rt.close()
    return {
        "threads": threads,
        "tickets": tickets,
        "notes_written": notes,
        "decisions_per_s": round(tickets / elapsed, 1),
        "ticket_p50_ms": round(_percentile(latencies, 50), 2),
        "ticket_p95_ms": round(_percentile(latencies, 95), 2),
        "ticket_p99_ms": round(_percentile(latencies, 99), 2),
        "stages": _stage_summary(r.context for r in results),
    }


def bench_sandboxes(tickets: int, database_url: str = "") -> dict:
    from connector.devkit.fakes import FakeClassifier, inject, make_reading
    from connector.devkit.sandbox import serve_in_thread
    from connector.devkit.sandbox.shopify import ShopifyState
    from connector.devkit.sandbox.shopify import create_app as shopify_app
    from connector.devkit.sandbox.zendesk import start_zendesk_sandbox
    from connector.pipeline import policy
    from connector.pipeline.engine import process_ticket
    from connector.pipeline.policy import set_category_modes

    zd = start_zendesk_sandbox(rate_limit_per_minute=None, export_rate_limit_per_minute=None)
    shop_state = ShopifyState(
        shop_domain="bench.myshopify.com",
        access_token="shpat_bench",
        api_secret="x",
        maximum_available=1e9,
        restore_rate=1e9,
    ).seed_demo()
    shop = serve_in_thread(shopify_app(shop_state))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            rt = _runtime(
                Path(tmp),
                {
                    "zendesk_url": zd.url,
                    "zendesk_email": zd.agent_email,
                    "zendesk_api_token": zd.agent_token,
                    "shopify_shop": "bench.myshopify.com",
                    "shopify_access_token": "shpat_bench",
                    "shopify_admin_url": shop.url,
                },
                database_url=database_url,
            )
            inject(rt, classifier=FakeClassifier(make_reading("order_status", 0.97)))
            set_category_modes(rt.db, "bench", {"*": "assist"}, actor="bench")
            # One customer asks many times here; do not turn that into repeat-contact escalations.
            policy.update(
                rt.db, "bench", {"escalation": {"repeat_contact_prior_contacts": 0}}, actor="bench"
            )
            ids = [
                zd.state.customer_writes(
                    subject="Where is my order?",
                    body="Where is my order #1001?",
                    name="Jane Doe",
                    email="jane.doe@example.com",
                )["id"]
                for _ in range(tickets)
            ]
            desk = rt.services("bench").require_desk()
            results, latencies = [], []
            calls_before = getattr(desk, "api_calls", 0)
            started = time.perf_counter()
            for tid in ids:
                t0 = time.perf_counter()
                results.append(process_ticket(rt, "bench", tid))
                latencies.append((time.perf_counter() - t0) * 1000)
            elapsed = time.perf_counter() - started
            calls = getattr(desk, "api_calls", 0) - calls_before
            rt.close()
    finally:
        zd.stop()
        shop.stop()
    outcomes: dict[str, int] = {}
    for r in results:
        outcomes[r.outcome] = outcomes.get(r.outcome, 0) + 1
    return {
        "tickets": tickets,
        "outcomes": outcomes,
        "decisions_per_s": round(tickets / elapsed, 1),
        "ticket_p50_ms": round(_percentile(latencies, 50), 2),
        "ticket_p95_ms": round(_percentile(latencies, 95), 2),
        "zendesk_api_calls_per_ticket": round(calls / tickets, 2) if calls else None,
        "stages": _stage_summary(r.context for r in results),
    }


def bench_caps(requests: int, threads: int = 16, database_url: str = "") -> dict:
    from connector.pipeline import caps

    with tempfile.TemporaryDirectory() as tmp:
        rt = _runtime(Path(tmp), database_url=database_url)
        ledger = rt.ledger
        barrier = threading.Barrier(threads)
        granted, lock, latencies = [], threading.Lock(), []

        def work(i: int):
            db = ledger.db
            barrier.wait()
            for k in range(i, requests, threads):
                t0 = time.perf_counter()
                ok = caps.reserve(
                    db, "bench", f"k{k}", per_hour=requests // 2, per_day=requests
                ).allowed
                with lock:
                    latencies.append((time.perf_counter() - t0) * 1000)
                    granted.append(ok)

        pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
        started = time.perf_counter()
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        elapsed = time.perf_counter() - started
        rows = rt.db.conn.execute("SELECT COUNT(*) FROM rate_ledger").fetchone()[0]
        rt.close()
    return {
        "threads": threads,
        "requests": requests,
        "cap_per_hour": requests // 2,
        "granted": sum(granted),
        "rows": rows,
        "reservations_per_s": round(requests / elapsed, 1),
        "p50_ms": round(_percentile(latencies, 50), 3),
        "p99_ms": round(_percentile(latencies, 99), 3),
    }


@click.command("pipeline")
@click.option("--tickets", default=300, show_default=True, help="Tickets per in-memory run.")
@click.option(
    "--threads", default="1,4", show_default=True, help="Comma list of worker-thread counts."
)
@click.option(
    "--sandbox-tickets",
    default=50,
    show_default=True,
    help="Tickets through the emulators (0: skip).",
)
@click.option(
    "--cap-requests", default=2000, show_default=True, help="Slot requests in the caps race."
)
@click.option(
    "--database-url",
    default="",
    help="Run on this PostgreSQL database (a fresh schema per part) instead of SQLite files.",
)
def bench_pipeline(
    tickets: int, threads: str, sandbox_tickets: int, cap_requests: int, database_url: str
) -> None:
    """Decisions/s and per-stage time of process_ticket; caps under 16 racing threads.

    Example: deskguard bench pipeline --tickets 300 --threads 1,4 --sandbox-tickets 50
    """
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    out: dict[str, Any] = {
        "in_memory": [
            bench_in_memory(tickets, int(n), database_url) for n in threads.split(",") if n.strip()
        ]
    }
    if sandbox_tickets:
        out["sandboxes"] = bench_sandboxes(sandbox_tickets, database_url)
    out["caps"] = bench_caps(cap_requests, database_url=database_url)
    click.echo(json.dumps(out, indent=2))
