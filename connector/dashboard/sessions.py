"""Admin sign-in sessions recorded in the ledger, so that logging out revokes them.

The cookie itself is signed (``connector/panel/auth.py``) and carries a random per-session value
(the session's CSRF token). A signature alone cannot be taken back: a copied cookie would keep
working until it expires. So each sign-in also records the SHA-256 of that value here, every
request checks the row is live, and logout marks it revoked. The ledger is shared, so a logout
in one gunicorn worker holds in all of them.

A session opened with the shared admin token names nobody (tenant ``*``, ``via='token'``). A
session opened by "Sign in with Zendesk" (``via='zendesk'``) or the Zendesk app's nav_bar launch
(``via='zendesk_app'``) is bound to one person of one tenant (``Person``): every change made in
it is attributed to that person, it reaches that tenant only, and the person's Zendesk role is
checked again every few minutes (``connector/console/access.py``).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from connector.db import IntegrityErrors, transaction

ADMIN_SCOPE = "*"
_COLUMNS = (
    "tenant_id",
    "via",
    "zendesk_user_id",
    "person_name",
    "person_email",
    "role_checked_at",
    "created_at",
    "expires_at",
)


@dataclass(frozen=True)
class Person:
    """A Zendesk admin Zendesk vouched for (OAuth ``users/me`` or a signed app launch)."""

    tenant_id: str
    zendesk_user_id: int
    name: str
    email: str = ""


@dataclass(frozen=True)
class AdminSession:
    """One live row of ``admin_sessions``."""

    tenant_id: str
    via: str
    zendesk_user_id: int | None
    person_name: str
    person_email: str
    role_checked_at: float | None
    created_at: float
    expires_at: float

    @property
    def person(self) -> Person | None:
        if self.zendesk_user_id is None:
            return None
        return Person(self.tenant_id, self.zendesk_user_id, self.person_name, self.person_email)

    @property
    def actor(self) -> str:
        """Who the audit log names for a change made in this session."""
        if self.zendesk_user_id is None:
            return "admin:token"
        who = self.person_email or self.person_name
        return f"zendesk_user:{self.zendesk_user_id} ({who}; tenant {self.tenant_id})"


class NonceUsed(Exception):
    """A one-time launch ticket was presented a second time."""


def _digest(session_value: str) -> str:
    return hashlib.sha256(b"deskguard-admin-session:" + session_value.encode()).hexdigest()


def start(
    db: sqlite_utils.Database,
    session_value: str,
    *,
    client_ip: str,
    hours: float,
    person: Person | None = None,
    via: str = "token",
    launch_nonce: str | None = None,
) -> None:
    """Record a new sign-in (and drop sessions that have expired). ``launch_nonce`` makes the
    sign-in single-use: a second one with the same nonce raises NonceUsed."""
    now = time.time()
    tenant = person.tenant_id if person else ADMIN_SCOPE
    with transaction(db):
        db.conn.execute("DELETE FROM admin_sessions WHERE expires_at <= ?", (now,))
        try:
            db.conn.execute(
                "INSERT INTO admin_sessions"
                " (tenant_id, session_sha256, client_ip, created_at, expires_at, via,"
                " zendesk_user_id, person_name, person_email, role_checked_at, launch_nonce)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    tenant,
                    _digest(session_value),
                    client_ip,
                    now,
                    now + hours * 3600,
                    via if person else "token",
                    person.zendesk_user_id if person else None,
                    person.name if person else "",
                    person.email if person else "",
                    now if person else None,
                    launch_nonce,
                ),
            )
        except IntegrityErrors:
            if launch_nonce is not None:
                raise NonceUsed("this sign-in link was used already") from None
            raise


def lookup(db: sqlite_utils.Database, session_value: Any) -> AdminSession | None:
    """The live session for a cookie's value, else None (unknown, revoked or expired)."""
    if not isinstance(session_value, str) or not session_value:
        return None
    row = db.conn.execute(
        f"SELECT {', '.join(_COLUMNS)} FROM admin_sessions WHERE session_sha256 = ?"
        " AND revoked_at IS NULL AND expires_at > ?",
        (_digest(session_value), time.time()),
    ).fetchone()
    if row is None:
        return None
    data = dict(zip(_COLUMNS, row, strict=True))
    return AdminSession(**data)


def is_live(db: sqlite_utils.Database, session_value: Any) -> bool:
    return lookup(db, session_value) is not None


def role_confirmed(db: sqlite_utils.Database, session_value: str) -> None:
    """Zendesk confirmed the person is still an admin: note when."""
    with transaction(db):
        db.conn.execute(
            "UPDATE admin_sessions SET role_checked_at = ? WHERE session_sha256 = ?",
            (time.time(), _digest(session_value)),
        )


def revoke(db: sqlite_utils.Database, session_value: Any) -> bool:
    """Revoke one session; True when it was live."""
    if not isinstance(session_value, str) or not session_value:
        return False
    with transaction(db):
        cur = db.conn.execute(
            "UPDATE admin_sessions SET revoked_at = ? WHERE session_sha256 = ?"
            " AND revoked_at IS NULL",
            (time.time(), _digest(session_value)),
        )
        return cur.rowcount > 0


def revoke_person(db: sqlite_utils.Database, tenant_id: str, zendesk_user_id: int) -> int:
    """Revoke every live session of one person (they lost the admin role); how many."""
    with transaction(db):
        cur = db.conn.execute(
            "UPDATE admin_sessions SET revoked_at = ? WHERE tenant_id = ? AND zendesk_user_id = ?"
            " AND revoked_at IS NULL",
            (time.time(), tenant_id, zendesk_user_id),
        )
        return cur.rowcount
