"""`deskguard bench metrics`: how long a /metrics scrape and the metrics APIs take on a ledger of
N decisions (the figures are read from the ledger at every scrape)."""

from __future__ import annotations

import json
import os
import platform
import statistics
import tempfile
import time
from typing import Any

import click

from connector.devkit.bench.backup import build_ledger

TENANT = "bench"
OUTCOMES = ("assist_note", "assist_note", "auto_reply", "escalate", "shadow")
STATUSES = ("done",) * 17 + ("failed", "pending", "deferred")


def add_activity(path: str, decisions: int) -> dict[str, int]:
    """Mix outcomes and statuses into the decisions of ``build_ledger`` and add what a busy
    ledger also holds: one vendor write per decision, a failed attempt per 500 of them (audited
    as the write path does), one finished job per decision, a few queued and dead jobs, tokens
    and cost, and a day of capped automated replies."""
    from connector import audit
    from connector.db import Ledger

    ledger = Ledger(path)
    db = ledger.db
    with db.conn:
        db.conn.execute(
            "UPDATE decisions SET outcome = json_extract(?, '$[' || (id % ?) || ']'),"
            " status = json_extract(?, '$[' || (id % ?) || ']'),"
            " escalated = (id % 7 = 0), cost_usd = 0.0004, input_tokens = 420,"
            " output_tokens = 60, latency_ms = 80 + id % 50",
            (json.dumps(OUTCOMES), len(OUTCOMES), json.dumps(STATUSES), len(STATUSES)),
        )
        db.conn.execute(
            "INSERT INTO actions (tenant_id, idempotency_key, vendor, kind, ticket_id, params,"
            " state, attempts, created_at, updated_at)"
            " SELECT tenant_id, 'bench-' || id, CASE id % 3 WHEN 0 THEN 'stripe' ELSE 'zendesk'"
            " END, 'zendesk.internal_note', ticket_id, '{}', 'done', 1, created_at, created_at"
            " FROM decisions",
        )
        now = time.time()
        db.conn.execute(
            "INSERT INTO jobs (tenant_id, kind, payload, dedupe_key, state, attempts,"
            " max_attempts, run_at, created_at, updated_at, finished_at)"
            " SELECT tenant_id, 'zendesk.ticket', '{}', 'bench:' || id,"
            " CASE WHEN id % 1000 = 0 THEN 'dead' WHEN id % 997 = 0 THEN 'queued' ELSE 'done' END,"
            " 1, 5, ?, ?, ?, ? FROM decisions",
            (now, now, now, now),
        )
        db.conn.executemany(
            "INSERT INTO rate_ledger (tenant_id, bucket, ts, ticket_id, key) VALUES (?,?,?,?,?)",
            [(TENANT, "auto_reply", now - i * 40, i, f"bench-{i}") for i in range(200)],
        )
    failures = max(1, decisions // 500)
    for i in range(failures):
        with db.conn:
            audit.record(
                db,
                TENANT,
                audit.ActionFailed(
                    action_id=i + 1,
                    vendor="zendesk",
                    action="zendesk.internal_note",
                    idempotency_key=f"bench-{i + 1}",
                    error="HTTP 503",
                    will_retry=True,
                ),
            )
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    ledger.close()
    return {"vendor_writes": decisions, "failed_attempts": failures, "jobs": decisions}


def _timed(client: Any, url: str, headers: dict[str, str], repeat: int) -> dict[str, float]:
    seconds = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        resp = client.get(url, headers=headers)
        seconds.append(time.perf_counter() - t0)
        if resp.status_code != 200:
            raise click.ClickException(f"{url} answered {resp.status_code}")
    return {
        "median_ms": round(statistics.median(seconds) * 1000, 1),
        "min_ms": round(min(seconds) * 1000, 1),
        "max_ms": round(max(seconds) * 1000, 1),
    }


@click.command("metrics")
@click.option("--decisions", default=100_000, show_default=True, type=click.IntRange(min=1))
@click.option("--scrapes", default=5, show_default=True, type=click.IntRange(min=1))
@click.option("--dir", "work_dir", help="Scratch folder (default: a new temporary folder).")
def bench_metrics(decisions: int, scrapes: int, work_dir: str | None) -> None:
    """Time GET /metrics and both metrics APIs on a ledger of N decisions.

    Example: deskguard bench metrics --decisions 100000 --scrapes 5
    """
    from cryptography.fernet import Fernet

    from connector.runtime import Runtime
    from connector.web import create_app

    folder = work_dir or tempfile.mkdtemp(prefix="deskguard-bench-metrics-")
    path = os.path.join(folder, "ledger.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    t0 = time.perf_counter()
    size = build_ledger(path, decisions)
    extra = add_activity(path, decisions)
    build_s = time.perf_counter() - t0
    token = "bench-admin-token-0123456789"
    config = {
        "db_path": path,
        "secret_keys": (Fernet.generate_key().decode(),),
        "tenant_id": TENANT,
        "admin_token": token,
        "log_level": "WARNING",
    }
    runtime = Runtime(config)
    try:
        client = create_app(runtime=runtime).test_client()
        auth = {"Authorization": f"Bearer {token}"}
        result = {
            "machine": f"{platform.machine()} {os.cpu_count()} cpu, Python "
            f"{platform.python_version()}",
            "decisions": decisions,
            **extra,
            "ledger_mb": round(max(size, os.path.getsize(path)) / 1e6, 1),
            "build_seconds": round(build_s, 1),
            "scrapes": scrapes,
            "metrics_scrape": _timed(client, "/metrics", auth, scrapes),
            "api_v1_metrics": _timed(client, f"/api/v1/tenants/{TENANT}/metrics", auth, scrapes),
            # the dashboard's widest window, so that it reads every decision too
            "admin_api_metrics_366d": _timed(
                client, f"/admin/api/{TENANT}/metrics?days=366", auth, scrapes
            ),
            "folder": folder,
        }
    finally:
        runtime.close()
    click.echo(json.dumps(result, indent=2))
