"""Connect a Zendesk account in the browser (the marketplace path): the OAuth authorization-code
flow with PKCE, then the webhook and trigger; and disconnect.

``GET /connect/zendesk?subdomain=S[&tenant=T]`` (admin only: the admin bearer token, or the
dashboard session, which lives under /admin, hence the same view at ``/admin/connect/zendesk``)
sends the browser to ``https://S.zendesk.com/oauth/authorizations/new`` (base URL from
DESKGUARD_ZENDESK_OAUTH_URL_TEMPLATE) with ``response_type=code``, our ``redirect_uri``, the
scopes, a random ``state`` and the S256 ``code_challenge`` ("Using PKCE to make Zendesk OAuth
access tokens more secure", https://developer.zendesk.com/documentation/ticketing/
working-with-oauth/oauth-pkce/). The state, the code verifier, the subdomain, the tenant and who
started it travel in a cookie encrypted with the ledger's Fernet key (HttpOnly, SameSite=Lax so
it comes back on Zendesk's top-level redirect, 10 minutes, path of the callback only): the state
is bound to the browser that started the flow.

``GET /connect/zendesk/callback`` refuses a missing or different state, an expired cookie or
Zendesk's ``error``; exchanges the code with the verifier (Zendesk checks it), stores the token
pair encrypted for a new or existing tenant, creates the webhook and trigger idempotently
(``setup.py``), audits who connected it (the admin side and the Zendesk user who clicked
Allow) and shows the result. ``POST /connect/zendesk/disconnect?tenant=T`` (admin bearer token)
deletes our trigger and webhook, revokes the token at Zendesk and forgets it.
"""

from __future__ import annotations

import re
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from flask import Blueprint, Response, g, jsonify, redirect, request
from werkzeug.wrappers import Response as BaseResponse

from connector import audit
from connector.console import access
from connector.db import transaction
from connector.errors import BadRequest, ConfigError, DeskguardError, Forbidden
from connector.panel import auth
from connector.tenants import ensure_tenant
from connector.web_context import get_runtime, require_admin
from connector.zendesk import browser_flow
from connector.zendesk.oauth import (
    AUTHORIZATION_CODE,
    StoredTokens,
    ZendeskConnected,
    ZendeskDisconnected,
    forget_tokens,
    load_tokens,
    oauth_client,
    require_oauth_config,
    save_tokens,
)
from connector.zendesk.service import WEBHOOK_SECRET, account, save_account, tenant_base_url

if TYPE_CHECKING:
    from connector.runtime import Runtime

bp = Blueprint("zendesk_connect", __name__)
COOKIE = "deskguard_zendesk_connect"
CALLBACK = "/connect/zendesk/callback"
SUBDOMAIN = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
TENANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Zendesk: {title}</title></head>
<body><h1 id="status" data-status="{status}">Zendesk {title}</h1>{body}</body></html>"""


class ConnectRefused(DeskguardError):
    http_status = 400
    code = "zendesk_connect_refused"


# --- who may start -----------------------------------------------------------------------------
def _admin_actor() -> str | BaseResponse:
    """``admin_token``, or the signed-in admin's actor (a live server-side session: logout and
    role re-checks revoke it, ``connector.console.access``); a login redirect for a browser
    without one. ``g.connect_admin`` keeps the session for the tenant check."""
    runtime = get_runtime()
    g.connect_admin = None
    if auth.bearer(request) is not None:
        require_admin()
        return "admin_token"
    if not runtime.config.admin_token:
        raise Forbidden("the admin console is off: set DESKGUARD_ADMIN_TOKEN")
    admin = access.from_cookie(runtime, request.cookies.get(auth.ADMIN_COOKIE))
    if admin is None:
        target = "/admin/connect/zendesk?" + request.query_string.decode()
        return redirect("/admin/login?next=" + quote(target, safe=""))
    admin.require_confirmed()
    g.connect_admin = admin
    return f"admin_session {admin.actor}"


def _redirect_uri(runtime: Runtime) -> str:
    public_url = str(runtime.config.get("public_url") or "").rstrip("/")
    if not public_url.startswith(("http://", "https://")):
        raise ConfigError("set DESKGUARD_PUBLIC_URL: Zendesk redirects the browser back to it")
    return public_url + CALLBACK


def account_base_url(runtime: Runtime, subdomain: str) -> str:
    template = str(runtime.config.get("zendesk_oauth_url_template") or "")
    return template.replace("{subdomain}", subdomain)


# --- the flow ----------------------------------------------------------------------------------
@bp.get("/connect/zendesk")
@bp.get("/admin/connect/zendesk")
def start() -> Any:
    actor = _admin_actor()
    if isinstance(actor, BaseResponse):
        return actor
    runtime = get_runtime()
    subdomain = (request.args.get("subdomain") or "").strip().lower()
    if not SUBDOMAIN.fullmatch(subdomain):
        raise BadRequest("subdomain must be the Zendesk subdomain (acme for acme.zendesk.com)")
    tenant_id = (request.args.get("tenant") or subdomain).strip()
    if not TENANT.fullmatch(tenant_id):
        raise BadRequest("tenant must be letters, digits, '-' or '_' (at most 64)")
    cfg = require_oauth_config(runtime.config)
    # Confirmed: our own "Connect Zendesk" link (go=1) or the connections page's button.
    confirmed = request.args.get("go") == "1" or "connect-zendesk" in request.args
    if g.connect_admin is not None:
        g.connect_admin.check_tenant(tenant_id)  # a store's admin connects their own tenant only
    if actor.startswith("admin_session") and not confirmed:
        # A page with a link rather than a redirect: the admin confirms the account, and the
        # hop to Zendesk is a plain navigation (the sign-in form's CSP, form-action 'self',
        # would block a redirect chain from the form post to another origin).
        go = f"/admin/connect/zendesk?subdomain={quote(subdomain)}&tenant={quote(tenant_id)}&go=1"
        body = (
            f"<p>Account: <b id='subdomain'>{escape(subdomain)}</b>, tenant "
            f"<b>{escape(tenant_id)}</b>. Scopes: <code>{escape(cfg.scope)}</code></p>"
            f"<p><a id='continue' href='{escape(go)}'>Connect Zendesk</a></p>"
        )
        return _page("ready", "connect", body, 200)
    return browser_flow.start(
        runtime,
        oauth_client(cfg, account_base_url(runtime, subdomain)),
        cookie=COOKIE,
        callback_path=CALLBACK,
        redirect_uri=_redirect_uri(runtime),
        scope=cfg.scope,
        fields={"subdomain": subdomain, "tenant": tenant_id, "actor": actor},
    )


@bp.get(CALLBACK)
def callback() -> Any:
    runtime = get_runtime()
    try:
        flow = _flow(runtime)
        result = _finish(runtime, flow)
    except ConnectRefused as exc:
        return _page("refused", "not connected", f"<p id='reason'>{escape(exc.message)}</p>", 400)
    body = "".join(
        f"<p><b>{escape(k)}</b>: <span id='{escape(k)}'>{escape(str(v))}</span></p>"
        for k, v in result.items()
    )
    return _page("connected", "connected", body, 200)


CONNECT_REFUSALS = browser_flow.Refusals(
    missing="no connect flow was started in this browser (or it expired)",
    invalid="the connect flow's cookie is not valid",
    expired="the connect flow expired: start again",
    mismatch="the state does not match the flow started in this browser",
    denied="Zendesk answered {error}: access was not granted",
    no_code="Zendesk sent no authorization code",
)


def _flow(runtime: Runtime) -> dict[str, Any]:
    """The flow this browser started, checked against Zendesk's answer."""
    return browser_flow.finish(
        runtime, cookie=COOKIE, refused=ConnectRefused, words=CONNECT_REFUSALS
    )


def _finish(runtime: Runtime, flow: dict[str, Any]) -> dict[str, Any]:
    from connector.zendesk.setup import setup_zendesk

    cfg = require_oauth_config(runtime.config)
    base_url = account_base_url(runtime, flow["subdomain"])
    client = oauth_client(cfg, base_url)
    try:
        pair = client.exchange_code(
            code=request.args["code"],
            redirect_uri=_redirect_uri(runtime),
            code_verifier=flow["verifier"],
            scope=cfg.scope,
            expires_in=cfg.expires_in,
            refresh_expires_in=cfg.refresh_expires_in,
        )
    except DeskguardError as exc:
        raise ConnectRefused(f"Zendesk refused the code: {exc.message}") from None
    db, tenant_id = runtime.db, flow["tenant"]
    ensure_tenant(
        db, tenant_id, source="connect", zendesk_url=base_url, zendesk_subdomain=flow["subdomain"]
    )
    save_tokens(runtime, db, tenant_id, StoredTokens(pair, AUTHORIZATION_CODE))
    runtime.forget_services(tenant_id)
    setup = setup_zendesk(runtime, tenant_id)
    with transaction(db):
        audit.record(
            db,
            tenant_id,
            ZendeskConnected(
                grant=AUTHORIZATION_CODE,
                scope=pair.scope,
                connected_by=f"{flow['actor']}; zendesk user {setup['api_user']['email']}",
                api_user_id=int(setup["api_user"]["id"]),
            ),
        )
    return {
        "tenant": tenant_id,
        "subdomain": flow["subdomain"],
        "zendesk_user": setup["api_user"]["email"],
        "scope": pair.scope,
        "webhook": setup["webhook"]["id"],
        "trigger": setup["trigger"]["id"],
    }


def _page(status: str, title: str, body: str, code: int) -> Response:
    response = Response(PAGE.format(status=status, title=title, body=body), code)
    response.mimetype = "text/html"
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    response.headers["Cache-Control"] = "no-store"
    response.delete_cookie(COOKIE, path=CALLBACK)
    return response


# --- disconnect --------------------------------------------------------------------------------
@bp.post("/connect/zendesk/disconnect")
def disconnect_route() -> Any:
    if auth.bearer(request) is None:
        raise Forbidden("send Authorization: Bearer <DESKGUARD_ADMIN_TOKEN>")
    require_admin()
    tenant_id = request.args.get("tenant") or ""
    return jsonify(disconnect(get_runtime(), tenant_id, actor="admin_token"))


def disconnect(runtime: Runtime, tenant_id: str, *, actor: str) -> dict[str, Any]:
    """Delete our trigger and webhook in the account, revoke the token at Zendesk ("Revoking an
    OAuth access token"), forget the tokens and the signing secret. The tenant, its cursor,
    decisions and settings stay."""
    db = runtime.db
    record = account(db, tenant_id)
    desk = runtime.services(tenant_id).require_desk()
    trigger_deleted = bool(record.get("trigger_id")) and desk.delete_trigger(
        int(record["trigger_id"])
    )
    webhook_deleted = bool(record.get("webhook_id")) and desk.delete_webhook(
        str(record["webhook_id"])
    )
    stored = load_tokens(runtime, db, tenant_id)
    revoked = False
    if stored is not None:
        cfg = require_oauth_config(runtime.config)
        revoked = oauth_client(cfg, tenant_base_url(runtime, tenant_id)).revoke(
            stored.pair.access_token
        )
    with transaction(db):
        forget_tokens(runtime, db, tenant_id)
        runtime.secrets.delete(db, tenant_id, WEBHOOK_SECRET)
        save_account(db, tenant_id, webhook_id=None, webhook_endpoint=None, trigger_id=None)
        audit.record(
            db,
            tenant_id,
            ZendeskDisconnected(
                disconnected_by=actor,
                token_revoked=revoked,
                webhook_deleted=webhook_deleted,
                trigger_deleted=trigger_deleted,
            ),
        )
    runtime.forget_services(tenant_id)
    return {
        "tenant": tenant_id,
        "token_revoked": revoked,
        "webhook_deleted": webhook_deleted,
        "trigger_deleted": trigger_deleted,
    }
