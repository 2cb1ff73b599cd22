"""Test helpers for the side panel and dashboard: ledger rows shaped like the pipeline writes them,
the request headers the Zendesk app sends, and an in-memory Zendesk user directory (a fake of our
``AgentDirectory`` port) for unit tests; tests/test_panel_roles.py drives the real adapter against
the Zendesk sandbox."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from connector import audit
from connector.db import transaction
from connector.devkit.fakes import inject
from connector.domain import DeskUser, Entities, Reading, to_dict
from connector.errors import PermanentError, TransientError
from connector.panel.auth import issue_token
from connector.tenants import ensure_tenant

TENANT = "acme"  # the tenant of the shared `runtime` fixture (tests/conftest.py)


def reading(category: str = "order_status", confidence: float = 0.93, **kw: Any) -> Reading:
    defaults = dict(
        alternatives=((category, confidence), ("shipping_problem", 0.04), ("refund", 0.02)),
        sentiment="negative",
        sentiment_score=-0.4,
        urgency="high",
        language="en",
        entities=Entities(order_numbers=("#1001",)),
        reasons=("mentions order #1001", "asks where the parcel is"),
        engine="local",
        model="deskguard-local-v1",
    )
    defaults.update(kw)
    return Reading(category=category, confidence=confidence, **defaults)


def add_decision(
    db,
    tenant_id: str,
    ticket_id: int,
    *,
    category: str = "order_status",
    confidence: float = 0.93,
    outcome: str = "assist_note",
    mode: str = "assist",
    status: str = "done",
    cost_usd: float = 0.0,
    created_at: str | None = None,
    suggested_reply: str = "Hi Jane, your order #1001 shipped today.",
    subject: str = "Where is my order?",
    body: str = "Order #1001 has not arrived.",
    job_id: int | None = None,
    **reading_kw: Any,
) -> int:
    r = reading(category, confidence, **reading_kw)
    context = {
        "orders": [
            {
                "id": "gid://shopify/Order/1",
                "name": "#1001",
                "email": "jane@example.com",
                "financial_status": "PAID",
                "fulfillment_status": "FULFILLED",
                "total": {"amount": "49.90", "currency": "EUR"},
                "line_items": [{"title": "Linen shirt", "quantity": 1, "sku": "LS-1"}],
                "fulfillments": [
                    {
                        "status": "in_transit",
                        "tracking_company": "DHL",
                        "tracking_number": "JD0002",
                        "tracking_url": "https://track.example/JD0002",
                    }
                ],
            }
        ],
        "payments": {
            "customer_id": "cus_1",
            "email": "jane@example.com",
            "charges": [
                {
                    "id": "ch_1",
                    "amount": 4990,
                    "currency": "eur",
                    "status": "succeeded",
                    "amount_refunded": 0,
                    "disputed": False,
                }
            ],
            "refunds": [],
            "disputes": [],
        },
        "notes": [],
    }
    trace = [
        {"rule": "mode_assist", "verdict": "pass", "detail": "category in assist mode"},
        {"rule": "confidence", "verdict": "pass", "detail": f"{confidence:.2f} ≥ 0.80"},
    ]
    created_at = created_at or datetime.now(UTC).isoformat(timespec="microseconds")
    names = {r[1] for r in db.conn.execute("PRAGMA table_info(decisions)")}
    row = {
        "tenant_id": tenant_id,
        "ticket_id": ticket_id,
        "job_id": job_id,
        "created_at": created_at,
        "category": category,
        "confidence": confidence,
        "mode": mode,
        "outcome": outcome,
        "rule": "mode_assist",
        "reason": "assist mode: internal note with a suggested reply",
        "reading": audit.canonical_json(to_dict(r)),
        "policy_trace": json.dumps(trace),
        "context": json.dumps(context),
        "brief": "Deskguard decision brief",
        "suggested_reply": suggested_reply,
        "engine": r.engine,
        "model": r.model,
        "cost_usd": cost_usd,
        "latency_ms": 12.0,
        "status": status,
    }
    if "input_snapshot" in names:  # the pipeline's redacted input (migration m004)
        row["input_snapshot"] = json.dumps({"subject": subject, "body": body})
    with transaction(db):
        cur = db.conn.execute(
            f"INSERT INTO decisions ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
            tuple(row.values()),
        )
    return int(cur.lastrowid)


def tenant_with_token(db, tenant_id: str) -> str:
    ensure_tenant(db, tenant_id, source="test")
    return issue_token(db, tenant_id, label="test")[1]


def agent_headers(
    token: str | None,
    *,
    agent_id: str = "501",
    role: str = "agent",
    name: str = "Ana Agent",
    custom_role: str | None = None,
) -> dict[str, str]:
    headers = {
        "X-Deskguard-Agent-Id": agent_id,
        "X-Deskguard-Agent-Role": role,
        "X-Deskguard-Agent-Name": name,
    }
    if custom_role:
        headers["X-Deskguard-Agent-Custom-Role"] = custom_role
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return headers


class FakeZendeskUsers:
    """In-memory fake of ``connector.domain.AgentDirectory``: Zendesk's users by id, a call log,
    and a switch that makes Zendesk unreachable."""

    def __init__(self) -> None:
        self.users: dict[int, DeskUser] = {}
        self.calls: list[int] = []
        self.down = False

    def add(self, user_id: int, role: str = "agent", *, name: str = "", **fields: Any) -> DeskUser:
        user = DeskUser(id=user_id, role=role, name=name or f"User {user_id}", **fields)
        self.users[user_id] = user
        return user

    def get_user(self, user_id: int) -> DeskUser:
        self.calls.append(user_id)
        if self.down:
            raise TransientError("zendesk users.show: ConnectionError", vendor="zendesk")
        if user_id not in self.users:
            raise PermanentError(
                "zendesk users.show: HTTP 404 RecordNotFound", vendor="zendesk", status=404
            )
        return self.users[user_id]


def install_zendesk_users(runtime) -> FakeZendeskUsers:
    """Zendesk as the panel's role checks see it: 501 and 502 are agents, 42 and 900 admins."""
    fake = FakeZendeskUsers()
    fake.add(501, "agent", name="Ana Agent")
    fake.add(502, "agent", name="Bo Agent")
    fake.add(42, "admin", name="Ada Admin")
    fake.add(900, "admin", name="Ian Admin")
    inject(runtime, desk=fake)
    return fake
