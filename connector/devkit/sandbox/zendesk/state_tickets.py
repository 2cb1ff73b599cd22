"""The tickets layer of the Zendesk sandbox's state: tickets, their comments and audits, tags
and custom fields, in the Zendesk Support API's JSON shapes (see docs/vendors/zendesk.md).

Timestamps are ISO-8601 with one-second resolution, as Zendesk's. The emulator keeps each
ticket's ``updated_at`` strictly increasing so that every change is a distinct event; real
Zendesk can give two changes within one second the same ``updated_at``. Every create and update
fires the triggers (``WebhookState``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

from connector.devkit.sandbox.zendesk.records import (
    ApiError,
    deep_copy,
    invalid_record,
    iso,
    parse_iso,
    unique_tags,
)
from connector.devkit.sandbox.zendesk.state_webhooks import WebhookState


class TicketState(WebhookState):
    """An account's tickets, comments and audits."""

    def __init__(self, **options: Any):
        super().__init__(**options)
        self._seq = itertools.count(1)
        self.tickets: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self.audits: dict[int, list[dict[str, Any]]] = {}  # ticket id → its audits, oldest first
        self.change_seq: dict[int, int] = {}  # ticket id → sequence number of its latest change

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
                raise invalid_record("requester", "Requester: is invalid")
            return requester_id
        if spec and spec.get("email"):
            return self.add_user(spec.get("name") or spec["email"].split("@")[0], spec["email"])[
                "id"
            ]
        raise invalid_record("requester", "Requester: cannot be blank")

    def create_ticket(
        self, data: dict[str, Any], *, author_id: int, channel: str = "api", fire: bool = True
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Create a ticket from an API-style ``ticket`` object. Returns (ticket, audit)."""
        comment = data.get("comment") or {}
        body = comment.get("body") or comment.get("html_body") or data.get("description") or ""
        if not body:
            raise invalid_record("description", "Description: cannot be blank")
        with self.lock:
            tid = self._next("ticket")
            requester_id = self._requester(data.get("requester"), data.get("requester_id"))
            submitter_id = data.get("submitter_id") or comment.get("author_id") or author_id
            public = bool(comment.get("public", True))
            ticket = self._ticket_record(
                tid,
                data,
                body,
                channel=channel,
                public=public,
                requester_id=requester_id,
                submitter_id=submitter_id,
            )
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
            return deep_copy(ticket), audit

    def _ticket_record(
        self,
        tid: int,
        data: dict[str, Any],
        body: str,
        *,
        channel: str,
        public: bool,
        requester_id: int,
        submitter_id: int,
    ) -> dict[str, Any]:
        """A new ticket as Zendesk stores it (custom fields, comments and audit come after)."""
        now = iso(self.clock())
        return {
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
            "tags": unique_tags(data.get("tags") or []),
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
            return deep_copy(audits[-1]) if audits else None

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
            return deep_copy(ticket)

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
                raise invalid_record("status", "Status: closed prevents ticket update")
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
                tags = unique_tags(data["tags"] or [])
            tags = unique_tags([*tags, *(data.get("additional_tags") or [])])
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
            return deep_copy(ticket), audit

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
