"""Helpers for the admin console tests: a sidecar against the Zendesk sandbox with an OAuth
client that may redirect to the console's sign-in callback, a human admin in the sandbox, and
shadow-mode history with agent feedback (what the go-live gate reads)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import requests
from panel_support import TENANT, add_decision
from zendesk_support import make_runtime, zendesk_config

from connector import tenants
from connector.audit import now_iso
from connector.db import transaction

PUBLIC_URL = "http://sidecar.test"
CALLBACK = "/admin/login/zendesk/callback"


def console_runtime(config: dict, sandbox, public_url: str = PUBLIC_URL):
    """The env tenant on the sandbox (shadow by default); the sandbox's OAuth client accepts the
    console's callback on ``public_url``."""
    rt = make_runtime(zendesk_config(config, sandbox, public_url=public_url))
    tenants.set_setting(rt.db, TENANT, "default_mode", "shadow", actor="test")
    sandbox.state.oauth_client.redirect_uris.append(public_url + CALLBACK)
    return rt


def add_person(sandbox, name: str = "Ada Admin", role: str = "admin") -> dict:
    email = name.lower().replace(" ", ".") + "@shop.example"
    return sandbox.state.add_user(name, email, role=role)


def sign_in_with_zendesk(client, sandbox, user_id: int, *, decision: str = "allow"):
    """The flow a browser makes, with a Flask test client for the sidecar and HTTP for the
    sandbox: start, Zendesk's authorization page (Allow), the callback."""
    sandbox.state.browser_user_id = user_id
    started = client.get("/admin/login/zendesk")
    assert started.status_code == 302, started.get_data(as_text=True)
    params = dict(parse_qsl(urlsplit(started.headers["Location"]).query))
    answer = requests.post(
        sandbox.url + "/oauth/authorizations",
        data={**params, "decision": decision},
        allow_redirects=False,
        timeout=10,
    )
    back = urlsplit(answer.headers["Location"])
    return client.get(f"{back.path}?{back.query}")


def shadow_history(db, category: str = "order_status", *, agreed: int, wrong: int = 0) -> None:
    """Shadow readings with agent feedback: ``agreed`` right, ``wrong`` wrong."""
    start = 50_000 + db.conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0]
    for i in range(agreed + wrong):
        ticket = start + i
        decision = add_decision(
            db, TENANT, ticket, category=category, mode="shadow", outcome="shadow", confidence=0.97
        )
        with transaction(db):
            db.conn.execute(
                "INSERT INTO feedback (tenant_id, ticket_id, decision_id, agent_id, verdict,"
                " correct_category, source, created_at) VALUES (?,?,?,?,?,?,'panel',?)",
                (
                    TENANT,
                    ticket,
                    decision,
                    "7",
                    "right" if i < agreed else "wrong",
                    None if i < agreed else "other",
                    now_iso(),
                ),
            )
