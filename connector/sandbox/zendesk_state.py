"""In-memory state of the Zendesk sandbox: users, tickets, comments, audits, webhooks, triggers,
jobs, app installations, rate limits, and the delivery of signed webhooks.

The HTTP side lives in ``connector/sandbox/zendesk.py``; this module holds the data and the
behaviour Zendesk has behind its API (triggers firing on every create/update, including the
updates Deskguard makes itself, which is what makes loop safety testable). Everything is guarded
by one re-entrant lock; webhook deliveries go out from a background thread, after the request
that caused them has answered, as Zendesk does.

JSON shapes follow the Zendesk Support API (INTEGRATIONS.md §1). Quirks worth knowing:

- timestamps are ISO-8601 with one-second resolution, as Zendesk's. The emulator keeps each
  ticket's ``updated_at`` strictly increasing so that every change is a distinct event; real
  Zendesk can give two changes within one second the same ``updated_at``.
- ``X-Zendesk-Webhook-Signature`` = base64(HMAC-SHA256(secret, timestamp + body)), the secret's
  bytes used as-is (INTEGRATIONS §1.1).
"""

from __future__ import annotations

import base64
import collections
import hashlib
import hmac
import itertools
import json
import math
import queue
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

STATUS_ORDER = ("new", "open", "pending", "hold", "solved", "closed")


def iso(ts: float) -> str:
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def sign_webhook(secret: str, timestamp: str, body: bytes) -> str:
    """Zendesk's webhook signature: base64(HMAC-SHA256(secret, timestamp + body))."""
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class ApiError(Exception):
    """An error the emulator answers with Zendesk's JSON error shape."""

    def __init__(self, status: int, error: str, description: str = "", details: dict | None = None):
        super().__init__(f"{status} {error}: {description}")
        self.status = status
        self.body: dict[str, Any] = {"error": error}
        if description:
            self.body["description"] = description
        if details:
            self.body["details"] = details


@dataclass
class Delivery:
    """One webhook invocation and its attempts (status codes, or an error text)."""

    webhook_id: str
    ticket_id: int
    body: str
    attempts: list[Any] = field(default_factory=list)
    done: bool = False


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


class ZendeskState:
    """One Zendesk account. Helpers for tests and the demo are the public methods below."""

    def __init__(
        self,
        *,
        subdomain: str = "sandbox",
        agent_email: str = "deskguard@example.com",
        agent_token: str | None = None,
        rate_limit_per_minute: int | None = 700,
        export_rate_limit_per_minute: int | None = 10,
        job_delay: float = 0.05,
        delivery_retries: int = 3,
        delivery_timeout: float = 10.0,
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
        self._seq = itertools.count(1)
        self.users: dict[int, dict[str, Any]] = {}
        self.custom_roles: dict[int, dict[str, Any]] = {}
        self.tickets: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self.audits: dict[int, list[dict[str, Any]]] = {}  # ticket id → its audits, oldest first
        self.change_seq: dict[int, int] = {}  # ticket id → sequence number of its latest change
        self.webhooks: dict[str, dict[str, Any]] = {}
        self.webhook_secrets: dict[str, str] = {}
        self.triggers: dict[int, dict[str, Any]] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.installations: list[dict[str, Any]] = []
        self.credentials: dict[str, str] = {}  # email → API token
        self.limiter = RateLimiter(rate_limit_per_minute, clock)
        self.export_limiter = RateLimiter(export_rate_limit_per_minute, clock)
        self.throttled_until = 0.0
        self.fail_next: list[tuple[int, str]] = []  # (status, error) answered by the next API calls
        self.requests: collections.deque[dict[str, Any]] = collections.deque(maxlen=20_000)
        self.job_delay = job_delay
        self.delivery_retries = delivery_retries
        self.delivery_timeout = delivery_timeout
        self.deliveries: list[Delivery] = []
        self.deliveries_paused = False
        self._outbox: queue.Queue[Delivery | None] = queue.Queue()
        self._inflight = 0
        self._idle = threading.Condition(self.lock)
        self._delivery_thread: threading.Thread | None = None
        self.agent = self.add_user("Deskguard Bot", agent_email, role="admin")
        self.agent_token = agent_token or secrets.token_urlsafe(24)
        self.credentials[agent_email] = self.agent_token

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
        """A custom agent role (Enterprise); assign it with ``add_user(..., role="agent", custom_role_id=)``."""
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

    # --- tickets ----------------------------------------------------------------------------
    def _touch(self, ticket: dict[str, Any]) -> None:
        """Advance updated_at (strictly, see module doc) and the export sequence."""
        now = int(self.clock())
        previous = int(parse_iso(ticket["updated_at"])) if ticket.get("updated_at") else 0
        ticket["updated_at"] = iso(max(now, previous + 1))
        ticket["generated_timestamp"] = int(parse_iso(ticket["updated_at"]))
        self.change_seq[ticket["id"]] = next(self._seq)

    def _requester(self, spec: dict[str, Any] | None, requester_id: int | None) -> int:
        if requester_id:
            if requester_id not in self.users:
                raise ApiError(
                    422,
                    "RecordInvalid",
                    "Record validation errors",
                    {"requester": [{"description": "Requester: is invalid"}]},
                )
            return requester_id
        if spec and spec.get("email"):
            return self.add_user(spec.get("name") or spec["email"].split("@")[0], spec["email"])[
                "id"
            ]
        raise ApiError(
            422,
            "RecordInvalid",
            "Record validation errors",
            {"requester": [{"description": "Requester: cannot be blank"}]},
        )

    def create_ticket(
        self, data: dict[str, Any], *, author_id: int, channel: str = "api", fire: bool = True
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Create a ticket from an API-style ``ticket`` object. Returns (ticket, audit)."""
        comment = data.get("comment") or {}
        body = comment.get("body") or comment.get("html_body") or data.get("description") or ""
        if not body:
            raise ApiError(
                422,
                "RecordInvalid",
                "Record validation errors",
                {"description": [{"description": "Description: cannot be blank"}]},
            )
        with self.lock:
            tid = self._next("ticket")
            requester_id = self._requester(data.get("requester"), data.get("requester_id"))
            submitter_id = data.get("submitter_id") or comment.get("author_id") or author_id
            now = iso(self.clock())
            public = bool(comment.get("public", True))
            ticket = {
                "url": self.url(f"tickets/{tid}.json"),
                "id": tid,
                "external_id": data.get("external_id"),
                "via": {"channel": channel, "source": {"from": {}, "to": {}, "rel": None}},
                "created_at": now,
                "updated_at": None,
                "type": data.get("type"),
                "subject": data.get("subject") or "",
                "raw_subject": data.get("subject") or "",
                "description": body,
                "priority": data.get("priority"),
                "status": data.get("status") or "new",
                "recipient": None,
                "requester_id": requester_id,
                "submitter_id": submitter_id,
                "assignee_id": data.get("assignee_id"),
                "organization_id": None,
                "group_id": None,
                "collaborator_ids": [],
                "follower_ids": [],
                "email_cc_ids": [],
                "forum_topic_id": None,
                "problem_id": None,
                "has_incidents": False,
                "is_public": public,
                "due_at": None,
                "tags": _unique(data.get("tags") or []),
                "custom_fields": [],
                "fields": [],
                "satisfaction_rating": None,
                "sharing_agreement_ids": [],
                "followup_ids": [],
                "brand_id": None,
                "allow_channelback": False,
                "allow_attachments": True,
                "from_messaging_channel": False,
            }
            self._set_custom_fields(ticket, data.get("custom_fields") or [])
            self.tickets[tid] = ticket
            self.comments[tid] = []
            audit = self._new_audit(ticket, submitter_id, channel)
            self._add_comment(
                ticket, audit, {"body": body, "public": public, "author_id": submitter_id}, channel
            )
            audit["events"].append(
                {
                    "id": self._next("event"),
                    "type": "Create",
                    "field_name": "status",
                    "value": ticket["status"],
                }
            )
            self._touch(ticket)
            if fire:
                self._fire_triggers(ticket, "Create")
            return _copy(ticket), audit

    def _new_audit(self, ticket: dict[str, Any], author_id: int, channel: str) -> dict[str, Any]:
        """A new audit (one per create/update, as Zendesk stores them), kept for the ``last_audits``
        sideload; the caller appends its events."""
        audit = {
            "id": self._next("audit"),
            "ticket_id": ticket["id"],
            "created_at": iso(self.clock()),
            "author_id": author_id,
            "metadata": {"system": {}, "custom": {}},
            "via": {"channel": channel, "source": {"from": {}, "to": {}, "rel": None}},
            "events": [],
        }
        self.audits.setdefault(ticket["id"], []).append(audit)
        return audit

    def last_audit(self, ticket_id: int) -> dict[str, Any] | None:
        """The ticket's most recent audit (what ``include=last_audits`` sideloads), or None."""
        with self.lock:
            audits = self.audits.get(ticket_id)
            return _copy(audits[-1]) if audits else None

    def _add_comment(
        self, ticket: dict[str, Any], audit: dict[str, Any], comment: dict[str, Any], channel: str
    ) -> dict[str, Any]:
        body = comment.get("body") or comment.get("html_body") or ""
        author_id = comment.get("author_id") or audit["author_id"]
        # Zendesk: an explicit `public` wins; otherwise the ticket's creation value carries over.
        public = bool(comment["public"]) if "public" in comment else ticket["is_public"]
        record = {
            "id": self._next("comment"),
            "type": "Comment",
            "author_id": author_id,
            "body": body,
            "html_body": f'<div class="zd-comment"><p>{body}</p></div>',
            "plain_body": body,
            "public": public,
            "attachments": [],
            "audit_id": audit["id"],
            "via": {"channel": channel, "source": {"from": {}, "to": {}, "rel": None}},
            "created_at": iso(self.clock()),
            "metadata": {"system": {}, "custom": {}},
        }
        self.comments[ticket["id"]].append(record)
        if public:
            ticket["is_public"] = True
        audit["events"].append(
            {
                k: record[k]
                for k in (
                    "id",
                    "type",
                    "author_id",
                    "body",
                    "html_body",
                    "plain_body",
                    "public",
                    "attachments",
                    "audit_id",
                )
            }
        )
        return record

    @staticmethod
    def _set_custom_fields(ticket: dict[str, Any], fields: Iterable[dict[str, Any]]) -> None:
        current = {f["id"]: f["value"] for f in ticket["custom_fields"]}
        for f in fields:
            current[int(f["id"])] = f.get("value")
        ticket["custom_fields"] = [{"id": k, "value": v} for k, v in sorted(current.items())]
        ticket["fields"] = [dict(f) for f in ticket["custom_fields"]]

    def get_ticket(self, ticket_id: int) -> dict[str, Any]:
        with self.lock:
            ticket = self.tickets.get(ticket_id)
            if ticket is None or ticket["status"] == "deleted":
                raise ApiError(404, "RecordNotFound", "Not found")
            return _copy(ticket)

    def update_ticket(
        self,
        ticket_id: int,
        data: dict[str, Any],
        *,
        author_id: int,
        channel: str = "api",
        fire: bool = True,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Apply a PUT /tickets/{id} ``ticket`` object. Returns (ticket, audit)."""
        with self.lock:
            ticket = self.tickets.get(ticket_id)
            if ticket is None or ticket["status"] == "deleted":
                raise ApiError(404, "RecordNotFound", "Not found")
            if ticket["status"] == "closed":
                raise ApiError(
                    422,
                    "RecordInvalid",
                    "Record validation errors",
                    {"status": [{"description": "Status: closed prevents ticket update"}]},
                )
            audit = self._new_audit(ticket, author_id, channel)
            if data.get("comment"):
                self._add_comment(ticket, audit, data["comment"], channel)
                author = self.users.get(data["comment"].get("author_id") or author_id) or {}
                if (
                    ticket["status"] == "new"
                    and author.get("role") in ("agent", "admin")
                    and "status" not in data
                ):
                    data = {**data, "status": "open"}  # an agent's comment opens a new ticket
            for name in ("status", "priority", "subject", "type", "assignee_id"):
                if name in data and data[name] != ticket.get(name):
                    audit["events"].append(
                        {
                            "id": self._next("event"),
                            "type": "Change",
                            "field_name": name,
                            "value": data[name],
                            "previous_value": ticket.get(name),
                        }
                    )
                    ticket[name] = data[name]
            tags = list(ticket["tags"])
            if "tags" in data:
                tags = _unique(data["tags"] or [])
            tags = _unique([*tags, *(data.get("additional_tags") or [])])
            tags = [t for t in tags if t not in set(data.get("remove_tags") or [])]
            if tags != ticket["tags"]:
                audit["events"].append(
                    {
                        "id": self._next("event"),
                        "type": "Change",
                        "field_name": "tags",
                        "value": tags,
                        "previous_value": ticket["tags"],
                    }
                )
                ticket["tags"] = tags
            if data.get("custom_fields"):
                self._set_custom_fields(ticket, data["custom_fields"])
            self._touch(ticket)
            if fire:
                self._fire_triggers(ticket, "Change")
            return _copy(ticket), audit

    def change_tags(
        self, ticket_id: int, tags: list[str], how: str, *, author_id: int
    ) -> list[str]:
        """The tags endpoint: PUT adds, POST sets, DELETE removes."""
        key = {"add": "additional_tags", "set": "tags", "remove": "remove_tags"}[how]
        ticket, _ = self.update_ticket(ticket_id, {key: tags}, author_id=author_id)
        return ticket["tags"]

    def list_comments(self, ticket_id: int) -> list[dict[str, Any]]:
        with self.lock:
            self.get_ticket(ticket_id)
            return [dict(c) for c in self.comments[ticket_id]]

    def export_since(
        self, *, seq: int = 0, start_time: float | None = None, limit: int = 1000
    ) -> tuple[list[dict[str, Any]], int, bool]:
        """Tickets changed after ``seq`` (or at/after ``start_time``), oldest change first.

        Returns (tickets, last sequence number included, end_of_stream). A ticket appears once,
        with its latest state, at the position of its latest change (as the cursor export does).
        """
        with self.lock:
            rows = sorted((s, tid) for tid, s in self.change_seq.items())
            if start_time is not None:
                rows = [
                    (s, tid)
                    for s, tid in rows
                    if self.tickets[tid]["generated_timestamp"] >= start_time
                ]
            else:
                rows = [(s, tid) for s, tid in rows if s > seq]
            page = rows[:limit]
            last = (
                page[-1][0]
                if page
                else (seq if start_time is None else self._seq_before(start_time))
            )
            return [_copy(self.tickets[tid]) for _, tid in page], last, len(rows) <= limit

    def _seq_before(self, start_time: float) -> int:
        earlier = [
            s
            for tid, s in self.change_seq.items()
            if self.tickets[tid]["generated_timestamp"] < start_time
        ]
        return max(earlier, default=0)

    def search_tickets(self, query: str) -> list[dict[str, Any]]:
        """Enough of Zendesk search for ``type:ticket requester:EMAIL status<solved``."""
        filters: list[Callable[[dict[str, Any]], bool]] = []
        for token in query.split():
            m = re.fullmatch(r"(-?)(\w+)([:<>]=?)(.+)", token)
            if not m:
                words = token.lower().strip('"')
                filters.append(
                    lambda t, w=words: w in (t["subject"] + " " + t["description"]).lower()
                )
                continue
            negate, key, op, value = (
                m.group(1) == "-",
                m.group(2),
                m.group(3),
                m.group(4).strip('"'),
            )
            if key == "type":
                if value != "ticket":
                    return []
                continue
            filters.append(self._search_filter(key, op, value, negate))
        with self.lock:
            found = [
                t
                for t in self.tickets.values()
                if t["status"] != "deleted" and all(f(t) for f in filters)
            ]
            return [_copy(t) for t in sorted(found, key=lambda t: t["id"])]

    def _search_filter(
        self, key: str, op: str, value: str, negate: bool
    ) -> Callable[[dict[str, Any]], bool]:
        def status_cmp(t: dict[str, Any]) -> bool:
            mine, other = STATUS_ORDER.index(t["status"]), STATUS_ORDER.index(value)
            return {
                ":": mine == other,
                "<": mine < other,
                ">": mine > other,
                "<=": mine <= other,
                ">=": mine >= other,
                ":=": mine == other,
            }[op]

        def requester(t: dict[str, Any]) -> bool:
            user = self.users.get(t["requester_id"]) or {}
            return value.lower() in (user.get("email", "").lower(), str(user.get("id")))

        def tags(t: dict[str, Any]) -> bool:
            return value in t["tags"]

        if key == "status" and value not in STATUS_ORDER:
            raise ApiError(400, "InvalidSearch", f"unknown status {value!r}")
        check = {"status": status_cmp, "requester": requester, "tags": tags, "tag": tags}.get(key)
        if check is None:
            raise ApiError(400, "UnsupportedSearch", f"the sandbox does not search on {key!r}")
        return (lambda t: not check(t)) if negate else check

    # --- batch updates ---------------------------------------------------------------------
    def start_update_many(self, items: list[dict[str, Any]], *, author_id: int) -> dict[str, Any]:
        if len(items) > 100:
            raise ApiError(400, "TooManyValues", "You may update up to 100 tickets at once")
        job_id = secrets.token_hex(16)
        job = {
            "id": job_id,
            "url": self.url(f"job_statuses/{job_id}.json"),
            "total": len(items),
            "progress": 0,
            "status": "queued",
            "message": None,
            "results": [],
            "job_type": "Bulk Update Tickets",
        }
        with self.lock:
            self.jobs[job_id] = job
        timer = threading.Timer(self.job_delay, self._run_job, args=(job_id, items, author_id))
        timer.daemon = True
        timer.start()
        return dict(job)

    def _run_job(self, job_id: str, items: list[dict[str, Any]], author_id: int) -> None:
        with self.lock:
            job = self.jobs[job_id]
            job["status"] = "working"
        for index, item in enumerate(items):
            data = {k: v for k, v in item.items() if k != "id"}
            try:
                self.update_ticket(int(item["id"]), data, author_id=author_id)
                result = {
                    "id": item["id"],
                    "index": index,
                    "action": "update",
                    "success": True,
                    "status": "Updated",
                }
            except ApiError as exc:
                result = {
                    "id": item["id"],
                    "index": index,
                    "action": "update",
                    "success": False,
                    "status": "Failed",
                    "error": exc.body["error"],
                    "details": exc.body.get("description", ""),
                }
            with self.lock:
                job["results"].append(result)
                job["progress"] = index + 1
        with self.lock:
            job["status"] = "completed"
            job["message"] = f"Completed at {iso(self.clock())}"

    def job_status(self, job_id: str) -> dict[str, Any]:
        with self.lock:
            job = self.jobs.get(job_id)
            if job is None:
                raise ApiError(404, "RecordNotFound", "Not found")
            return json.loads(json.dumps(job))

    # --- webhooks and triggers ----------------------------------------------------------------
    def create_webhook(self, data: dict[str, Any], *, author_id: int) -> dict[str, Any]:
        missing = [
            k
            for k in (
                "name",
                "endpoint",
                "http_method",
                "request_format",
                "status",
                "subscriptions",
            )
            if not data.get(k)
        ]
        if missing:
            raise ApiError(400, "InvalidValue", "missing " + ", ".join(missing))
        if not str(data["endpoint"]).startswith(("http://", "https://")):
            raise ApiError(400, "InvalidValue", "endpoint must be an http(s) URL")
        with self.lock:
            wid = "01" + secrets.token_hex(12).upper()
            now = iso(self.clock())
            hook = {
                "id": wid,
                "name": data["name"],
                "description": data.get("description", ""),
                "endpoint": data["endpoint"],
                "http_method": data["http_method"],
                "request_format": data["request_format"],
                "status": data["status"],
                "subscriptions": list(data["subscriptions"]),
                "created_at": now,
                "created_by": str(author_id),
                "updated_at": now,
                "updated_by": str(author_id),
            }
            self.webhooks[wid] = hook
            self.webhook_secrets[wid] = base64.b64encode(secrets.token_bytes(30)).decode()
            return dict(hook)

    def get_webhook(self, webhook_id: str) -> dict[str, Any]:
        with self.lock:
            if webhook_id not in self.webhooks:
                raise ApiError(404, "RecordNotFound", "Not found")
            return dict(self.webhooks[webhook_id])

    def signing_secret(self, webhook_id: str, *, reset: bool = False) -> str:
        with self.lock:
            self.get_webhook(webhook_id)
            if reset:
                self.webhook_secrets[webhook_id] = base64.b64encode(
                    secrets.token_bytes(30)
                ).decode()
            return self.webhook_secrets[webhook_id]

    def create_trigger(self, data: dict[str, Any]) -> dict[str, Any]:
        if not data.get("title") or not data.get("actions") or not data.get("conditions"):
            raise ApiError(
                422,
                "RecordInvalid",
                "Record validation errors",
                {"base": [{"description": "title, conditions and actions are required"}]},
            )
        with self.lock:
            for action in data["actions"]:
                if action.get("field") == "notification_webhook":
                    webhook_id = action["value"][0]
                    hook = self.webhooks.get(webhook_id)
                    if hook is None or hook["subscriptions"] != ["conditional_ticket_events"]:
                        raise ApiError(
                            422,
                            "RecordInvalid",
                            "Record validation errors",
                            {"actions": [{"description": "webhook cannot be used in triggers"}]},
                        )
            tid = self._next("trigger")
            now = iso(self.clock())
            trigger = {
                "id": tid,
                "url": self.url(f"triggers/{tid}.json"),
                "title": data["title"],
                "active": data.get("active", True),
                "position": len(self.triggers) + 1,
                "conditions": {
                    "all": data["conditions"].get("all", []),
                    "any": data["conditions"].get("any", []),
                },
                "actions": data["actions"],
                "description": data.get("description"),
                "created_at": now,
                "updated_at": now,
                "category_id": data.get("category_id"),
            }
            self.triggers[tid] = trigger
            return json.loads(json.dumps(trigger))

    def _matches(self, condition: dict[str, Any], ticket: dict[str, Any], update_type: str) -> bool:
        field_name, op, value = (
            condition.get("field"),
            condition.get("operator"),
            condition.get("value"),
        )
        if field_name == "update_type":
            return (update_type == value) == (op == "is")
        if field_name == "status":
            mine, other = STATUS_ORDER.index(ticket["status"]), STATUS_ORDER.index(value)
            return {
                "is": mine == other,
                "is_not": mine != other,
                "less_than": mine < other,
                "greater_than": mine > other,
            }.get(op, False)
        if field_name == "current_tags":
            wanted = set(str(value).split())
            has = bool(wanted & set(ticket["tags"]))
            return has if op == "includes" else not has
        return False  # conditions the sandbox does not model never match

    def _fire_triggers(self, ticket: dict[str, Any], update_type: str) -> None:
        for trigger in sorted(self.triggers.values(), key=lambda t: t["position"]):
            if not trigger["active"]:
                continue
            conds = trigger["conditions"]
            if not all(self._matches(c, ticket, update_type) for c in conds["all"]):
                continue
            if conds["any"] and not any(
                self._matches(c, ticket, update_type) for c in conds["any"]
            ):
                continue
            for action in trigger["actions"]:
                if action.get("field") != "notification_webhook":
                    continue
                webhook_id, template = action["value"][0], action["value"][1]
                hook = self.webhooks.get(webhook_id)
                if hook is None or hook["status"] != "active":
                    continue
                self._enqueue_delivery(
                    Delivery(webhook_id, ticket["id"], render_placeholders(template, ticket))
                )

    # --- webhook delivery -----------------------------------------------------------------------
    def _enqueue_delivery(self, delivery: Delivery) -> None:
        with self.lock:
            self.deliveries.append(delivery)
            self._inflight += 1
            if self._delivery_thread is None:
                self._delivery_thread = threading.Thread(
                    target=self._deliver_loop, name="zendesk-sandbox-webhooks", daemon=True
                )
                self._delivery_thread.start()
        self._outbox.put(delivery)

    def _deliver_loop(self) -> None:
        while True:
            delivery = self._outbox.get()
            if delivery is None:
                return
            while self.deliveries_paused:
                time.sleep(0.02)
            try:
                self._deliver(delivery)
            finally:
                with self.lock:
                    delivery.done = True
                    self._inflight -= 1
                    self._idle.notify_all()

    def _deliver(self, delivery: Delivery) -> None:
        for attempt in range(self.delivery_retries + 1):
            status = self.send_signed(delivery.webhook_id, delivery.body.encode(), record=delivery)
            if isinstance(status, int) and status < 300:
                return
            if isinstance(status, int) and status not in (409, 429, 500, 502, 503, 504):
                return  # Zendesk retries only some statuses (INTEGRATIONS §1.1)
            time.sleep(min(0.2 * (attempt + 1), 1.0))

    def send_signed(
        self,
        webhook_id: str,
        body: bytes,
        *,
        timestamp: str | None = None,
        record: Delivery | None = None,
        secret: str | None = None,
    ) -> int | str:
        """POST a signed delivery to the webhook's endpoint now; returns the status (or an error)."""
        with self.lock:
            hook = dict(self.webhooks[webhook_id])
            secret = secret or self.webhook_secrets[webhook_id]
        timestamp = timestamp or iso(self.clock())
        request = urllib.request.Request(
            hook["endpoint"],
            data=body,
            method=hook["http_method"],
            headers={
                "Content-Type": "application/json",
                "User-Agent": "Zendesk Webhook",
                "X-Zendesk-Webhook-Id": webhook_id,
                "X-Zendesk-Webhook-Invocation-Id": secrets.token_hex(8),
                "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
                "X-Zendesk-Webhook-Signature": sign_webhook(secret, timestamp, body),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.delivery_timeout) as response:
                status: int | str = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except (urllib.error.URLError, OSError) as exc:
            status = f"error: {exc}"
        if record is not None:
            with self.lock:
                record.attempts.append(status)
        return status

    def redeliver(self, delivery: Delivery) -> None:
        """Deliver the same event again, freshly signed (Zendesk's duplicate invocations)."""
        self._enqueue_delivery(Delivery(delivery.webhook_id, delivery.ticket_id, delivery.body))

    def wait_for_deliveries(self, timeout: float = 10.0) -> bool:
        """Block until every queued webhook delivery has been attempted (tests)."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while self._inflight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def close(self) -> None:
        if self._delivery_thread is not None:
            self._outbox.put(None)
            self._delivery_thread.join(5)
            self._delivery_thread = None

    # --- apps --------------------------------------------------------------------------------
    def install_app(
        self, settings: dict[str, Any], *, app_id: int = 424242, enabled: bool = True
    ) -> dict[str, Any]:
        with self.lock:
            now = iso(self.clock())
            inst = {
                "id": self._next("installation"),
                "app_id": app_id,
                "product": "support",
                "settings": {"name": "Deskguard", "title": "Deskguard", **settings},
                "enabled": enabled,
                "created_at": now,
                "updated_at": now,
            }
            self.installations.append(inst)
            return json.loads(json.dumps(inst))

    def set_app_settings(self, **settings: Any) -> None:
        """Edit the Deskguard installation's settings, as an admin would in Admin Center."""
        with self.lock:
            inst = next(
                (i for i in self.installations if i["settings"].get("name") == "Deskguard"), None
            )
            if inst is None:
                inst = self.installations[-1] if self.installations else None
            if inst is None:
                self.install_app(settings)
                return
            inst["settings"].update(settings)
            inst["updated_at"] = iso(self.clock())

    # --- demo / test helpers ------------------------------------------------------------------
    def customer_writes(
        self,
        *,
        subject: str,
        body: str,
        name: str,
        email: str,
        tags: Iterable[str] = (),
        channel: str = "email",
        priority: str | None = None,
    ) -> dict[str, Any]:
        """A customer opens a ticket by email: the requester is the first comment's author."""
        user = self.add_user(name, email)
        ticket, _ = self.create_ticket(
            {
                "subject": subject,
                "comment": {"body": body, "public": True},
                "requester_id": user["id"],
                "submitter_id": user["id"],
                "tags": list(tags),
                "priority": priority,
            },
            author_id=user["id"],
            channel=channel,
        )
        return ticket

    def customer_replies(self, ticket_id: int, body: str) -> dict[str, Any]:
        with self.lock:
            requester = self.tickets[ticket_id]["requester_id"]
        data: dict[str, Any] = {"comment": {"body": body, "public": True, "author_id": requester}}
        if self.tickets[ticket_id]["status"] in ("pending", "solved"):
            data["status"] = "open"
        ticket, _ = self.update_ticket(ticket_id, data, author_id=requester, channel="email")
        return ticket

    def seed(self, tickets: Iterable[dict[str, Any]]) -> list[int]:
        """Create demo tickets from dicts with subject, body, name, email and optional tags."""
        ids = []
        for t in tickets:
            ticket = self.customer_writes(
                subject=t["subject"],
                body=t["body"],
                name=t.get("name", ""),
                email=t["email"],
                tags=t.get("tags", ()),
                priority=t.get("priority"),
            )
            ids.append(ticket["id"])
        return ids

    def notes(
        self, ticket_id: int, *, public: bool | None = None, by: int | None = None
    ) -> list[dict[str, Any]]:
        """Comments on a ticket, optionally only public/internal ones or those by one author."""
        return [
            c
            for c in self.list_comments(ticket_id)
            if (public is None or c["public"] == public) and (by is None or c["author_id"] == by)
        ]


def demo_tickets() -> list[dict[str, Any]]:
    """Realistic store tickets for the demo (``zendesk_demo_tickets.json`` next to this module)."""
    return json.loads(
        (Path(__file__).with_name("zendesk_demo_tickets.json")).read_text(encoding="utf-8")
    )


PLACEHOLDER = re.compile(r"\{\{\s*([\w.]+)\s*\}\}")


def render_placeholders(template: str, ticket: dict[str, Any]) -> str:
    """Substitute the ticket placeholders a Deskguard trigger body uses; unknown ones render empty."""
    values = {
        "ticket.id": str(ticket["id"]),
        "ticket.status": ticket["status"],
        "ticket.priority": ticket.get("priority") or "",
        "ticket.updated_at_with_timestamp": ticket["updated_at"],
        "ticket.created_at_with_timestamp": ticket["created_at"],
        "ticket.via": ticket["via"]["channel"],
        "ticket.requester.id": str(ticket["requester_id"]),
    }
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), ""), template)


def _unique(items: Iterable[str]) -> list[str]:
    return list(
        dict.fromkeys(str(i).strip().lower().replace(" ", "_") for i in items if str(i).strip())
    )


def _copy(obj: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(obj))
