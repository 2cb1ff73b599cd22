"""The base layer of the Zendesk sandbox's state: the account's users, custom roles and API
credentials, id counters, rate limits, injected failures and the request log.

The layers above it add webhooks and triggers (``state_webhooks.py``), tickets
(``state_tickets.py``), then the export, search, jobs and apps (``state.py``). Everything is
guarded by one re-entrant lock.
"""

from __future__ import annotations

import collections
import hmac
import itertools
import math
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from connector.devkit.sandbox.zendesk.records import ApiError, iso


class RateLimiter:
    """Requests per rolling minute; ``check`` returns seconds to wait (0 when allowed)."""

    def __init__(self, per_minute: int | None, clock: Callable[[], float]):
        self.per_minute = per_minute
        self.clock = clock
        self.calls: collections.deque[float] = collections.deque()

    def check(self) -> int:
        if not self.per_minute:
            return 0
        now = self.clock()
        while self.calls and self.calls[0] <= now - 60:
            self.calls.popleft()
        if len(self.calls) >= self.per_minute:
            return max(1, math.ceil(self.calls[0] + 60 - now))
        self.calls.append(now)
        return 0


class AccountState:
    """One Zendesk account's users and API access (the base of ``ZendeskState``)."""

    def __init__(
        self,
        *,
        subdomain: str = "sandbox",
        agent_email: str = "deskguard@example.com",
        agent_token: str | None = None,
        rate_limit_per_minute: int | None = 700,
        export_rate_limit_per_minute: int | None = 10,
        clock: Callable[[], float] = time.time,
    ):
        self.subdomain = subdomain
        self.clock = clock
        self.lock = threading.RLock()
        self.base_url = ""  # set by the server once it knows its port (used in `url` fields)
        self._ids = {
            name: itertools.count(start)
            for name, start in (
                ("user", 10_001),
                ("ticket", 1),
                ("comment", 5_000_001),
                ("audit", 7_000_001),
                ("trigger", 360_001),
                ("installation", 9_001),
                ("event", 8_000_001),
                ("custom_role", 360_101),
            )
        }
        self.users: dict[int, dict[str, Any]] = {}
        self.custom_roles: dict[int, dict[str, Any]] = {}
        self.credentials: dict[str, str] = {}  # email → API token
        self.limiter = RateLimiter(rate_limit_per_minute, clock)
        self.export_limiter = RateLimiter(export_rate_limit_per_minute, clock)
        self.throttled_until = 0.0
        self.fail_next: list[tuple[int, str]] = []  # (status, error) answered by the next API calls
        self.requests: collections.deque[dict[str, Any]] = collections.deque(maxlen=20_000)
        self.agent = self.add_user("Deskguard Bot", agent_email, role="admin")
        self.agent_token = agent_token or secrets.token_urlsafe(24)
        self.credentials[agent_email] = self.agent_token
        # Who is signed in to the emulator's browser pages (the OAuth authorization page);
        # None: the agent above. Tests set it to sign in as another admin or an agent.
        self.browser_user_id: int | None = None

    # --- ids and users --------------------------------------------------------------------
    def _next(self, name: str) -> int:
        return next(self._ids[name])

    def url(self, path: str) -> str:
        return f"{self.base_url}/api/v2/{path}"

    def add_user(
        self, name: str, email: str, *, role: str = "end-user", custom_role_id: int | None = None
    ) -> dict[str, Any]:
        with self.lock:
            for user in self.users.values():
                if user["email"].lower() == email.lower():
                    return user
            uid = self._next("user")
            now = iso(self.clock())
            user = {
                "id": uid,
                "url": self.url(f"users/{uid}.json"),
                "name": name,
                "email": email,
                "role": role,
                "active": True,
                "verified": True,
                "suspended": False,
                "custom_role_id": custom_role_id,
                "role_type": self._role_type(role, custom_role_id),
                "created_at": now,
                "updated_at": now,
                "time_zone": "UTC",
                "locale": "en-US",
                "tags": [],
                "user_fields": {},
            }
            self.users[uid] = user
            return user

    def _role_type(self, role: str, custom_role_id: int | None) -> int | None:
        """Zendesk's ``role_type``: null for end-users and legacy agents, 4 for admins, else the
        custom role's type (0 custom agent, 1 light agent, ...)."""
        if role == "admin":
            return 4
        if custom_role_id is not None:
            return self.custom_roles.get(custom_role_id, {}).get("role_type", 0)
        return None

    def update_user(self, user_id: int, **fields: Any) -> dict[str, Any]:
        """Change a user the way an admin would (``role``, ``suspended``, ``active``,
        ``custom_role_id``); tests use it to suspend or demote agents."""
        with self.lock:
            user = self.users.get(user_id)
            if user is None:
                raise ApiError(404, "RecordNotFound", "Not found")
            unknown = set(fields) - {"role", "suspended", "active", "custom_role_id", "name"}
            if unknown:
                raise ValueError(f"cannot change {sorted(unknown)}")
            user.update(fields)
            user["role_type"] = self._role_type(user["role"], user.get("custom_role_id"))
            user["updated_at"] = iso(self.clock())
            return dict(user)

    def add_custom_role(
        self, name: str, *, role_type: int = 0, description: str = ""
    ) -> dict[str, Any]:
        """A custom agent role (Enterprise); assign it with
        ``add_user(..., role="agent", custom_role_id=)``."""
        with self.lock:
            rid = self._next("custom_role")
            now = iso(self.clock())
            role = {
                "id": rid,
                "name": name,
                "description": description,
                "role_type": role_type,
                "team_member_count": 0,
                "created_at": now,
                "updated_at": now,
                "configuration": {},
            }
            self.custom_roles[rid] = role
            return dict(role)

    def add_agent(self, name: str, email: str, token: str) -> dict[str, Any]:
        """Another agent with API access (e.g. a human agent replying in the tests)."""
        user = self.add_user(name, email, role="agent")
        self.credentials[email] = token
        return user

    def authenticate(self, username: str, password: str) -> dict[str, Any] | None:
        """Basic auth with an API token: user ``{email}/token``, password the token."""
        if not username.endswith("/token"):
            return None
        email = username[: -len("/token")]
        expected = self.credentials.get(email)
        if expected is None or not hmac.compare_digest(expected, password):
            return None
        return next((u for u in self.users.values() if u["email"] == email), None)

    # --- rate limiting and fault injection ------------------------------------------------
    def throttle(self, seconds: float) -> None:
        """Answer every API request with 429 for the next ``seconds`` (tests)."""
        with self.lock:
            self.throttled_until = self.clock() + seconds

    def rate_limit_wait(self, *, export: bool = False) -> int:
        """Seconds the caller must wait (Retry-After), or 0 when the request may proceed."""
        with self.lock:
            now = self.clock()
            if now < self.throttled_until:
                return max(1, math.ceil(self.throttled_until - now))
            wait = self.limiter.check()
            if not wait and export:
                wait = self.export_limiter.check()
            return wait

    def log_request(self, **entry: Any) -> None:
        with self.lock:
            self.requests.append({"ts": self.clock(), **entry})

    def calls(self, method: str | None = None, path_contains: str = "") -> list[dict[str, Any]]:
        with self.lock:
            return [
                r
                for r in self.requests
                if (method is None or r["method"] == method) and path_contains in r["path"]
            ]
