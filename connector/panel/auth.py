"""Who is calling: per-tenant app tokens, the agent behind a side-panel call, admin sessions.

Side panel (the choice, and its trade-off, is documented in docs/panel-and-dashboard.md, "How the
panel authenticates"): two things travel with every panel API call.

- The per-tenant app token, kept in the app's **secure** installation setting ``api_token``. The
  panel's JavaScript never sees it: it calls ``client.request({secure: true, headers:
  {Authorization: 'Bearer {{setting.api_token}}'}})`` and the Zendesk proxy substitutes the value
  (docs/vendors/zendesk.md, ZAF). It proves the call came through *this tenant's* app
  installation and decides the tenant; a URL naming another tenant answers 404, exactly like a
  ticket that does not exist.
- The agent's session (``X-Deskguard-Session``, ``sessions.py``), issued when Zendesk's signed
  launch of the panel page verified (``launch.py``). It is the only source of the agent's id: the
  ``X-Deskguard-Agent-*`` headers older app versions send are ignored. A call without a session
  can read the panel but not act, give feedback or be attributed.

Admin dashboard: ``DESKGUARD_ADMIN_TOKEN`` as a bearer token (API) or through a login form that
sets an HttpOnly, SameSite=Strict cookie signed with a key derived from that token (so changing
the token logs every session out).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import sqlite_utils
from flask import Request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from connector import audit
from connector.audit import now_iso
from connector.db import transaction
from connector.errors import NotFound, Unauthorized
from connector.panel.events import AppTokenIssued, AppTokenRevoked
from connector.panel.sessions import HEADER as SESSION_HEADER
from connector.panel.sessions import PanelSession

TOKEN_PREFIX = "dgapp_"
ADMIN_COOKIE = "deskguard_admin"


# --- app tokens ------------------------------------------------------------------------------
def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(db: sqlite_utils.Database, tenant_id: str, *, label: str = "") -> tuple[int, str]:
    """Create a token for ``tenant_id``; returns (id, plaintext). The plaintext is shown once."""
    exists = db.conn.execute("SELECT 1 FROM tenants WHERE id = ?", (tenant_id,)).fetchone()
    if not exists:
        raise NotFound(f"unknown tenant {tenant_id!r}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    prefix = token[: len(TOKEN_PREFIX) + 6]
    with transaction(db):
        token_id = int(
            db.conn.execute(
                "INSERT INTO app_tokens (tenant_id, token_sha256, prefix, label, created_at)"
                " VALUES (?,?,?,?,?) RETURNING id",
                (tenant_id, _digest(token), prefix, label, now_iso()),
            ).fetchone()[0]
        )
        audit.record(db, tenant_id, AppTokenIssued(token_id=token_id, prefix=prefix, label=label))
    return token_id, token


def revoke_token(db: sqlite_utils.Database, tenant_id: str, token_id: int) -> bool:
    with transaction(db):
        row = db.conn.execute(
            "SELECT prefix FROM app_tokens WHERE id = ? AND tenant_id = ? AND revoked_at IS NULL",
            (token_id, tenant_id),
        ).fetchone()
        if row is None:
            return False
        db.conn.execute("UPDATE app_tokens SET revoked_at = ? WHERE id = ?", (now_iso(), token_id))
        audit.record(db, tenant_id, AppTokenRevoked(token_id=token_id, prefix=row[0]))
    return True


def list_tokens(db: sqlite_utils.Database, tenant_id: str) -> list[dict]:
    cols = ("id", "prefix", "label", "created_at", "last_used_at", "revoked_at")
    return [
        dict(zip(cols, r, strict=True))
        for r in db.conn.execute(
            f"SELECT {', '.join(cols)} FROM app_tokens WHERE tenant_id = ? ORDER BY id",
            (tenant_id,),
        )
    ]


def tenant_for_token(db: sqlite_utils.Database, token: str) -> str | None:
    """The tenant a live token belongs to, else None. The lookup is by SHA-256, so the stored
    value never meets the presented one in a byte-by-byte comparison."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = db.conn.execute(
        "SELECT t.id, t.tenant_id, t.last_used_at"
        " FROM app_tokens t JOIN tenants n ON n.id = t.tenant_id"
        " WHERE t.token_sha256 = ? AND t.revoked_at IS NULL AND n.active = 1",
        (_digest(token),),
    ).fetchone()
    if row is None:
        return None
    token_id, tenant, last_used = row
    now = now_iso()
    if last_used is None or last_used[:16] != now[:16]:
        # Written at most once a minute per token, so a panel read rarely takes the write lock.
        with transaction(db):
            db.conn.execute("UPDATE app_tokens SET last_used_at = ? WHERE id = ?", (now, token_id))
    return tenant


def bearer(request: Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


# --- the agent behind a panel call -----------------------------------------------------------
@dataclass(frozen=True)
class Agent:
    """Who is calling: the tenant (proved by the app token) and, when the call carries a valid
    session, the agent Zendesk's signed launch named (``verified``). Without a session the id is
    empty. Permissions are never read from here (see identity.py)."""

    tenant_id: str
    id: str = ""
    name: str = ""
    installation_id: str = ""
    verified: bool = False
    claimed_role: str = ""  # kept for the audit event's shape; nothing sets it any more

    @property
    def actor(self) -> str:
        return f"agent:{self.id or 'unknown'}"

    def as_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "verified": self.verified}


def panel_agent(
    request: Request,
    db: sqlite_utils.Database,
    url_tenant: str | None,
    session_reader: Callable[[str, str], PanelSession] | None = None,
) -> Agent:
    """Authenticate a side-panel API call; raises Unauthorized (401) or NotFound (404).

    ``session_reader(tenant, token)`` checks an ``X-Deskguard-Session`` value for the token's
    tenant (``web.py`` binds it to the tenant's installation); a session that does not verify is
    401, never a silent downgrade to an anonymous caller."""
    token = bearer(request)
    tenant = tenant_for_token(db, token) if token else None
    if tenant is None:
        raise Unauthorized("a valid app token is required (Authorization: Bearer <api_token>)")
    if url_tenant is not None and url_tenant != tenant:
        # Same answer as an unknown ticket: a token never learns whether another tenant exists.
        raise NotFound("not found")
    session_token = request.headers.get(SESSION_HEADER, "").strip()
    if not session_token or session_reader is None:
        return Agent(tenant)
    session = session_reader(tenant, session_token)
    return Agent(
        tenant,
        session.agent_id,
        name=session.name,
        installation_id=session.installation_id,
        verified=True,
    )


# --- admin -----------------------------------------------------------------------------------


def _session_serializer(config) -> URLSafeTimedSerializer:
    # Keyed by the admin token itself: rotating the token invalidates every cookie.
    key = hashlib.sha256(b"deskguard-admin-session:" + str(config.admin_token).encode()).hexdigest()
    return URLSafeTimedSerializer(key, salt="deskguard-admin")


def make_admin_session(config) -> str:
    return _session_serializer(config).dumps({"admin": True, "csrf": secrets.token_urlsafe(16)})


def read_admin_session(config, cookie: str | None) -> dict | None:
    if not config.admin_token or not cookie:
        return None
    try:
        data = _session_serializer(config).loads(
            cookie, max_age=int(config.admin_session_hours * 3600)
        )
    except (BadSignature, SignatureExpired):
        return None
    return data if isinstance(data, dict) and data.get("admin") else None
