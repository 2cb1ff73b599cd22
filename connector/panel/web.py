"""The side panel: the page Zendesk frames in the ticket sidebar, and its JSON API.

The page: the app's manifest sets ``signedUrls: true``, so Zendesk loads ``/panel/app`` with a POST
whose form field ``token`` is a JWT it signed for the signed-in agent (``launch.py`` checks it).
The answer is the panel page carrying a short-lived session for that agent (``sessions.py``) in a
``<meta name="deskguard-session">``; the page's script sends it back as ``X-Deskguard-Session``
on every API call, which go through the Zendesk proxy with the secure ``api_token`` setting (see
``connector/panel/auth.py`` for what each proves). A plain GET of the page (no signed token)
renders the same shell without a session: the panel can be read, nothing can be done from it.

API (JSON; 401 without a valid app token or with a session that does not verify; 404 for another
tenant's URL):

- ``GET  /panel/api/me``                                → tenant, the verified agent, kill switch
- ``GET  /panel/api/<tenant>/tickets/<id>``             → everything the panel shows
- ``GET  /panel/api/<tenant>/permissions``              → what the agent may do, per Zendesk's role
- ``POST /panel/api/<tenant>/tickets/<id>/feedback``    → ``{"verdict", "correct_category"}``
- ``POST /panel/api/<tenant>/approvals/<id>/approve|reject``  (approvers only)
- ``POST /panel/api/<tenant>/kill-switch``              → ``{"on": bool, "reason"}`` (admins only)

Reading (me, tickets) never calls Zendesk. Feedback needs a verified session. The permissions
endpoint and the two permissioned actions need one too and look the agent up in Zendesk
(``identity.py``, cached): 403 when Zendesk's role does not allow it, 503 when Zendesk cannot be
asked (fail closed).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, g, jsonify, render_template, request
from flask.blueprints import BlueprintSetupState

from connector import logs, tenants
from connector.commerce import approvals
from connector.domain import DeskUser, to_dict
from connector.errors import BadRequest, Forbidden, NotFound, Unauthorized
from connector.panel import auth, identity, launch, sessions
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
ROLE_CACHE = "deskguard_panel_role_cache"
PUBLIC_KEYS = "deskguard_panel_public_keys"


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
    """The shell without a session (opened outside Zendesk's signed launch): read-only."""
    return _render_panel(None)


@bp.post("/app")
def panel_launch():
    """Zendesk's signed launch: verify the ``token`` form field, then serve the page with a
    session for the agent it names (Part 5, "Retrieving the ZAF JWT in your server-side app":
    the token arrives in the form data of the first page request)."""
    runtime = get_runtime()
    verified = launch.verify_launch(runtime, public_keys(), request.form.get("token", ""))
    return _render_panel(verified)


def _render_panel(verified: sessions.PanelSession | None):
    runtime = get_runtime()
    config = runtime.config
    session = sessions.issue(config, verified) if verified is not None else ""
    shim = _demo_shim(verified)
    html = render_template(
        "panel/panel.html",
        demo=shim is not None,
        shim_config=shim,
        zaf_sdk_url=config.zaf_sdk_url,
        session=session,
    )
    resp = current_app.make_response(html)
    resp.headers["Content-Security-Policy"] = _csp(config, demo=shim is not None)
    resp.headers["Cache-Control"] = "no-store"  # the page carries the agent's session
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


def _demo_shim(verified: sessions.PanelSession | None) -> dict[str, Any] | None:
    """In demo mode only, a launch with ``?shim=1`` (the Zendesk emulator's launch page adds it)
    gets the stand-in ZAF client instead of Zendesk's SDK, so the panel runs in a plain browser.
    Its identity is still the signed launch's: the stand-in's ``currentUser`` is only shown."""
    runtime = get_runtime()
    if verified is None or not runtime.config.demo_mode or request.args.get("shim") != "1":
        return None
    try:
        ticket_id = int(request.args.get("ticket", ""))
    except ValueError:
        raise BadRequest("the demo launch needs ?ticket=N") from None
    tenant_id = verified.tenant_id
    return {
        "settings": {
            "sidecar_url": request.host_url.rstrip("/"),
            "kill_switch": tenants.kill_switch_on(runtime.db, tenant_id),
            "default_mode": "shadow",
            "auto_categories": "",
        },
        "secure": {"api_token": _demo_token(tenant_id)},
        "context": {
            "ticket.id": ticket_id,
            "currentUser": {"id": int(verified.agent_id), "name": verified.name},
        },
    }


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


def _read_session(tenant_id: str, token: str) -> sessions.PanelSession:
    runtime = get_runtime()
    return sessions.read(
        runtime.config, tenant_id, launch.installation_id(runtime, tenant_id), token
    )


def _agent(url_tenant: str | None) -> auth.Agent:
    return auth.panel_agent(request, get_runtime().db, url_tenant, _read_session)


def public_keys(app: Flask | None = None) -> launch.PublicKeys:
    """This app's cache of the tenants' app public keys (per process)."""
    return (app or current_app).extensions[PUBLIC_KEYS]


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
    return jsonify(ticket_view(get_runtime(), agent, ticket_id, names=_known_names(agent)))


def _known_names(agent: auth.Agent):
    """Names of agents this process already looked up in Zendesk (the role cache), so "approved
    by agent:42" reads as a name; reading the panel itself never asks Zendesk."""
    cache = role_cache()

    def name(actor: str) -> str | None:
        prefix, _, user_id = actor.partition(":")
        if prefix != "agent" or not (user_id.isascii() and user_id.isdecimal()):
            return None
        user = cache.get(agent.tenant_id, int(user_id))
        return user.name if isinstance(user, DeskUser) and user.name else None

    return name


@bp.get("/api/<tenant>/permissions")
def api_permissions(tenant: str):
    """What the agent may do, from the role Zendesk reports (403 refused user, 503 Zendesk down)."""
    agent = _agent(tenant)
    perms = identity.permissions(get_runtime(), role_cache(), agent)
    return jsonify({"tenant": agent.tenant_id, "agent": perms.as_dict()})


@bp.post("/api/<tenant>/tickets/<int:ticket_id>/feedback")
def api_feedback(tenant: str, ticket_id: int):
    agent = _agent(tenant)
    if not agent.verified:
        raise Unauthorized(
            "feedback is recorded under the agent Zendesk signed the panel's launch for: open the "
            "Deskguard app from a ticket in Zendesk"
        )
    runtime = get_runtime()
    if agent.id == str(identity.stored_api_user_id(runtime, agent.tenant_id)):
        raise Forbidden("Deskguard's own Zendesk user never gives feedback")
    saved = record_feedback(runtime.db, agent, ticket_id, _json_body())
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
    # The name stored with the decision: Zendesk's, just confirmed by the role check, else the
    # one the verified signed launch carried.
    result = decide(
        get_runtime(),
        agent.tenant_id,
        approval_id,
        actor=perms.actor,
        note=note,
        agent_name=perms.name or agent.name,
    )
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
def _caches(state: BlueprintSetupState) -> None:
    """One cache of agents' Zendesk roles and one of the apps' public keys per app, made when the
    blueprint is registered."""
    config = state.app.extensions["deskguard"].config
    state.app.extensions[ROLE_CACHE] = identity.RoleCache(config.app_role_cache_seconds)
    state.app.extensions[PUBLIC_KEYS] = launch.PublicKeys(config.app_public_key_cache_seconds)


__all__ = ["NotFound", "bp"]
