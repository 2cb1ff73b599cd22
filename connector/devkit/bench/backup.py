"""`deskguard bench backup`: backup and restore time on a ledger of N decisions."""

from __future__ import annotations

import json
import os
import platform
import random
import tempfile
import time

import click


def build_ledger(path: str, decisions: int, *, seed: int = 7) -> int:
    """A migrated ledger of ``decisions`` decision rows of realistic size; returns its bytes."""
    from connector.db import Ledger, migrate
    from connector.tenants import ensure_tenant

    ledger = Ledger(path)
    db = ledger.db
    migrate(db)
    ensure_tenant(db, "bench")
    rng = random.Random(seed)
    categories = ("order_status", "refund_request", "cancel_order", "payment_billing", "other")
    body = "Hi, where is my order #{n}? It was due last week and tracking has not moved. " * 6
    rows = (
        {
            "tenant_id": "bench",
            "ticket_id": n + 1,
            "created_at": f"2026-11-{1 + n % 28:02d}T{n % 24:02d}:00:00+00:00",
            "category": rng.choice(categories),
            "confidence": round(rng.random(), 3),
            "mode": "assist",
            "outcome": "assist_note",
            "rule": "assist_mode",
            "reason": "category in assist mode",
            "reading": json.dumps({"category": "order_status", "sentiment": "neutral"}),
            "brief": "Order is in transit; carrier scan 2 days ago. " * 4,
            "suggested_reply": "Thanks for waiting — your parcel is on its way. " * 4,
            "input_snapshot": json.dumps({"subject": "Where is my order", "body": body}),
            "status": "done",
        }
        for n in range(decisions)
    )
    columns = (
        "tenant_id, ticket_id, created_at, category, confidence, mode, outcome, rule, reason, "
        "reading, brief, suggested_reply, input_snapshot, status"
    )
    names = [c.strip() for c in columns.split(",")]
    with db.conn:
        db.conn.executemany(
            f"INSERT INTO decisions ({columns}) VALUES ({', '.join(':' + c for c in names)})",
            rows,
        )
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    ledger.close()
    return os.path.getsize(path)


@click.command("backup")
@click.option("--decisions", default=100_000, show_default=True, type=click.IntRange(min=1))
@click.option("--dir", "work_dir", help="Scratch folder (default: a new temporary folder).")
def bench_backup(decisions: int, work_dir: str | None) -> None:
    """Time `deskguard backup` and `deskguard restore` on a ledger of N decisions.

    Example: deskguard bench backup --decisions 100000
    """
    from connector.backup import backup, restore

    folder = work_dir or tempfile.mkdtemp(prefix="deskguard-bench-backup-")
    ledger = os.path.join(folder, "ledger.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(ledger + suffix):
            os.remove(ledger + suffix)
    size = build_ledger(ledger, decisions)
    t0 = time.perf_counter()
    made = backup(ledger, os.path.join(folder, "backups"), keep=2)
    backup_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    restore(made.path, os.path.join(folder, "restored.db"))
    restore_s = time.perf_counter() - t0
    click.echo(
        json.dumps(
            {
                "machine": f"{platform.machine()} {os.cpu_count()} cpu, Python "
                f"{platform.python_version()}",
                "decisions": decisions,
                "ledger_mb": round(size / 1e6, 1),
                "backup_seconds": round(backup_s, 3),
                "restore_seconds": round(restore_s, 3),
                "folder": folder,
            },
            indent=2,
        )
    )
