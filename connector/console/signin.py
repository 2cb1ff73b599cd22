"""Per-person sign-in to the console: "Sign in with Zendesk" and the app's nav_bar launch.

**Sign in with Zendesk** (``GET /admin/login/zendesk?account=<subdomain>``): the OAuth
authorization-code flow with PKCE against the tenant's own Zendesk, as the connect flow
(``connector/zendesk/connect.py``) does, but it connects nothing: it asks only for ``users:read``
("OAuth Tokens" API reference, scopes: https://developer.zendesk.com/api-reference/ticketing/
oauth/oauth_tokens/), reads ``users/me`` ("Show Self",
https://developer.zendesk.com/api-reference/ticketing/users/users/), revokes the token at once
and keeps none. Only an active, unsuspended ``admin`` gets a session; it is bound to the person
(tenant, Zendesk user id, name, email) in ``admin_sessions``. The state, the PKCE verifier and
the account travel in a cookie encrypted with the ledger's Fernet key (HttpOnly, SameSite=Lax so
it comes back on Zendesk's top-level redirect, 10 minutes, the callback's path only).

**From Zendesk** (``POST /admin/console/launch``): the manifest's ``nav_bar`` location points
here and ``signedUrls`` makes Zendesk POST a JWT it signed for the agent (checked exactly like the
side panel's, ``connector/panel/launch.py``); the role is then read from Zendesk with the tenant's
credentials and must be admin. Zendesk frames that page, and a console in a third-party iframe
would need third-party cookies, so the page only offers "Open the console" in a new tab through a
one-time ticket (encrypted, 2 minutes, its nonce unique in the ledger), which opens a normal
first-party session.

After either, a small page moves the browser on to the console: the session cookie is
SameSite=Strict, and a redirect that continues Zendesk's cross-site navigation would not carry it.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from cryptography.fernet import InvalidToken
from flask import Blueprint, Response, current_app, render_template, request

from adapters.zendesk_signin import SignedInUser, signed_in_user
from connector import audit, logs, tenants
from connector.console.events import ConsoleSignedIn, ConsoleSignInRefused
from connector.dashboard import login_limit, sessions
from connector.errors import BadRequest, ConfigError, DeskguardError, PermanentError
from connector.panel import auth, launch
from connector.web_context import get_runtime
from connector.zendesk import browser_flow
from connector.zendesk.oauth import oauth_client, require_oauth_config
from connector.zendesk.service import tenant_base_url

if TYPE_CHECKING:
    from connector.runtime import Runtime

LOG = logs.get("console.signin")
signin_bp = Blueprint("console_signin", __name__, template_folder="templates")
COOKIE = "deskguard_admin_signin"
CALLBACK = "/admin/login/zendesk/callback"
TICKET_SECONDS = 120
SCOPE = "users:read"
CONSOLE = "/admin/console"


class SignInRefused(DeskguardError):
    http_status = 403
    code = "sign_in_refused"


@signin_bp.after_request
def _headers(resp: Response) -> Response:
    resp.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self';"
        " base-uri 'none'; frame-ancestors 'none'",
    )
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp


# --- which account ---------------------------------------------------------------------------
def sign_in_tenant(runtime: Runtime, account: str) -> str:
    """The tenant whose Zendesk the person signs in with: named by tenant id or subdomain, or
    the only tenant that has a Zendesk URL."""
    account = account.strip().lower()
    candidates = []
    for tenant_id in tenants.list_tenants(runtime.db):
        row = tenants.get_tenant(runtime.db, tenant_id)
        if not (row.get("zendesk_url") or row.get("zendesk_subdomain")):
            continue
        if account and account in (tenant_id.lower(), str(row.get("zendesk_subdomain") or "")):
            return tenant_id
        candidates.append(tenant_id)
    if not account and len(candidates) == 1:
        return candidates[0]
    raise BadRequest(
        "enter your Zendesk subdomain (acme for acme.zendesk.com)"
        if not account
        else f"no Zendesk account {account!r} is connected to Deskguard"
    )


def _redirect_uri(runtime: Runtime) -> str:
    public_url = str(runtime.config.get("public_url") or "").rstrip("/")
    if not public_url.startswith(("http://", "https://")):
        raise ConfigError("set DESKGUARD_PUBLIC_URL: Zendesk redirects the browser back to it")
    return public_url + CALLBACK


def safe_next(target: str | None) -> str:
    if target and target.startswith("/admin") and not target.startswith("//"):
        return target
    return CONSOLE


# --- Sign in with Zendesk --------------------------------------------------------------------
@signin_bp.get("/admin/login/zendesk")
def start() -> Any:
    runtime = get_runtime()
    if not runtime.config.admin_token:
        raise ConfigError("the admin console is off: set DESKGUARD_ADMIN_TOKEN")
    try:
        tenant_id = sign_in_tenant(runtime, request.args.get("account", ""))
        cfg = require_oauth_config(runtime.config)
        base_url = tenant_base_url(runtime, tenant_id)
        redirect_uri = _redirect_uri(runtime)
    except DeskguardError as exc:
        return _login_page(exc.message, 400)
    return browser_flow.start(
        runtime,
        oauth_client(cfg, base_url),
        cookie=COOKIE,
        callback_path=CALLBACK,
        redirect_uri=redirect_uri,
        scope=SCOPE,
        fields={"tenant": tenant_id, "next": safe_next(request.args.get("next"))},
    )


@signin_bp.get(CALLBACK)
def callback() -> Any:
    runtime = get_runtime()
    try:
        flow = _flow(runtime)
        user = _who_signed_in(runtime, flow)
        person = _admit(runtime, flow["tenant"], user, via="zendesk")
    except SignInRefused as exc:
        response = _login_page(exc.message, 403)
    else:
        response = _signed_in(runtime, person, via="zendesk", target=flow["next"])
    response.delete_cookie(COOKIE, path=CALLBACK)
    return response


SIGN_IN_REFUSALS = browser_flow.Refusals(
    missing="no sign-in was started in this browser (or it expired): try again",
    invalid="the sign-in cookie is not valid: try again",
    expired="the sign-in expired: try again",
    mismatch="the sign-in does not match the one started in this browser",
    denied="Zendesk did not grant access, so you are not signed in",
    no_code="Zendesk sent no authorization code",
)


def _flow(runtime: Runtime) -> dict[str, Any]:
    return browser_flow.finish(
        runtime, cookie=COOKIE, refused=SignInRefused, words=SIGN_IN_REFUSALS
    )


def _who_signed_in(runtime: Runtime, flow: dict[str, Any]) -> SignedInUser:
    """Exchange the code (with the PKCE verifier), read users/me, revoke the token."""
    cfg = require_oauth_config(runtime.config)
    base_url = tenant_base_url(runtime, flow["tenant"])
    client = oauth_client(cfg, base_url)
    try:
        pair = client.exchange_code(
            code=request.args["code"],
            redirect_uri=_redirect_uri(runtime),
            code_verifier=flow["verifier"],
            scope=SCOPE,
            expires_in=cfg.expires_in,
            refresh_expires_in=cfg.refresh_expires_in,
        )
        user = signed_in_user(base_url, pair.access_token, timeout=cfg.timeout)
    except DeskguardError as exc:
        logs.log(LOG, logging.WARNING, "console.sign_in_failed", tenant=flow["tenant"], error=exc)
        raise SignInRefused(f"Zendesk could not confirm who you are ({exc.message})") from None
    try:  # the token was only needed for users/me: nothing is kept
        client.revoke(pair.access_token)
    except DeskguardError as exc:
        logs.log(LOG, logging.WARNING, "console.sign_in_revoke_failed", error=exc.message)
    return user


def _admit(runtime: Runtime, tenant_id: str, user: Any, *, via: str) -> sessions.Person:
    """The person, when Zendesk says they are an active admin; else refused and audited."""
    role = str(getattr(user, "role", "") or "")
    ok = role == "admin" and user.active and not user.suspended
    if not ok:
        reason = "suspended or inactive" if role == "admin" else f"role {role or 'unknown'}"
        audit.record(
            runtime.db,
            tenant_id,
            ConsoleSignInRefused(via=via, zendesk_user_id=int(user.id), role=role, reason=reason),
        )
        raise SignInRefused(
            f"Only Zendesk admins can use the Deskguard console; your Zendesk account is "
            f"{reason}. Ask an admin of your Zendesk account."
        )
    return sessions.Person(tenant_id, int(user.id), user.name, getattr(user, "email", "") or "")


def _signed_in(
    runtime: Runtime,
    person: sessions.Person,
    *,
    via: str,
    target: str,
    launch_nonce: str | None = None,
) -> Response:
    """Start the session, set the cookie and move the browser on to ``target``."""
    config = runtime.config
    cookie = auth.make_admin_session(config)
    value = (auth.read_admin_session(config, cookie) or {}).get("csrf") or ""
    ip = login_limit.client_ip(request, config.trusted_proxy_hops)
    sessions.start(
        runtime.db,
        value,
        client_ip=ip,
        hours=config.admin_session_hours,
        person=person,
        via=via,
        launch_nonce=launch_nonce,
    )
    audit.record(
        runtime.db,
        person.tenant_id,
        ConsoleSignedIn(
            via=via, zendesk_user_id=person.zendesk_user_id, name=person.name, email=person.email
        ),
    )
    logs.log(LOG, logging.INFO, "console.signed_in", tenant=person.tenant_id, via=via, ip=ip)
    html = render_template("console/continue.html", person=person, target=target)
    response = current_app.make_response(html)
    response.set_cookie(
        auth.ADMIN_COOKIE,
        cookie,
        httponly=True,
        secure=request.is_secure or str(config.public_url).startswith("https://"),
        samesite="Strict",
        path="/admin",
        max_age=int(config.admin_session_hours * 3600),
    )
    return response


def _login_page(error: str, status: int) -> Response:
    target = "/admin/login?error=" + quote(error, safe="")
    html = render_template("console/refused.html", error=error, login=target)
    return current_app.make_response((html, status))


# --- from the Zendesk app's nav_bar ----------------------------------------------------------
@signin_bp.post("/admin/console/launch")
def nav_bar_launch() -> Any:
    from connector.panel.web import public_keys

    runtime = get_runtime()
    if not runtime.config.admin_token:
        raise ConfigError("the admin console is off: set DESKGUARD_ADMIN_TOKEN")
    verified = launch.verify_launch(runtime, public_keys(), request.form.get("token", ""))
    try:
        user = runtime.services(verified.tenant_id).require_desk().get_user(int(verified.agent_id))
    except PermanentError as exc:
        if exc.status != 404:
            raise
        user = None
    if user is None:
        return _login_page("Zendesk does not know this user", 403)
    try:
        person = _admit(runtime, verified.tenant_id, user, via="zendesk_app")
    except SignInRefused as exc:
        return _framed(render_template("console/refused.html", error=exc.message, login=""), 403)
    ticket = runtime.secrets.box.encrypt(
        json.dumps(
            {
                "t": person.tenant_id,
                "u": person.zendesk_user_id,
                "n": person.name,
                "nonce": secrets.token_urlsafe(24),
                "issued": time.time(),
            }
        )
    )
    html = render_template(
        "console/launch.html", person=person, enter="/admin/console/enter?ticket=" + ticket
    )
    return _framed(html, 200)


def _framed(html: str, status: int) -> Response:
    """The nav_bar page lives in Zendesk's iframe: framing allowed for Zendesk only."""
    response = current_app.make_response((html, status))
    ancestors = get_runtime().config.app_frame_ancestors or "'none'"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'none';"
        f" base-uri 'none'; frame-ancestors {ancestors}"
    )
    return response


@signin_bp.get("/admin/console/enter")
def enter() -> Any:
    runtime = get_runtime()
    try:
        data = json.loads(runtime.secrets.box.decrypt(request.args.get("ticket", "")).reveal())
    except (ConfigError, InvalidToken, ValueError):
        return _login_page(
            "this sign-in link is not valid: open the console from Zendesk again", 400
        )
    if time.time() - float(data.get("issued", 0)) > TICKET_SECONDS:
        return _login_page("this sign-in link expired: open the console from Zendesk again", 400)
    person = sessions.Person(str(data["t"]), int(data["u"]), str(data.get("n") or ""))
    try:
        return _signed_in(
            runtime, person, via="zendesk_app", target=CONSOLE, launch_nonce=str(data["nonce"])
        )
    except sessions.NonceUsed:
        return _login_page("this sign-in link was used already: open the console again", 400)
