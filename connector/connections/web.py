"""``connections_bp``: the admin page that connects a tenant's stores, and the Shopify app's
install and callback URLs.

- ``GET /admin/connections``: every tenant with the state of its Zendesk, Shopify and Stripe
  connection, the shops installed but not yet linked, and the forms: create a tenant, connect
  Zendesk (to the Zendesk connect flow, ``/admin/connect/zendesk``), link an installed shop,
  paste a Stripe restricted key. Admin only, like /admin: the dashboard's session cookie (its
  CSRF token on every POST) or ``Authorization: Bearer <DESKGUARD_ADMIN_TOKEN>``
  (``connector.web_context.require_admin``, with its failure counting).
- ``GET /shopify/install`` (the app URL in deploy/shopify.app.toml) and ``GET /shopify/callback``
  (its redirect URL): connector/commerce/shopify_oauth.py. Public (Shopify sends the merchant's
  browser there); everything they act on is verified against the app's client secret first.
"""

from __future__ import annotations

import hmac
import logging
import re
from typing import Any

from flask import (
    Blueprint,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from connector import logs, tenants
from connector.commerce import shopify_oauth, stripe_connect
from connector.commerce.service import TOKEN_SECRET, client_credentials_configured, tenant_shop
from connector.console import access
from connector.errors import BadRequest, DeskguardError, Forbidden, NotFound
from connector.panel import auth
from connector.web_context import get_runtime, require_admin

LOG = logs.get("connections")
connections_bp = Blueprint("connections", __name__, template_folder="templates")
TENANT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
# The Zendesk connect form leaves for Zendesk's authorize page (https, or the sandbox on
# loopback), and Chromium applies form-action to the redirects after a submission.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:;"
    " form-action 'self' https: http://127.0.0.1:* http://localhost:*;"
    " base-uri 'none'; frame-ancestors 'none'"
)
STATE_COOKIE_SECONDS = 600


# --- who may use the console ------------------------------------------------------------------
def _admin() -> Any:
    """None when the caller is an admin; else the login redirect. Bearer tokens go through
    ``require_admin``; browsers need a live server-side session (revoked by logout or a role
    re-check: ``connector.console.access``), and POSTs its CSRF token. ``g.admin`` says which
    tenant a person's session may reach (``check_tenant``)."""
    runtime = get_runtime()
    if not runtime.config.admin_token:
        raise NotFound("the admin console is off: set DESKGUARD_ADMIN_TOKEN")
    if auth.bearer(request) is not None:
        require_admin()
        g.admin, g.admin_actor, g.csrf = None, "admin:token", None
        return None
    admin = access.from_cookie(runtime, request.cookies.get(auth.ADMIN_COOKIE))
    if admin is None:
        return redirect(url_for("admin.login", next=request.full_path.rstrip("?")))
    if request.method == "POST":
        if not hmac.compare_digest(request.form.get("csrf") or "", admin.csrf or ""):
            raise Forbidden("the form expired; reload the page and try again")
        admin.require_confirmed()
    g.admin, g.admin_actor, g.csrf = admin, admin.actor, admin.csrf
    return None


def _check_tenant(tenant_id: str) -> None:
    """A person signed in for one tenant reaches only that tenant (404 like an unknown one)."""
    if g.admin is not None:
        g.admin.check_tenant(tenant_id)


def _person_tenant() -> str | None:
    return g.admin.tenant_id if g.admin is not None else None


@connections_bp.after_request
def _headers(resp):
    if request.path.startswith("/admin/"):
        resp.headers["Content-Security-Policy"] = CSP
        resp.headers["Cache-Control"] = "no-store"
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "no-referrer"
    return resp


# --- the page ---------------------------------------------------------------------------------
def _zendesk_state(runtime, tenant_id: str, row: dict[str, Any]) -> dict[str, Any]:
    names = {
        r[0]
        for r in runtime.db.conn.execute(
            "SELECT name FROM secrets WHERE tenant_id = ? AND name LIKE 'zendesk%'", (tenant_id,)
        )
    }
    auth_kind = "oauth" if "zendesk_oauth_tokens" in names else "api token" if names else None
    return {
        "connected": bool(row.get("zendesk_subdomain")) and auth_kind is not None,
        "subdomain": row.get("zendesk_subdomain") or "",
        "auth": auth_kind,
    }


def _shopify_state(runtime, tenant_id: str) -> dict[str, Any]:
    shop = tenant_shop(runtime.db, tenant_id)
    stored = bool(shop) and runtime.secrets.get(runtime.db, tenant_id, TOKEN_SECRET) is not None
    via = (
        "offline token"
        if stored
        else "client credentials"
        if shop and (client_credentials_configured(runtime))
        else None
    )
    return {"connected": bool(shop and via), "shop": shop, "via": via}


def overview(runtime) -> dict[str, Any]:
    """What the page shows, as data (also the JSON answer for bearer callers)."""
    rows = []
    for tenant_id in tenants.list_tenants(runtime.db):
        row = tenants.get_tenant(runtime.db, tenant_id)
        rows.append(
            {
                "id": tenant_id,
                "name": row.get("name") or tenant_id,
                "zendesk": _zendesk_state(runtime, tenant_id, row),
                "shopify": _shopify_state(runtime, tenant_id),
                "stripe": stripe_connect.connection_state(runtime, tenant_id),
            }
        )
    installs = shopify_oauth.installs(runtime)
    return {
        "tenants": rows,
        "unlinked_shops": [i["shop"] for i in installs if not i["tenant_id"]],
        "installs": installs,
    }


@connections_bp.get("/admin/connections")
def page():
    refused = _admin()
    if refused is not None:
        return refused
    runtime = get_runtime()
    data = overview(runtime)
    own = _person_tenant()
    if own is not None:  # a person sees their own tenant and no other store's installs
        data = {
            **data,
            "tenants": [t for t in data["tenants"] if t["id"] == own],
            "unlinked_shops": [],
            "installs": [i for i in data["installs"] if i["tenant_id"] == own],
        }
    if g.csrf is None:  # a script with the bearer token
        return data
    return render_template(
        "connections/index.html",
        data=data,
        csrf=g.csrf,
        tenant=None,
        flash=request.args.get("msg", ""),
        error=request.args.get("error", ""),
        installed=request.args.get("installed", ""),
        shopify_app=client_credentials_configured(runtime),
    )


def _done(message: str = "", *, error: str = ""):
    args: dict[str, Any] = {"msg": message} if message else {"error": error}
    return redirect(url_for("connections.page", **args), code=303)


@connections_bp.post("/admin/connections/tenants")
def create_tenant():
    refused = _admin()
    if refused is not None:
        return refused
    if _person_tenant() is not None:
        raise Forbidden("creating tenants needs the operator's admin token, not a store admin")
    runtime = get_runtime()
    tenant_id = (request.form.get("tenant") or "").strip()
    name = (request.form.get("name") or tenant_id).strip()[:200]
    if not TENANT_ID.fullmatch(tenant_id):
        return _done(error="A tenant id is letters, digits, '-' or '_' (at most 64).")
    if tenant_id in tenants.list_tenants(runtime.db):
        return _done(error=f"Tenant {tenant_id} already exists.")
    tenants.ensure_tenant(runtime.db, tenant_id, source=g.admin_actor, name=name)
    logs.log(LOG, logging.INFO, "connections.tenant_created", tenant=tenant_id)
    return _done(f"Tenant {tenant_id} created.")


@connections_bp.post("/admin/connections/shopify/link")
def link_shop():
    refused = _admin()
    if refused is not None:
        return refused
    runtime = get_runtime()
    shop = (request.form.get("shop") or "").strip().lower()
    tenant_id = (request.form.get("tenant") or "").strip()
    _check_tenant(tenant_id)
    try:
        shopify_oauth.link_shop(runtime, shop, tenant_id, actor=g.admin_actor)
    except DeskguardError as exc:
        return _done(error=exc.message or exc.code)
    return _done(f"{shop} is linked to {tenant_id}.")


@connections_bp.post("/admin/connections/stripe")
def connect_stripe():
    refused = _admin()
    if refused is not None:
        return refused
    runtime = get_runtime()
    tenant_id = (request.form.get("tenant") or "").strip()
    _check_tenant(tenant_id)
    api_key = request.form.get("key") or ""
    try:
        conn = stripe_connect.connect_stripe(runtime, tenant_id, api_key, actor=g.admin_actor)
    except DeskguardError as exc:  # the message names missing permissions; never the key
        return _done(error=f"Stripe for {tenant_id}: {exc.message or exc.code}")
    note = " ".join(conn.warnings)
    return _done(f"Stripe is connected for {tenant_id}. {note}".strip())


# --- the Shopify app's install URLs -------------------------------------------------------------
def _redirect_uri(runtime) -> str:
    base = runtime.config.public_url or request.host_url.rstrip("/")
    return base.rstrip("/") + shopify_oauth.CALLBACK_PATH


@connections_bp.get(shopify_oauth.INSTALL_PATH)
def shopify_install():
    runtime = get_runtime()
    url, state = shopify_oauth.begin_install(
        runtime, request.args.to_dict(flat=True), _redirect_uri(runtime)
    )
    resp = redirect(url, code=302)
    resp.set_cookie(
        shopify_oauth.STATE_COOKIE,
        state,
        max_age=STATE_COOKIE_SECONDS,
        httponly=True,
        secure=request.is_secure or str(runtime.config.public_url).startswith("https://"),
        samesite="Lax",
        path="/shopify",
    )
    return resp


@connections_bp.get(shopify_oauth.CALLBACK_PATH)
def shopify_callback():
    runtime = get_runtime()
    if len(request.args.getlist("hmac")) > 1:
        raise BadRequest("repeated parameters")
    shop = shopify_oauth.complete_install(
        runtime, request.args.to_dict(flat=True), request.cookies.get(shopify_oauth.STATE_COOKIE)
    )
    resp = redirect(url_for("connections.page", installed=shop), code=302)
    resp.delete_cookie(shopify_oauth.STATE_COOKIE, path="/shopify")
    return resp
