"""In-memory fakes of the ports the pipeline uses, and ``inject`` to hand them to a runtime.

For unit tests, property tests and benchmarks; integration tests drive the real SDKs against the
emulators in connector/devkit/sandbox.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from connector.domain import (
    DESKGUARD_MARKER,
    Comment,
    CustomerSummary,
    Entities,
    Fulfillment,
    Money,
    Order,
    PaymentContext,
    Person,
    Reading,
    Ticket,
    TicketText,
)

if TYPE_CHECKING:
    from connector.runtime import Runtime

SERVICE_NAMES = ("desk", "orders", "payments", "classifier")


def inject(runtime: Runtime, **fakes: Any) -> Runtime:
    """Use these clients instead of the real ones for every tenant of ``runtime``.

    Names are the keyword arguments of ``connector.services.build_services``: ``desk``, ``orders``,
    ``payments``, ``classifier``. ``None`` puts the real client back. Cached services are dropped
    so the next call sees the change.
    """
    unknown = set(fakes) - set(SERVICE_NAMES)
    if unknown:
        raise TypeError(f"unknown service {sorted(unknown)}; use one of {SERVICE_NAMES}")
    for name, fake in fakes.items():
        if fake is None:
            runtime.fakes.pop(name, None)
        else:
            runtime.fakes[name] = fake
    runtime.forget_services()
    return runtime


class FakeDesk:
    """A TicketDesk keeping tickets in memory; records every write in ``writes``."""

    def __init__(
        self, tickets: list[Ticket] | None = None, *, app_settings: dict[str, Any] | None = None
    ):
        self.tickets: dict[int, Ticket] = {t.id: t for t in tickets or ()}
        self.writes: list[tuple[str, int, dict[str, Any]]] = []
        self.app_settings: dict[str, Any] = dict(app_settings or {})
        self.api_calls = 0
        self._ids = itertools.count(10_000)
        self._lock = threading.Lock()
        self.fail_next: Exception | None = None

    # --- helpers for tests -------------------------------------------------------------
    def add_ticket(
        self,
        ticket_id: int,
        body: str,
        *,
        subject: str = "Help",
        email: str = "jane@example.com",
        tags: tuple[str, ...] = (),
        status: str = "open",
    ) -> Ticket:
        comment = Comment(
            id=next(self._ids), author_id=500, public=True, body=body, created_at=datetime.now(UTC)
        )
        ticket = Ticket(
            id=ticket_id,
            subject=subject,
            requester=Person(500, "Jane", email),
            status=status,
            tags=tags,
            comments=(comment,),
            created_at=datetime.now(UTC),
            updated_at=datetime.now(UTC),
        )
        self.tickets[ticket_id] = ticket
        return ticket

    @staticmethod
    def marker_line(key: str) -> str:
        """The adapter's convention (DESKGUARD_MARKER in connector/domain.py): ``marker=`` is the
        bare idempotency key and the desk appends ``DESKGUARD_MARKER key``; a full line is
        refused."""
        key = (key or "").strip()
        if not key or key.startswith(DESKGUARD_MARKER) or "\n" in key:
            raise ValueError(f"marker must be the bare idempotency key, got {key!r}")
        return f"{DESKGUARD_MARKER} {key}"

    def _append(
        self, ticket_id: int, body: str, public: bool, marker: str, **changes: Any
    ) -> Comment:
        line = self.marker_line(marker)
        with self._lock:
            if self.fail_next is not None:
                exc, self.fail_next = self.fail_next, None
                raise exc
            t = self.tickets[ticket_id]
            comment = Comment(
                id=next(self._ids),
                author_id=1,
                public=public,
                body=f"{body.rstrip()}\n\n{line}",
                created_at=datetime.now(UTC),
                by_deskguard=True,
            )
            tags = tuple(dict.fromkeys((*t.tags, *changes.pop("tags", ()))))
            self.tickets[ticket_id] = replace(
                t,
                comments=(*t.comments, comment),
                tags=tags,
                updated_at=datetime.now(UTC),
                **changes,
            )
            return comment

    # --- TicketDesk --------------------------------------------------------------------
    def get_ticket(self, ticket_id: int, *, full: bool = False) -> Ticket:
        self.api_calls += 1
        return self.tickets[ticket_id]

    def get_tickets(self, ids) -> list[Ticket]:
        """Like the adapter's show_many read: one call for up to 100 tickets, missing ids left
        out."""
        ids = list(dict.fromkeys(int(i) for i in ids))
        self.api_calls += (len(ids) + 99) // 100
        return [self.tickets[i] for i in ids if i in self.tickets]

    def add_internal_note(self, ticket_id, body, *, marker, tags=(), priority=None):
        self.api_calls += 1
        changes: dict[str, Any] = {"tags": tags}
        if priority:
            changes["priority"] = priority
        c = self._append(ticket_id, body, False, marker, **changes)
        self.writes.append(
            ("internal_note", ticket_id, {"body": body, "tags": tags, "priority": priority})
        )
        return {"comment_id": c.id}

    def public_reply(self, ticket_id, body, *, marker, solve=True, tags=()):
        self.api_calls += 1
        changes: dict[str, Any] = {"tags": tags}
        if solve:
            changes["status"] = "solved"
        c = self._append(ticket_id, body, True, marker, **changes)
        self.writes.append(
            ("public_reply", ticket_id, {"body": body, "tags": tags, "solve": solve})
        )
        return {"comment_id": c.id, "status": "solved" if solve else None}

    def add_tags(self, ticket_id, tags):
        self.api_calls += 1
        with self._lock:
            t = self.tickets[ticket_id]
            self.tickets[ticket_id] = replace(t, tags=tuple(dict.fromkeys((*t.tags, *tags))))
        self.writes.append(("tags", ticket_id, {"tags": tags}))
        return list(self.tickets[ticket_id].tags)

    def set_custom_fields(self, ticket_id, fields):
        self.writes.append(("custom_fields", ticket_id, {"fields": fields}))

    def find_comment_with_marker(self, ticket_id, marker):
        line = self.marker_line(marker)
        self.api_calls += 1
        for c in self.tickets[ticket_id].comments:
            lines = [x.strip() for x in c.body.splitlines() if x.strip()]
            if (
                lines and lines[-1] == line
            ):  # the last line, exactly: key "k:1" must not match "k:10"
                return c
        return None

    def find_open_tickets(self, requester_email):
        return [
            t
            for t in self.tickets.values()
            if t.requester.email == requester_email and t.status not in ("solved", "closed")
        ]

    def create_ticket(self, **kwargs):  # pragma: no cover - the pipeline never creates tickets
        raise NotImplementedError

    def find_tickets_by_external_id(self, external_id):  # pragma: no cover - as create_ticket
        raise NotImplementedError

    def app_installation_settings(self, app_id=None):
        self.api_calls += 1
        return dict(self.app_settings)

    def export_tickets(self, start_time):
        """Batches of tickets updated at or after ``start_time`` (unix seconds)."""
        tickets = sorted(self.tickets.values(), key=lambda t: t.id)
        chosen = [
            t for t in tickets if t.updated_at is None or t.updated_at.timestamp() >= start_time
        ]
        for i in range(0, len(chosen), 100):
            yield chosen[i : i + 100]


class FakeClassifier:
    """Returns a fixed reading per category keyword, or the ``default`` reading."""

    def __init__(self, default: Reading | None = None, **overrides: Any):
        self.default = default or make_reading(**overrides)
        self.seen: list[TicketText] = []

    def classify(self, text: TicketText) -> Reading:
        self.seen.append(text)
        return self.default


def make_reading(category: str = "order_status", confidence: float = 0.97, **kw: Any) -> Reading:
    fields: dict[str, Any] = {
        "alternatives": ((category, confidence), ("other", round(1 - confidence, 3))),
        "sentiment": "neutral",
        "sentiment_score": 0.0,
        "urgency": "normal",
        "language": "en",
        "entities": Entities(),
        "reasons": (f"mentions {category.replace('_', ' ')}",),
        "engine": "local",
        "model": "fake",
    }
    fields.update(kw)
    return Reading(category=category, confidence=confidence, **fields)


def make_order(
    email: str = "jane@example.com",
    name: str = "#1001",
    *,
    spend: str = "120.00",
    tags: tuple[str, ...] = (),
    tracking: bool = True,
) -> Order:
    """A paid, shipped order (with DHL tracking unless ``tracking=False``)."""
    fulfillments = (
        (
            Fulfillment(
                status="IN_TRANSIT",
                tracking_company="DHL",
                tracking_number=f"JD{name[1:]}",
                tracking_url=f"https://track.example/JD{name[1:]}",
            ),
        )
        if tracking
        else ()
    )
    return Order(
        id=f"gid://shopify/Order/{name[1:]}",
        name=name,
        email=email,
        created_at=None,
        financial_status="PAID",
        fulfillment_status="FULFILLED" if tracking else "UNFULFILLED",
        total=Money("49.90", "EUR"),
        fulfillments=fulfillments,
        customer=CustomerSummary(
            email=email, order_count=2, lifetime_spend=Money(spend, "EUR"), tags=tags
        ),
    )


class FakeOrders:
    def __init__(self, orders: list[Order] | None = None, error: Exception | None = None):
        self.orders = list(orders or ())
        self.error = error

    def find_orders(self, *, email=None, order_name=None):
        if self.error:
            raise self.error
        return [
            o
            for o in self.orders
            if (email is None or o.email.lower() == email.lower())
            and (order_name is None or o.name == order_name)
        ]


class FakePayments:
    def __init__(self, context: PaymentContext | None = None, error: Exception | None = None):
        self.context = context
        self.error = error

    def payment_context(self, email):
        if self.error:
            raise self.error
        return self.context or PaymentContext(customer_id=None, email=email)
