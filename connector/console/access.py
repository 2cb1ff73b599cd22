"""Who is using the console: the signed-in session behind a request, and the re-check of a
person's Zendesk role.

A session opened by a person (``Sign in with Zendesk`` or the app's nav_bar launch) is re-checked
**on the person's next request once ``DESKGUARD_ADMIN_ROLE_RECHECK_MINUTES`` have passed** since
the last confirmation (not by a scheduler job: an idle session costs nothing, and a busy one is
confirmed at least that often). The check asks Zendesk with the tenant's own Deskguard
credentials (``GET /api/v2/users/{id}.json``), so no token of the person is kept:

- still an active, unsuspended admin: confirmed, the clock restarts;
- demoted, suspended, deleted or unknown to Zendesk: every session of that person is revoked
  (audited as ``console.access_revoked``) and the browser goes back to the sign-in page;
- Zendesk cannot answer (outage, rate limit, credentials): the session stays for reading, but
  changes are refused (fail closed) except turning the kill switch on, which only stops writes.

Sessions opened with the shared admin token name nobody; they exist only while
``DESKGUARD_ADMIN_TOKEN_LOGIN`` is true.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from connector import audit, logs
from connector.dashboard import sessions
from connector.dashboard.sessions import AdminSession
from connector.errors import ConfigError, DeskguardError, NotFound, PermanentError, TransientError
from connector.panel import auth

if TYPE_CHECKING:
    from connector.runtime import Runtime

LOG = logs.get("console.access")


class RoleUnconfirmed(DeskguardError):
    """Zendesk could not confirm the person is still an admin: changes wait."""

    http_status = 503
    code = "role_check_unavailable"


@dataclass(frozen=True)
class Admin:
    """The caller of an /admin page: a session (person or token) or the bearer token."""

    session_value: str | None
    session: AdminSession | None
    role_unconfirmed: bool = False

    @property
    def actor(self) -> str:
        return self.session.actor if self.session is not None else "admin:token"

    @property
    def tenant_id(self) -> str | None:
        """The one tenant a person's session reaches; None for the admin token (every tenant)."""
        if self.session is None or self.session.person is None:
            return None
        return self.session.tenant_id

    @property
    def csrf(self) -> str | None:
        return self.session_value

    def require_confirmed(self) -> None:
        if self.role_unconfirmed:
            raise RoleUnconfirmed(
                "Zendesk could not confirm that you are still an admin, so changes are refused "
                "for now (turning the kill switch on still works); try again in a minute"
            )

    def check_tenant(self, tenant_id: str) -> None:
        """A person reaches their own tenant only; another answers 404 like an unknown one."""
        if self.tenant_id is not None and tenant_id != self.tenant_id:
            raise NotFound(f"unknown tenant {tenant_id!r}")


def from_cookie(runtime: Runtime, cookie: str | None) -> Admin | None:
    """The live session behind the admin cookie (role re-checked when due), else None."""
    data = auth.read_admin_session(runtime.config, cookie)
    if data is None:
        return None
    value = data.get("csrf")
    row = sessions.lookup(runtime.db, value)
    if row is None or not isinstance(value, str):
        return None
    if row.person is None:
        return Admin(value, row) if runtime.config.get("admin_token_login", True) else None
    return recheck(runtime, value, row)


def _is_admin(user) -> bool:
    return user is not None and user.role == "admin" and user.active and not user.suspended


def recheck(runtime: Runtime, value: str, row: AdminSession, *, now: float | None = None):
    """Confirm the person's role when the last confirmation is older than the re-check period."""
    person = row.person
    assert person is not None
    every = float(runtime.config.get("admin_role_recheck_minutes") or 10) * 60
    if row.role_checked_at is not None and (now or time.time()) - row.role_checked_at < every:
        return Admin(value, row)
    try:
        user = runtime.services(person.tenant_id).require_desk().get_user(person.zendesk_user_id)
    except PermanentError as exc:
        if exc.status != 404:
            return _unconfirmed(value, row, f"HTTP {exc.status}")
        user = None
    except (TransientError, ConfigError) as exc:
        return _unconfirmed(value, row, type(exc).__name__)
    if not _is_admin(user):
        revoke_person(runtime, person, role=getattr(user, "role", "") or "unknown")
        return None
    sessions.role_confirmed(runtime.db, value)
    return Admin(value, row)


def _unconfirmed(value: str, row: AdminSession, why: str) -> Admin:
    logs.log(LOG, logging.WARNING, "console.role_check_unavailable", tenant=row.tenant_id, why=why)
    return Admin(value, row, role_unconfirmed=True)


def revoke_person(runtime: Runtime, person: sessions.Person, *, role: str) -> int:
    from connector.console.events import ConsoleAccessRevoked

    count = sessions.revoke_person(runtime.db, person.tenant_id, person.zendesk_user_id)
    audit.record(
        runtime.db,
        person.tenant_id,
        ConsoleAccessRevoked(zendesk_user_id=person.zendesk_user_id, role=role, sessions=count),
    )
    logs.log(
        LOG,
        logging.WARNING,
        "console.access_revoked",
        tenant=person.tenant_id,
        zendesk_user_id=person.zendesk_user_id,
        role=role,
    )
    return count
