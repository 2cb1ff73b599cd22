"""The side panel: the page Zendesk frames in the ticket sidebar, and its JSON API.

The page itself is a static shell (no ticket data, no auth): Zendesk loads it into the iframe
without any credentials. Its script asks the Zendesk Apps Framework for the ticket id and the
signed-in agent, then calls the API below through the Zendesk proxy with the secure
``api_token`` setting (see ``connector/panel/auth.py`` for what that proves).

API (JSON; 401 without a valid token; 404 for another tenant's URL):

- ``GET  /panel/api/me``                                → tenant, the agent as claimed, kill switch
- ``GET  /panel/api/<tenant>/tickets/<id>``             → everything the panel shows
- ``GET  /panel/api/<tenant>/permissions``              → what the agent may do, per Zendesk's role
- ``POST /panel/api/<tenant>/tickets/<id>/feedback``    → ``{"verdict", "correct_category"}``
- ``POST /panel/api/<tenant>/approvals/<id>/approve|reject``  (approvers only)
- ``POST /panel/api/<tenant>/kill-switch``              → ``{"on": bool, "reason"}`` (admins only)

Reading (me, tickets, feedback) never calls Zendesk. The permissions endpoint and the two
permissioned actions look the agent up in Zendesk (``identity.py``, cached): 403 when Zendesk's
role does not allow it, 503 when Zendesk cannot be asked (fail closed).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, current_app, g, jsonify, render_template, request
from flask.blueprints import BlueprintSetupState

from connector import logs, tenants
from connector.commerce import approvals
from connector.domain import to_dict
from connector.errors import BadRequest, DeskguardError, NotFound
from connector.panel import auth, identity
from connector.panel.ticket_view import record_feedback, ticket_view
from connector.pipeline import killswitch
from connector.web_context import get_runtime

LOG = logs.get("panel")
bp = Blueprint(
    "panel",
    __name__,
    url_prefix="/panel",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
DEMO_AGENT = {"id": "demo-agent", "name": "Demo Agent"}
ROLE_CACHE = "deskguard_panel_role_cache"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def _csp(config, *, demo: bool) -> str:
    scripts = "'self'" if demo else f"'self' {_origin(config.zaf_sdk_url)}".strip()
    ancestors = "'self'" if demo else (config.app_frame_ancestors or "'none'")
    return (
        "default-src 'none'; "
        f"script-src {scripts}; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; "
        f"frame-ancestors {ancestors}"
    )


# --- the page --------------------------------------------------------------------------------
@bp.get("/app")
def panel_page():
    config = get_runtime().config
    resp = current_app.make_response(
        render_template("panel/panel.html", demo=False, zaf_sdk_url=config.zaf_sdk_url)
    )
    resp.headers["Content-Security-Policy"] = _csp(config, demo=False)
    return resp


_demo_lock = threading.Lock()


def _demo_token(tenant_id: str) -> str:
    """One demo token per tenant per process, kept only in memory (the ledger stores its hash)."""
    runtime = get_runtime()
    cache = current_app.extensions.setdefault("deskguard_panel_demo_tokens", {})
    with _demo_lock:
        if tenant_id not in cache:
            cache[tenant_id] = auth.issue_token(runtime.db, tenant_id, label="demo")[1]
        return cache[tenant_id]


def _demo_user(runtime, tenant_id: str, role: str) -> dict[str, Any]:
    """The ZAF ``currentUser`` of the demo page. The demo gets no shortcut around the role check:
    its admin is a real user of the tenant's Zendesk (Deskguard's own API user, an admin in the
    demo's sandbox), looked up like anyone else's; the agent view (and a demo without Zendesk)
    uses an id Zendesk does not know, so approving and the kill switch are refused."""
    if role == "admin":
        try:
            user_id = runtime.services(tenant_id).require_desk().api_user_id
            return {"id": int(user_id), "name": "Demo Admin", "role": "admin"}
        except DeskguardError as exc:
            logs.log(
                LOG,
                logging.INFO,
                "panel.demo_without_zendesk_admin",
                tenant=tenant_id,
                error=exc.code,
            )
    return {**DEMO_AGENT, "role": role}


@bp.get("/demo")
def panel_demo():
    """The side panel in an ordinary browser, with the ZAF stand-in; only in demo mode."""
    runtime = get_runtime()
    if not runtime.config.demo_mode:
        abort(404)
    tenant_id = request.args.get("tenant") or ""
    try:
        ticket_id = int(request.args.get("ticket", ""))
    except ValueError:
        raise BadRequest("ticket must be a number: /panel/demo?tenant=T&ticket=N") from None
    tenants.get_tenant(runtime.db, tenant_id)  # 404 for an unknown tenant
    role = request.args.get("role", "admin")
    if role not in ("admin", "agent"):
        raise BadRequest("role must be admin or agent")
    shim_config = {
        "settings": {
            "sidecar_url": request.host_url.rstrip("/"),
            "kill_switch": tenants.kill_switch_on(runtime.db, tenant_id),
            "default_mode": "shadow",
            "auto_categories": "",
        },
        "secure": {"api_token": _demo_token(tenant_id)},
        "context": {"ticket.id": ticket_id, "currentUser": _demo_user(runtime, tenant_id, role)},
    }
    resp = current_app.make_response(
        render_template("panel/panel.html", demo=True, shim_config=shim_config)
    )
    resp.headers["Content-Security-Policy"] = _csp(runtime.config, demo=True)
    resp.headers["Cache-Control"] = "no-store"
    return resp


# --- the API ---------------------------------------------------------------------------------
@bp.before_request
def _start_timer():
    g.panel_started = time.perf_counter()


@bp.after_request
def _server_timing(resp):
    started = getattr(g, "panel_started", None)
    if started is not None and request.path.startswith("/panel/api/"):
        elapsed_ms = (time.perf_counter() - started) * 1000
        resp.headers["Server-Timing"] = f"app;dur={elapsed_ms:.1f}"
        resp.headers["Cache-Control"] = "no-store"
    return resp


def _agent(url_tenant: str | None) -> auth.Agent:
    return auth.panel_agent(request, get_runtime().db, url_tenant)


def role_cache(app: Flask | None = None) -> identity.RoleCache:
    """This app's cache of Zendesk role lookups (per process)."""
    return (app or current_app).extensions[ROLE_CACHE]


def _permissions(agent: auth.Agent, action: str) -> identity.Permissions:
    return identity.require(get_runtime(), role_cache(), agent, action)


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("expected a JSON object body")
    return body


@bp.get("/api/me")
def api_me():
    agent = _agent(None)
    db = get_runtime().db
    return jsonify(
        {
            "tenant": agent.tenant_id,
            "agent": agent.as_dict(),
            "kill_switch": tenants.kill_switch_on(db, agent.tenant_id),
        }
    )


@bp.get("/api/<tenant>/tickets/<int:ticket_id>")
def api_ticket(tenant: str, ticket_id: int):
    agent = _agent(tenant)
    return jsonify(ticket_view(get_runtime(), agent, ticket_id))


@bp.get("/api/<tenant>/permissions")
def api_permissions(tenant: str):
    """What the agent may do, from the role Zendesk reports (403 refused user, 503 Zendesk down)."""
    agent = _agent(tenant)
    perms = identity.permissions(get_runtime(), role_cache(), agent)
    return jsonify({"tenant": agent.tenant_id, "agent": perms.as_dict()})


@bp.post("/api/<tenant>/tickets/<int:ticket_id>/feedback")
def api_feedback(tenant: str, ticket_id: int):
    agent = _agent(tenant)
    if not agent.id:
        raise BadRequest(
            "the agent id header (X-Deskguard-Agent-Id) is required to record feedback"
        )
    saved = record_feedback(get_runtime().db, agent, ticket_id, _json_body())
    logs.log(
        LOG,
        logging.INFO,
        "panel.feedback",
        tenant=agent.tenant_id,
        ticket_id=ticket_id,
        verdict=saved["verdict"],
    )
    return jsonify(saved), 201


@bp.post("/api/<tenant>/approvals/<int:approval_id>/<any(approve, reject):choice>")
def api_approval(tenant: str, approval_id: int, choice: str):
    agent = _agent(tenant)
    perms = _permissions(agent, "approve")
    body = request.get_json(silent=True) or {}
    note = str(body.get("note", ""))[:500] if isinstance(body, dict) else ""
    decide = approvals.approve if choice == "approve" else approvals.reject
    result = decide(get_runtime(), agent.tenant_id, approval_id, actor=perms.actor, note=note)
    body_out = to_dict(result) if result is not None else {}
    return jsonify({"id": approval_id, "decision": choice, "result": body_out})


@bp.post("/api/<tenant>/kill-switch")
def api_kill_switch(tenant: str):
    agent = _agent(tenant)
    body = _json_body()
    if not isinstance(body.get("on"), bool):
        raise BadRequest('expected {"on": true|false, "reason": "..."}')
    reason = str(body.get("reason") or "flipped from the side panel")[:500]
    perms = _permissions(agent, "kill_switch")
    runtime = get_runtime()
    killswitch.set_switch(runtime.db, agent.tenant_id, body["on"], actor=perms.actor, reason=reason)
    logs.log(
        LOG,
        logging.WARNING,
        "panel.kill_switch",
        tenant=agent.tenant_id,
        on=body["on"],
        actor=perms.actor,
    )
    return jsonify({"kill_switch": tenants.kill_switch_on(runtime.db, agent.tenant_id)})


@bp.record_once
def _role_cache(state: BlueprintSetupState) -> None:
    """One cache of agents' Zendesk roles per app, made when the blueprint is registered."""
    state.app.extensions[ROLE_CACHE] = identity.RoleCache(
        state.app.extensions["deskguard"].config.app_role_cache_seconds
    )


__all__ = ["NotFound", "bp"]
