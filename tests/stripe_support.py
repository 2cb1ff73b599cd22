"""Shared by tests/test_stripe_*.py and tests/test_approvals*.py: a running Stripe sandbox, a
runtime configured to reach it with the real stripe SDK, and an in-memory fake of our TicketDesk
port (the Zendesk adapter is another area's)."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connector.devkit.sandbox import RunningServer, serve_in_thread
from connector.devkit.sandbox.stripe import (
    DEMO_SECRET_KEY,
    DEMO_WEBHOOK_SECRET,
    StripeState,
    create_app,
    seed_demo,
    sign_payload,
)
from connector.domain import DESKGUARD_MARKER, Comment, Person, Ticket


@dataclass
class Sandbox:
    state: StripeState
    server: RunningServer

    @property
    def url(self) -> str:
        return self.server.url

    def refunds_created(self) -> list[dict[str, Any]]:
        """POST /v1/refunds requests that actually created a refund (not replays, not errors)."""
        return [r for r in self.state.requests_to("POST", "/v1/refunds") if r["status"] == 200]


def start_sandbox(**kwargs) -> Sandbox:
    state = seed_demo(StripeState(**kwargs))
    return Sandbox(state, serve_in_thread(create_app(state)))


@pytest.fixture(name="stripe_sandbox")
def stripe_sandbox_fixture():
    sandbox = start_sandbox()
    yield sandbox
    sandbox.server.stop()


def stripe_settings(sandbox: Sandbox) -> dict[str, Any]:
    return {
        "stripe_api_key": DEMO_SECRET_KEY,
        "stripe_api_base": sandbox.url,
        "stripe_webhook_secret": DEMO_WEBHOOK_SECRET,
        "stripe_max_network_retries": 2,
        "stripe_timeout_seconds": 5.0,
    }


def signed(
    event: dict[str, Any], secret: str = DEMO_WEBHOOK_SECRET, **kwargs
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event).encode()
    return body, {
        "Stripe-Signature": sign_payload(body, secret, **kwargs),
        "Content-Type": "application/json",
    }


@dataclass
class FakeDesk:
    """In-memory TicketDesk: enough Zendesk for the dispute brief (open tickets, notes, markers)."""

    tickets: dict[int, Ticket] = field(default_factory=dict)
    notes: list[dict[str, Any]] = field(default_factory=list)
    created: list[dict[str, Any]] = field(default_factory=list)
    api_calls: int = 0
    fail_after_write: bool = False  # simulate a crash after the vendor applied the write
    search_lags: bool = False  # search does not see the tickets created here yet
    external_ids: dict[str, int] = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(9000))

    def add_ticket(
        self, ticket_id: int, email: str, *, status: str = "open", hours_ago: float = 1
    ) -> Ticket:
        when = datetime.now(UTC) - timedelta(hours=hours_ago)
        t = Ticket(
            ticket_id,
            f"Ticket {ticket_id}",
            Person(1, "", email),
            status,
            created_at=when,
            updated_at=when,
        )
        self.tickets[ticket_id] = t
        return t

    def _comment(self, ticket_id: int, body: str, marker: str) -> None:
        t = self.tickets[ticket_id]
        text = f"{body}\n\n{DESKGUARD_MARKER} {marker}" if marker else body
        c = Comment(next(self._ids), 2, False, text, by_deskguard=True)
        self.tickets[ticket_id] = replace(t, comments=(*t.comments, c))

    def find_open_tickets(self, requester_email: str) -> list[Ticket]:
        """Zendesk search: with ``search_lags`` it does not see tickets created here yet (real
        search indexes new tickets after a delay)."""
        self.api_calls += 1
        return [
            t
            for t in self.tickets.values()
            if t.requester.email == requester_email
            and t.status in ("new", "open", "pending", "hold")
            and not (self.search_lags and t.id in self.external_ids.values())
        ]

    def find_tickets_by_external_id(self, external_id: str) -> list[int]:
        self.api_calls += 1
        return [tid for key, tid in self.external_ids.items() if key == external_id]

    def add_internal_note(self, ticket_id: int, body: str, *, marker: str, tags=(), priority=None):
        self.api_calls += 1
        self._comment(ticket_id, body, marker)
        t = self.tickets[ticket_id]
        self.tickets[ticket_id] = replace(
            t, tags=tuple(sorted({*t.tags, *tags})), priority=priority or t.priority
        )
        self.notes.append(
            {
                "ticket_id": ticket_id,
                "body": body,
                "marker": marker,
                "tags": tuple(tags),
                "priority": priority,
            }
        )
        if self.fail_after_write:
            raise RuntimeError("simulated crash after the note was written")
        return {"ticket_id": ticket_id}

    def create_ticket(
        self,
        *,
        subject,
        body,
        requester_email,
        priority="normal",
        tags=(),
        public=False,
        marker="",
        external_id="",
    ):
        self.api_calls += 1
        ticket_id = next(self._ids)
        self.external_ids[external_id or f"none-{ticket_id}"] = ticket_id
        self.tickets[ticket_id] = Ticket(
            ticket_id,
            subject,
            Person(None, "", requester_email),
            "new",
            tags=tuple(tags),
            priority=priority,
            created_at=datetime.now(UTC),
        )
        self._comment(ticket_id, body, marker)
        self.created.append(
            {
                "ticket_id": ticket_id,
                "subject": subject,
                "body": body,
                "requester": requester_email,
                "priority": priority,
                "tags": tuple(tags),
                "public": public,
                "marker": marker,
            }
        )
        if self.fail_after_write:
            raise RuntimeError("simulated crash after the ticket was created")
        return ticket_id

    def find_comment_with_marker(self, ticket_id: int, marker: str):
        self.api_calls += 1
        for c in self.tickets[ticket_id].comments:
            if f"{DESKGUARD_MARKER} {marker}" in c.body:
                return c
        return None
