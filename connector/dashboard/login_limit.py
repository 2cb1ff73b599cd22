"""A limit on wrong admin tokens: per client IP and for everyone together.

``DESKGUARD_ADMIN_TOKEN`` unlocks the dashboard, the kill switch and every tenant's audit trail,
so guessing it must be slow. Each wrong token presented to ``/admin`` (the login form, or a
bearer on ``/admin/api``) is one row in ``admin_login_failures``; when one IP has
``DESKGUARD_ADMIN_LOGIN_MAX_FAILURES`` in the last ``DESKGUARD_ADMIN_LOGIN_WINDOW_SECONDS``, or
all IPs together ``DESKGUARD_ADMIN_LOGIN_GLOBAL_MAX_FAILURES``, further attempts answer 429 with
``Retry-After`` without looking at the token (so a locked-out guess can never succeed). The rows
live in the ledger, so every gunicorn worker enforces the same count. A correct sign-in clears
its IP's failures.

Trade-off of the global limit: a distributed guesser can lock the form for everyone for one
window; the admin can still wait it out, and a strong (random, 32+ character) token is the real
defence. Each failure is audited (``admin.login_failed``, tenant ``*``) with the client address,
never with the token presented; requests refused with 429 are only logged, so a flood adds no
audit rows beyond the limits.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import sqlite_utils
from flask import Request

from connector import audit, logs
from connector.dashboard.events import AdminLoginFailed
from connector.db import transaction

ADMIN_SCOPE = "*"  # tenant_id of admin-wide rows and audit events: the admin token is no tenant's
LOG = logs.get("admin")


@dataclass(frozen=True)
class Lockout:
    scope: str  # "ip" or "global"
    retry_after: int  # whole seconds until an attempt is allowed again

    def message(self) -> str:
        minutes = max(1, math.ceil(self.retry_after / 60))
        who = "from your address" if self.scope == "ip" else "from many addresses"
        plural = "s" if minutes > 1 else ""
        return f"Too many wrong admin tokens {who}; try again in {minutes} minute{plural}."


def client_ip(request: Request, trusted_proxy_hops: int) -> str:
    """The caller's address. Behind ``trusted_proxy_hops`` proxies that each append the address
    they saw to X-Forwarded-For, the client is the entry that many places from the end (entries
    further left were written by the client and prove nothing)."""
    if trusted_proxy_hops > 0:
        hops = [
            h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()
        ]
        if len(hops) >= trusted_proxy_hops:
            return hops[-trusted_proxy_hops][:64]
    return (request.remote_addr or "unknown")[:64]


def _limits(config) -> tuple[int, int, int]:
    return (
        int(config.admin_login_max_failures),
        int(config.admin_login_global_max_failures),
        int(config.admin_login_window_seconds),
    )


def _lockout(
    db: sqlite_utils.Database, where: str, params: tuple, limit: int, window: int, now: float
) -> int | None:
    """Seconds until the count of failures matching ``where`` in the window drops below ``limit``,
    or None when it already is below."""
    since = now - window
    count = db.conn.execute(
        f"SELECT COUNT(*) FROM admin_login_failures WHERE tenant_id = ? AND ts > ? AND {where}",
        (ADMIN_SCOPE, since, *params),
    ).fetchone()[0]
    if count < limit:
        return None
    # the (count - limit + 1) oldest failures must age out before one more attempt is allowed
    row = db.conn.execute(
        f"SELECT ts FROM admin_login_failures WHERE tenant_id = ? AND ts > ? AND {where}"
        " ORDER BY ts LIMIT 1 OFFSET ?",
        (ADMIN_SCOPE, since, *params, count - limit),
    ).fetchone()
    return max(1, math.ceil(row[0] + window - now))


def check(
    db: sqlite_utils.Database, config, ip: str, *, now: float | None = None
) -> Lockout | None:
    """The lockout that applies to an attempt from ``ip`` now, or None."""
    now = time.time() if now is None else now
    per_ip, total, window = _limits(config)
    wait = _lockout(db, "client_ip = ?", (ip,), per_ip, window, now)
    if wait is not None:
        return Lockout("ip", wait)
    wait = _lockout(db, "1 = 1", (), total, window, now)
    return Lockout("global", wait) if wait is not None else None


def record_failure(
    db: sqlite_utils.Database, config, ip: str, *, via: str, now: float | None = None
) -> Lockout | None:
    """Count one wrong token from ``ip`` (audited, without the token); returns the lockout that
    now applies to the next attempt, if this failure reached a limit."""
    now = time.time() if now is None else now
    window = int(config.admin_login_window_seconds)
    with transaction(db):
        db.conn.execute(
            "DELETE FROM admin_login_failures WHERE tenant_id = ? AND ts <= ?",
            (ADMIN_SCOPE, now - window),
        )
        db.conn.execute(
            "INSERT INTO admin_login_failures (tenant_id, client_ip, ts) VALUES (?, ?, ?)",
            (ADMIN_SCOPE, ip, now),
        )
        from_ip, overall = db.conn.execute(
            "SELECT SUM(client_ip = ?), COUNT(*) FROM admin_login_failures"
            " WHERE tenant_id = ? AND ts > ?",
            (ip, ADMIN_SCOPE, now - window),
        ).fetchone()
        lockout = check(db, config, ip, now=now)
        audit.record(
            db,
            ADMIN_SCOPE,
            AdminLoginFailed(
                client_ip=ip,
                via=via,
                failures_from_ip=int(from_ip or 0),
                failures_total=int(overall),
                locked=lockout.scope if lockout else "",
            ),
        )
    logs.log(
        LOG,
        logging.WARNING,
        "admin.login_failed",
        ip=ip,
        via=via,
        failures_from_ip=int(from_ip or 0),
        failures_total=int(overall),
        locked=lockout.scope if lockout else "",
    )
    return lockout


def clear(db: sqlite_utils.Database, ip: str) -> None:
    """A correct token from ``ip``: its earlier failures no longer count against it. (A read
    first, so a successful bearer call takes the write lock only when there is something to
    clear.)"""
    if (
        db.conn.execute(
            "SELECT 1 FROM admin_login_failures WHERE tenant_id = ? AND client_ip = ? LIMIT 1",
            (ADMIN_SCOPE, ip),
        ).fetchone()
        is None
    ):
        return
    with transaction(db):
        db.conn.execute(
            "DELETE FROM admin_login_failures WHERE tenant_id = ? AND client_ip = ?",
            (ADMIN_SCOPE, ip),
        )
