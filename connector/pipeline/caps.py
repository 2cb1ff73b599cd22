"""Hourly and daily caps on automated public replies/solves, per tenant.

``reserve`` counts the tenant's rows in ``rate_ledger`` for the last hour and day and inserts
one for this action's idempotency key, all inside one transaction that holds the tenant's caps
lock before the count (SQLite: the write lock of BEGIN IMMEDIATE; PostgreSQL: an advisory lock
per tenant), so concurrent workers (threads, processes, machines) serialise here and the cap can
never be exceeded. A retried action (same key) finds its own row and keeps
its slot instead of taking a second one. A slot is kept even when the reply later fails: the cap
errs on the side of fewer automated replies.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlite_utils

from connector.db import lock, transaction

BUCKET = "auto_reply"
HOUR = 3600.0
DAY = 86400.0


@dataclass(frozen=True)
class CapCheck:
    allowed: bool
    used_hour: int
    used_day: int
    per_hour: int
    per_day: int
    reason: str = ""
    already_reserved: bool = False


def usage(
    db: sqlite_utils.Database, tenant_id: str, *, now: float | None = None
) -> tuple[int, int]:
    now = time.time() if now is None else now
    row = db.conn.execute(
        "SELECT COALESCE(SUM(CASE WHEN ts > ? THEN 1 ELSE 0 END), 0), COUNT(*) FROM rate_ledger"
        " WHERE tenant_id = ? AND bucket = ? AND ts > ?",
        (now - HOUR, tenant_id, BUCKET, now - DAY),
    ).fetchone()
    return int(row[0]), int(row[1])


def reserve(
    db: sqlite_utils.Database,
    tenant_id: str,
    key: str,
    *,
    per_hour: int,
    per_day: int,
    ticket_id: int | None = None,
    now: float | None = None,
) -> CapCheck:
    """Take one automated-reply slot for ``key`` if both caps allow it (atomic)."""
    now = time.time() if now is None else now
    with transaction(db, shared=True):
        # The count and the insert must not interleave with another reservation for this
        # tenant: SQLite's write lock sees to that; on PostgreSQL, the tenant's caps lock.
        lock(db, f"caps:{tenant_id}")
        used_hour, used_day = usage(db, tenant_id, now=now)
        mine = db.conn.execute(
            "SELECT 1 FROM rate_ledger WHERE tenant_id = ? AND bucket = ? AND key = ?",
            (tenant_id, BUCKET, key),
        ).fetchone()
        if mine:
            return CapCheck(
                True,
                used_hour,
                used_day,
                per_hour,
                per_day,
                "slot already reserved for this action",
                already_reserved=True,
            )
        if used_hour >= per_hour:
            return CapCheck(
                False,
                used_hour,
                used_day,
                per_hour,
                per_day,
                f"hourly cap reached ({used_hour}/{per_hour} automated replies in the last hour)",
            )
        if used_day >= per_day:
            return CapCheck(
                False,
                used_hour,
                used_day,
                per_hour,
                per_day,
                f"daily cap reached ({used_day}/{per_day} automated replies in the last 24 hours)",
            )
        db.conn.execute(
            "INSERT INTO rate_ledger (tenant_id, bucket, ts, ticket_id, key) VALUES (?,?,?,?,?)",
            (tenant_id, BUCKET, now, ticket_id, key),
        )
    return CapCheck(
        True,
        used_hour + 1,
        used_day + 1,
        per_hour,
        per_day,
        f"{used_hour + 1}/{per_hour} this hour, {used_day + 1}/{per_day} today",
    )
