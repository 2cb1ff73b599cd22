"""Permissions from the role Zendesk reports, for the agent Zendesk's signed launch named.

The agent's id comes only from the session that a verified signed launch issued (``launch.py``,
``sessions.py``); what the browser claims is ignored. A request that needs a permission (approve
or reject a refund or cancellation, flip the kill switch) looks that id up in Zendesk
(``GET /api/v2/users/{id}.json`` through the tenant's ``zendesk`` service) and decides on the role
Zendesk answers with:

- no verified session: 401 (the panel was not opened through Zendesk's signed launch);
- Deskguard's own Zendesk API user (``users/me`` of the tenant's credentials, the author of every
  note Deskguard writes): 403, audited, whatever its role: it is never an actor;
- suspended or inactive users, end-users and ids Zendesk does not know: 403 (audited);
- Zendesk unreachable, rate limited or misconfigured: 503, the action is refused (fail closed);
  reading the panel never needs the lookup and keeps working;
- answers are cached per tenant and user for ``DESKGUARD_APP_ROLE_CACHE_SECONDS`` (per process),
  so a demoted or suspended admin keeps their rights at most that long.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from connector import audit, logs
from connector.db import transaction
from connector.domain import DeskUser
from connector.errors import (
    ConfigError,
    DeskguardError,
    Forbidden,
    PermanentError,
    TransientError,
    Unauthorized,
)
from connector.panel.auth import Agent
from connector.panel.events import PanelPermissionDenied

if TYPE_CHECKING:
    from connector.runtime import Runtime

LOG = logs.get("panel.identity")
_MISSING = object()


class RoleCheckUnavailable(DeskguardError):
    """Zendesk could not confirm the agent's role; permissioned actions are refused."""

    http_status = 503
    code = "role_check_unavailable"


@dataclass(frozen=True)
class Permissions:
    """What one agent may do in the side panel, decided from Zendesk's answer."""

    tenant_id: str
    agent_id: str
    name: str
    role: str
    custom_role: str
    custom_role_id: int | None
    can_approve: bool
    can_kill_switch: bool

    @property
    def actor(self) -> str:
        return f"agent:{self.agent_id}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.agent_id,
            "name": self.name,
            "role": self.role,
            "custom_role": self.custom_role,
            "custom_role_id": self.custom_role_id,
            "verified": True,
            "can_approve": self.can_approve,
            "can_kill_switch": self.can_kill_switch,
        }


class RoleCache:
    """(tenant, user id) → Zendesk's answer (a DeskUser, or None for "no such user"), per process.

    Bounded: forged ids cannot grow it without limit (expired entries go first, then everything)."""

    def __init__(
        self,
        ttl_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 10_000,
    ):
        self.ttl = float(ttl_seconds)
        self.clock = clock
        self.max_entries = max_entries
        self._entries: dict[tuple[str, int], tuple[float, DeskUser | None]] = {}
        self._lock = threading.Lock()

    def get(self, tenant_id: str, user_id: int) -> Any:
        """The cached answer, or ``_MISSING``."""
        with self._lock:
            entry = self._entries.get((tenant_id, user_id))
            if entry is None or entry[0] <= self.clock():
                return _MISSING
            return entry[1]

    def put(self, tenant_id: str, user_id: int, user: DeskUser | None) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            now = self.clock()
            if len(self._entries) >= self.max_entries:
                self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
                if len(self._entries) >= self.max_entries:
                    self._entries.clear()
            self._entries[(tenant_id, user_id)] = (now + self.ttl, user)

    def forget(self, tenant_id: str | None = None) -> None:
        with self._lock:
            if tenant_id is None:
                self._entries.clear()
            else:
                self._entries = {k: v for k, v in self._entries.items() if k[0] != tenant_id}


def lookup_user(
    runtime: Runtime, cache: RoleCache, tenant_id: str, user_id: int
) -> DeskUser | None:
    """Zendesk's record of one user (None: Zendesk has no such user), through the cache.

    Raises RoleCheckUnavailable when Zendesk cannot answer; such failures are never cached."""
    cached = cache.get(tenant_id, user_id)
    if cached is not _MISSING:
        return cached
    try:
        user: DeskUser | None = runtime.services(tenant_id).require_desk().get_user(user_id)
    except ConfigError as exc:
        raise RoleCheckUnavailable(
            f"roles cannot be checked: Zendesk is not configured for this account ({exc})"
        ) from None
    except TransientError as exc:
        logs.log(
            LOG,
            logging.WARNING,
            "panel.role_check_unavailable",
            tenant=tenant_id,
            status=exc.status,
        )
        raise RoleCheckUnavailable(
            "Zendesk could not be reached to confirm your role, so this action is "
            "refused for now; try again in a minute"
        ) from None
    except PermanentError as exc:
        if exc.status != 404:
            # 401/403: Deskguard's own Zendesk credentials are wrong or lack rights; fail closed.
            logs.log(
                LOG, logging.ERROR, "panel.role_check_rejected", tenant=tenant_id, status=exc.status
            )
            raise RoleCheckUnavailable(
                f"Zendesk refused the role lookup (HTTP {exc.status}); check Deskguard's "
                "Zendesk API credentials"
            ) from None
        user = None
    cache.put(tenant_id, user_id, user)
    return user


def stored_api_user_id(runtime: Runtime, tenant_id: str) -> int | None:
    """Deskguard's own Zendesk user as the ledger remembers it (setup and the adapter store it),
    without asking Zendesk."""
    from connector.zendesk.service import account

    stored = account(runtime.db, tenant_id).get("api_user_id")
    return int(stored) if stored else None


def api_user_id(runtime: Runtime, tenant_id: str) -> int | None:
    """Deskguard's own Zendesk user (``users/me``); None when the tenant has no Zendesk
    credentials (then there is no such user). RoleCheckUnavailable when Zendesk cannot say."""
    stored = stored_api_user_id(runtime, tenant_id)
    if stored is not None:
        return stored
    try:
        desk = runtime.services(tenant_id).require_desk()
    except ConfigError:
        return None
    try:
        return int(desk.api_user_id)
    except (TransientError, PermanentError) as exc:
        logs.log(
            LOG, logging.WARNING, "panel.api_user_unknown", tenant=tenant_id, status=exc.status
        )
        raise RoleCheckUnavailable(
            "Zendesk could not be reached to confirm which user Deskguard acts as, so this "
            "action is refused for now; try again in a minute"
        ) from None


def _allow_lists(runtime: Runtime, tenant_id: str) -> tuple[set[str], set[str]]:
    from connector.tenants import get_setting

    config = runtime.config
    roles = {
        str(r).strip().lower()
        for r in get_setting(runtime.db, tenant_id, "app_approver_roles", None)
        or config.app_approver_roles
    }
    ids = {
        str(i).strip()
        for i in get_setting(runtime.db, tenant_id, "app_approver_ids", None)
        or config.app_approver_ids
    }
    return roles, ids


def _refusal(user: DeskUser | None, agent_id: str) -> str | None:
    if user is None:
        return f"Zendesk has no user {agent_id} in this account"
    if user.suspended:
        return "this Zendesk user is suspended"
    if not user.active:
        return "this Zendesk user is not active"
    if user.role not in ("agent", "admin"):
        return "only Zendesk agents and admins may act from the side panel"
    return None


def _deny(
    runtime: Runtime, agent: Agent, action: str, reason: str, zendesk_role: str | None
) -> Forbidden:
    """Audit a refused permission (a claimed role that Zendesk contradicts shows up here)."""
    with transaction(runtime.db):
        audit.record(
            runtime.db,
            agent.tenant_id,
            PanelPermissionDenied(
                agent_id=agent.id,
                action=action,
                reason=reason,
                claimed_role=agent.claimed_role,
                zendesk_role=zendesk_role,
            ),
        )
    logs.log(
        LOG,
        logging.WARNING,
        "panel.permission_denied",
        tenant=agent.tenant_id,
        agent_id=agent.id,
        action=action,
        claimed_role=agent.claimed_role,
        zendesk_role=zendesk_role,
    )
    return Forbidden(reason)


def permissions(
    runtime: Runtime, cache: RoleCache, agent: Agent, *, action: str = "check"
) -> Permissions:
    """The agent's permissions from Zendesk. Raises Forbidden (403, audited) for a missing,
    suspended, inactive or end-user account, and RoleCheckUnavailable (503) when Zendesk cannot
    say."""
    if not agent.verified or not agent.id:
        raise Unauthorized(
            "this needs the agent Zendesk signed the panel's launch for: open the Deskguard app "
            "from a ticket in Zendesk"
        )
    if not (agent.id.isascii() and agent.id.isdecimal()) or len(agent.id) > 19:
        raise _deny(runtime, agent, action, "the agent id is not a Zendesk user id", None)
    if int(agent.id) == api_user_id(runtime, agent.tenant_id):
        raise _deny(
            runtime, agent, action, "Deskguard's own Zendesk user never acts from the panel", None
        )
    user = lookup_user(runtime, cache, agent.tenant_id, int(agent.id))
    refusal = _refusal(user, agent.id)
    if refusal is not None:
        raise _deny(runtime, agent, action, refusal, user.role if user is not None else None)
    assert user is not None
    roles, ids = _allow_lists(runtime, agent.tenant_id)
    is_admin = user.role == "admin"
    custom = user.custom_role_name.strip().lower()
    can_approve = (
        is_admin
        or user.role in roles
        or (bool(custom) and custom in roles)
        or (user.custom_role_id is not None and str(user.custom_role_id) in roles)
        or agent.id in ids
    )
    return Permissions(
        agent.tenant_id,
        agent.id,
        user.name,
        user.role,
        user.custom_role_name,
        user.custom_role_id,
        can_approve=can_approve,
        can_kill_switch=is_admin,
    )


def require(runtime: Runtime, cache: RoleCache, agent: Agent, action: str) -> Permissions:
    """Permissions that include ``action`` ("approve" or "kill_switch").

    Raises Forbidden (audited) otherwise.
    """
    perms = permissions(runtime, cache, agent, action=action)
    allowed = (
        perms.can_approve
        if action == "approve"
        else perms.can_kill_switch
        if action == "kill_switch"
        else False
    )
    if not allowed:
        reason = (
            "only admins and agents on the approver list may approve or reject"
            if action == "approve"
            else "only Zendesk admins may flip the kill switch"
        )
        raise _deny(runtime, agent, action, reason, perms.role)
    return perms
