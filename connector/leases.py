"""Leader leases: one row per role in the ledger says which process holds it, and until when.

A process takes a role (``acquire``) when its row is absent, expired or already its own, keeps it
by renewing well before it expires (``renew``), and gives it back on a clean stop (``release``).
A process that crashed simply stops renewing: once ``expires_at`` has passed anyone may take the
row. Because the rule lives in the database and not in a file on one machine, it holds for every
process that shares the ledger, wherever it runs, as long as their clocks agree to well within
the lease's length (keep them synchronised, e.g. NTP).

The SQL is plain (``INSERT ... ON CONFLICT (name) DO UPDATE ... WHERE``), runs inside
``transaction`` (``BEGIN IMMEDIATE`` on SQLite: the read and the write cannot interleave with
another writer) and uses no SQLite-only function, so it carries over to a database server.
Times are unix seconds passed in by the caller, so tests drive them with their own clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connector.db import transaction


@dataclass(frozen=True)
class Lease:
    name: str
    owner: str
    acquired_at: float | None
    expires_at: float


def _row(db: Any, name: str) -> Lease | None:
    row = db.conn.execute(
        "SELECT owner, acquired_at, expires_at FROM leader_leases WHERE name = ?", (name,)
    ).fetchone()
    if row is None:
        return None
    return Lease(name, str(row[0]), row[1], float(row[2]))


def acquire(db: Any, name: str, owner: str, ttl: float, now: float) -> bool:
    """Take the lease ``name`` for ``ttl`` seconds if nobody holds it, its holder let it expire,
    or ``owner`` holds it already (then it is extended). True when ``owner`` holds it after."""
    if ttl <= 0:
        raise ValueError("a lease's ttl must be > 0 seconds")
    with transaction(db):
        db.conn.execute(
            "INSERT INTO leader_leases (name, owner, acquired_at, expires_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET "
            "owner = excluded.owner, "
            "acquired_at = CASE WHEN leader_leases.owner = excluded.owner "
            "THEN leader_leases.acquired_at ELSE excluded.acquired_at END, "
            "expires_at = excluded.expires_at "
            "WHERE leader_leases.owner = excluded.owner OR leader_leases.expires_at <= ?",
            (name, owner, now, now + ttl, now),
        )
        lease = _row(db, name)
    return lease is not None and lease.owner == owner


def renew(db: Any, name: str, owner: str, ttl: float, now: float) -> bool:
    """Push the expiry of ``owner``'s lease to ``now + ttl``. False when the row is gone or
    another owner holds it (the caller has lost the role and must stop acting on it)."""
    with transaction(db):
        cur = db.conn.execute(
            "UPDATE leader_leases SET expires_at = ? WHERE name = ? AND owner = ?",
            (now + ttl, name, owner),
        )
        return bool(cur.rowcount == 1)


def release(db: Any, name: str, owner: str) -> bool:
    """Give the lease back so the next process need not wait for it to expire. Only the owner's
    own row is deleted; True when there was one."""
    with transaction(db):
        cur = db.conn.execute(
            "DELETE FROM leader_leases WHERE name = ? AND owner = ?", (name, owner)
        )
        return bool(cur.rowcount == 1)


def holder(db: Any, name: str, now: float) -> Lease | None:
    """The lease ``name`` as long as it is held at ``now``; None when free or expired."""
    lease = _row(db, name)
    if lease is None or lease.expires_at <= now:
        return None
    return lease
