"""In-memory state of the Zendesk sandbox: one account's users, tickets, comments, audits,
webhooks, triggers, jobs, app installations and rate limits.

``ZendeskState`` is built in layers, each in its own module: ``AccountState`` (users,
credentials, rate limits, request log; ``state_core.py``), ``WebhookState`` (webhooks, triggers,
signed deliveries; ``state_webhooks.py``), ``TicketState`` (tickets, comments, audits;
``state_tickets.py``), and this module's top layer: the incremental export, search, bulk-update
jobs, app installations and the helpers tests and the demo drive it with. The HTTP side is in
the ``routes_*.py`` modules.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Callable, Iterable
from typing import Any

from connector.devkit.sandbox.zendesk.records import STATUS_ORDER, ApiError, deep_copy, iso
from connector.devkit.sandbox.zendesk.state_oauth import OAuthState
from connector.devkit.sandbox.zendesk.state_tickets import TicketState


class ZendeskState(TicketState):
    """One Zendesk account. Helpers for tests and the demo are the public methods.

    Options (all keyword-only): ``subdomain``, ``agent_email``, ``agent_token`` (random when not
    given), ``rate_limit_per_minute`` (700), ``export_rate_limit_per_minute`` (10),
    ``job_delay`` (seconds before a bulk-update job runs), ``delivery_retries``,
    ``delivery_timeout`` and ``clock``. OAuth (``state_oauth.py``): ``oauth_min_expires_in``
    (Zendesk's 300 by default; tests lower it) and ``refuse_api_tokens`` (answer API-token basic
    auth with 401, as Zendesk will from 30 April 2027). The OAuth client ``deskguard``, created
    by the agent, is registered from the start (``oauth_client``).
    """

    def __init__(
        self,
        *,
        job_delay: float = 0.05,
        oauth_min_expires_in: int = 300,
        refuse_api_tokens: bool = False,
        **options: Any,
    ):
        super().__init__(**options)
        self.oauth = OAuthState(self.clock, min_expires_in=oauth_min_expires_in)
        self.oauth_client = self.oauth.add_client("deskguard", user_id=self.agent["id"])
        self.refuse_api_tokens = refuse_api_tokens
        self.job_delay = job_delay
        self.jobs: dict[str, dict[str, Any]] = {}
        self.installations: list[dict[str, Any]] = []

    # --- incremental export and search -------------------------------------------------------
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
            return [deep_copy(self.tickets[tid]) for _, tid in page], last, len(rows) <= limit

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
                filters.append(self._text_filter(words))
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
            return [deep_copy(t) for t in sorted(found, key=lambda t: t["id"])]

    @staticmethod
    def _text_filter(words: str) -> Callable[[dict[str, Any]], bool]:
        def text(t: dict[str, Any]) -> bool:
            return words in (t["subject"] + " " + t["description"]).lower()

        return text

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
            return deep_copy(job)

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
            return deep_copy(inst)

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
