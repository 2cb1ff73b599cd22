"""A limit on wrong admin tokens that slows guessing and never locks the real admin out.

``DESKGUARD_ADMIN_TOKEN`` unlocks the dashboard, the kill switch and every tenant's audit trail.
Each wrong token (the login form, a bearer on ``/admin/api`` or on the admin API ``/api/v1``)
is one row in ``admin_login_failures``. The rows live in the ledger, so every gunicorn worker
counts the same failures.

A *client* is an IPv4 address or an IPv6 /64 prefix: one IPv6 host is routinely given a whole
/64 (RFC 4291 interface identifiers; RFC 7217 / RFC 8981 addresses change within it), so
counting single IPv6 addresses would let one machine present 2^64 fresh addresses.

- **Bearer tokens** are compared first, always: the correct token is never refused, whatever
  was guessed from anywhere before. A wrong one answers 401, or 429 with ``Retry-After`` once
  its client has ``DESKGUARD_ADMIN_LOGIN_MAX_FAILURES`` failures in the window (those further
  failures are logged, not audited, so a flood adds no audit rows). The defence against bearer
  guessing is the token's strength: `config check` warns about a token under 32 characters.
- **The login form** slows rather than locks: once a client has reached its limit, it must wait
  1, 2, 4, ... seconds (at most the window) after its last failure before the next attempt is
  compared; attempts inside the wait answer 429 without comparing, so they cannot succeed.
  When all clients together pass ``DESKGUARD_ADMIN_LOGIN_GLOBAL_MAX_FAILURES`` (a distributed
  guesser), the wait starts from a client's first failure; a client without failures (the
  admin at their own address) is never delayed.

A correct token clears its client's failures. Each counted failure is audited
(``admin.login_failed``, tenant ``*``) with the client address, never with the token presented.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import sqlite_utils
from flask import Request

from connector import audit, logs
from connector.dashboard.events import AdminLoginFailed
from connector.db import transaction

ADMIN_SCOPE = "*"  # tenant_id of admin-wide rows and audit events: the admin token is no tenant's
IPV6_CLIENT_PREFIX = 64
LOG = logs.get("admin")


@dataclass(frozen=True)
class Lockout:
    scope: str  # "ip" (this client's failures) or "global" (many clients' failures)
    retry_after: int  # whole seconds until an attempt is compared again

    def message(self) -> str:
        if self.retry_after < 60:
            wait = f"{self.retry_after} second{'s' if self.retry_after != 1 else ''}"
        else:
            minutes = math.ceil(self.retry_after / 60)
            wait = f"{minutes} minute{'s' if minutes > 1 else ''}"
        who = "from your address" if self.scope == "ip" else "from many addresses"
        return f"Too many wrong admin tokens {who}; try again in {wait}."


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


def client_key(ip: str) -> str:
    """What the limits count: an IPv4 address as is, an IPv6 address by its /64 (an
    IPv4-mapped IPv6 address as the IPv4 address); anything unparsable as given."""
    try:
        addr = ipaddress.ip_address(ip.strip("[]").split("%", 1)[0])
    except ValueError:
        return ip
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return str(addr.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{addr}/{IPV6_CLIENT_PREFIX}", strict=False))
    return str(addr)


def _limits(config: Any) -> tuple[int, int, int]:
    return (
        int(config.admin_login_max_failures),
        int(config.admin_login_global_max_failures),
        int(config.admin_login_window_seconds),
    )


def _client_failures(db: sqlite_utils.Database, client: str, since: float) -> tuple[int, float]:
    """(failures of ``client`` since ``since``, the time of its last one)."""
    count, last = db.conn.execute(
        "SELECT COUNT(*), MAX(ts) FROM admin_login_failures"
        " WHERE tenant_id = ? AND client_ip = ? AND ts > ?",
        (ADMIN_SCOPE, client, since),
    ).fetchone()
    return int(count), float(last or 0.0)


def _total_failures(db: sqlite_utils.Database, since: float) -> int:
    return int(
        db.conn.execute(
            "SELECT COUNT(*) FROM admin_login_failures WHERE tenant_id = ? AND ts > ?",
            (ADMIN_SCOPE, since),
        ).fetchone()[0]
    )


def form_delay(
    db: sqlite_utils.Database, config: Any, ip: str, *, now: float | None = None
) -> Lockout | None:
    """The wait before the login form compares another token from ``ip``'s client, or None."""
    now = time.time() if now is None else now
    per_client, total, window = _limits(config)
    since = now - window
    failures, last = _client_failures(db, client_key(ip), since)
    scope, threshold = "ip", per_client
    if failures and _total_failures(db, since) >= total:
        scope, threshold = "global", 1
    if failures < threshold:
        return None
    delay = min(window, 2 ** min(failures - threshold, 30))
    wait = last + delay - now
    return Lockout(scope, max(1, math.ceil(wait))) if wait > 0 else None


def bearer_lockout(
    db: sqlite_utils.Database, config: Any, ip: str, *, now: float | None = None
) -> Lockout | None:
    """For a wrong bearer token: the 429 its client has earned (its failures in the window
    reached the per-client limit), or None. Never consulted for a correct token."""
    now = time.time() if now is None else now
    per_client, _total, window = _limits(config)
    since = now - window
    client = client_key(ip)
    failures, _last = _client_failures(db, client, since)
    if failures < per_client:
        return None
    # the (failures - per_client + 1) oldest failures must age out before it drops below
    row = db.conn.execute(
        "SELECT ts FROM admin_login_failures WHERE tenant_id = ? AND client_ip = ? AND ts > ?"
        " ORDER BY ts LIMIT 1 OFFSET ?",
        (ADMIN_SCOPE, client, since, failures - per_client),
    ).fetchone()
    return Lockout("ip", max(1, math.ceil(row[0] + window - now)))


def record_failure(
    db: sqlite_utils.Database, config: Any, ip: str, *, via: str, now: float | None = None
) -> Lockout | None:
    """Count one wrong token from ``ip`` (audited, without the token); returns the wait that
    now applies to the client's next form attempt, if any."""
    now = time.time() if now is None else now
    window = int(config.admin_login_window_seconds)
    client = client_key(ip)
    with transaction(db):
        db.conn.execute(
            "DELETE FROM admin_login_failures WHERE tenant_id = ? AND ts <= ?",
            (ADMIN_SCOPE, now - window),
        )
        db.conn.execute(
            "INSERT INTO admin_login_failures (tenant_id, client_ip, ts) VALUES (?, ?, ?)",
            (ADMIN_SCOPE, client, now),
        )
        from_client, _last = _client_failures(db, client, now - window)
        overall = _total_failures(db, now - window)
        lockout = form_delay(db, config, ip, now=now)
        audit.record(
            db,
            ADMIN_SCOPE,
            AdminLoginFailed(
                client_ip=ip if ip == client else f"{ip} ({client})",
                via=via,
                failures_from_ip=from_client,
                failures_total=overall,
                locked=lockout.scope if lockout else "",
            ),
        )
    fields = {"ip": ip, "client": client, "via": via, "failures_from_client": from_client}
    logs.log(
        LOG,
        logging.WARNING,
        "admin.login_failed",
        **fields,
        failures_total=overall,
        locked=lockout.scope if lockout else "",
    )
    return lockout


def wrong_bearer(db: sqlite_utils.Database, config: Any, ip: str, *, via: str) -> Lockout | None:
    """A wrong bearer token from ``ip``: counted (and audited) while its client is under the
    limit (401); past it, only logged, and answered 429 with the returned lockout."""
    lockout = bearer_lockout(db, config, ip)
    if lockout is None:
        record_failure(db, config, ip, via=via)
        return None
    logs.log(
        LOG,
        logging.WARNING,
        "admin.login_rate_limited",
        ip=ip,
        client=client_key(ip),
        via=via,
        retry_after=lockout.retry_after,
    )
    return lockout


def clear(db: sqlite_utils.Database, ip: str) -> None:
    """A correct token from ``ip``: its client's earlier failures no longer count against it.
    (A read first, so a successful bearer call takes the write lock only when there is something
    to clear.)"""
    client = client_key(ip)
    if (
        db.conn.execute(
            "SELECT 1 FROM admin_login_failures WHERE tenant_id = ? AND client_ip = ? LIMIT 1",
            (ADMIN_SCOPE, client),
        ).fetchone()
        is None
    ):
        return
    with transaction(db):
        db.conn.execute(
            "DELETE FROM admin_login_failures WHERE tenant_id = ? AND client_ip = ?",
            (ADMIN_SCOPE, client),
        )
