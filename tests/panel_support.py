"""Test helpers for the side panel and dashboard: ledger rows shaped like the pipeline writes them,
the request headers the Zendesk app sends, side-panel sessions (minted directly for unit tests, or
through the Zendesk emulator's signed launch), and an in-memory Zendesk user directory (a fake of
our ``AgentDirectory`` port) for unit tests; tests/test_panel_roles.py drives the real adapter
against the Zendesk sandbox."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from connector import audit
from connector.db import table_columns, transaction
from connector.devkit.fakes import inject
from connector.domain import DeskUser, Entities, Reading, to_dict
from connector.errors import PermanentError, TransientError
from connector.panel import sessions
from connector.panel.auth import issue_token
from connector.tenants import ensure_tenant, get_setting, set_setting

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
    names = table_columns(db, "decisions")
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
        new_id = db.conn.execute(
            f"INSERT INTO decisions ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})"
            " RETURNING id",
            tuple(row.values()),
        ).fetchone()[0]
    return int(new_id)


def tenant_with_token(db, tenant_id: str) -> str:
    ensure_tenant(db, tenant_id, source="test")
    return issue_token(db, tenant_id, label="test")[1]


UNIT_INSTALLATION = "777001"  # the app installation of unit tests without the Zendesk emulator


def panel_session(runtime, agent_id: str, *, tenant: str = TENANT, name: str = "") -> str:
    """A side-panel session for ``agent_id`` as a verified signed launch issues it (unit tests;
    the launch itself is tested against the emulator). Gives the tenant an app installation id
    when it has none."""
    installation = get_setting(runtime.db, tenant, "app_installation_id", None)
    if not installation:
        installation = UNIT_INSTALLATION
        set_setting(runtime.db, tenant, "app_installation_id", installation, actor="test")
    return sessions.issue(
        runtime.config, sessions.PanelSession(tenant, str(installation), agent_id, name)
    )


def agent_headers(
    token: str | None,
    *,
    agent_id: str = "501",
    role: str = "agent",
    name: str = "Ana Agent",
    custom_role: str | None = None,
    runtime=None,
    session: str | None = None,
) -> dict[str, str]:
    """Headers of a panel API call. The ``X-Deskguard-Agent-*`` headers are what the browser
    claims (older app versions sent them; the sidecar ignores them). The agent is the one of the
    session: ``session``, or one minted for ``agent_id`` when ``runtime`` is given."""
    headers = {
        "X-Deskguard-Agent-Id": agent_id,
        "X-Deskguard-Agent-Role": role,
        "X-Deskguard-Agent-Name": name,
    }
    if custom_role:
        headers["X-Deskguard-Agent-Custom-Role"] = custom_role
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if session is None and runtime is not None and agent_id.isdigit():
        session = panel_session(runtime, agent_id)
    if session:
        headers[sessions.HEADER] = session
    return headers


SESSION_META = re.compile(r'<meta name="deskguard-session" content="([^"]*)">')


def session_from_page(html: str) -> str:
    """The session the panel page carries ('' when it carries none)."""
    found = SESSION_META.search(html)
    assert found is not None, "the panel page has no session meta tag"
    return found.group(1)


def signed_launch(client, sandbox, installation_id: int, user_id: int, **claims):
    """Open the panel as Zendesk does: the emulator signs a launch for ``user_id`` and the form
    is POSTed to /panel/app. Returns the response."""
    from connector.devkit.sandbox.zendesk.app_signing import launch_token

    token = launch_token(sandbox.state, installation_id, user_id, **claims)
    return client.post("/panel/app?origin=x&app_guid=y", data={"token": token})


def launch_session(client, sandbox, installation_id: int, user_id: int) -> str:
    resp = signed_launch(client, sandbox, installation_id, user_id)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    return session_from_page(resp.get_data(as_text=True))


def install_app_for(runtime, sandbox, sidecar_url: str = "http://127.0.0.1:1", tenant=TENANT):
    """Install the Deskguard app in the emulator and tell the sidecar its ids (the settings an
    admin copies from Zendesk). Returns the installation."""
    inst = sandbox.state.install_app({"sidecar_url": sidecar_url})
    set_setting(runtime.db, tenant, "app_id", str(inst["app_id"]), actor="test")
    set_setting(runtime.db, tenant, "app_installation_id", str(inst["id"]), actor="test")
    return inst


class FakeZendeskUsers:
    """In-memory fake of ``connector.domain.AgentDirectory``: Zendesk's users by id, a call log,
    and a switch that makes Zendesk unreachable."""

    api_user_id = 10  # Deskguard's own Zendesk user (users/me of the tenant's credentials)

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
    """Zendesk as the panel's role checks see it: 501 and 502 are agents, 42 and 900 admins, 10
    Deskguard's own API user (an admin)."""
    fake = FakeZendeskUsers()
    fake.add(10, "admin", name="Deskguard Bot")
    fake.add(501, "agent", name="Ana Agent")
    fake.add(502, "agent", name="Bo Agent")
    fake.add(42, "admin", name="Ada Admin")
    fake.add(900, "admin", name="Ian Admin")
    inject(runtime, desk=fake)
    return fake
