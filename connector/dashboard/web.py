"""The /admin dashboard (HTML) and its JSON API, for the operator holding DESKGUARD_ADMIN_TOKEN.

Browsers log in with a form that sets an HttpOnly, SameSite=Strict session cookie (Secure when
served over https); scripts use ``Authorization: Bearer <admin token>``. Form posts that change
state carry a CSRF token bound to the session (compared in constant time). Each sign-in is also
recorded in the ledger (``sessions.py``), and logout revokes it: a copied cookie stops working.
Without DESKGUARD_ADMIN_TOKEN the dashboard is off (404). Wrong tokens (form or bearer) are
counted per client (IPv4 address, IPv6 /64); the correct bearer token is never refused, and the
form slows a guessing client down rather than locking it out (``login_limit.py``). Pages use no
external assets: CSS from this app, charts as inline SVG.
"""

from __future__ import annotations

import hmac
import logging

from flask import (
    Blueprint,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from connector import logs, tenants
from connector.console import access
from connector.dashboard import charts, login_limit, metrics, sessions
from connector.errors import BadRequest, Forbidden, NotFound, Unauthorized
from connector.panel import auth
from connector.pipeline import killswitch
from connector.web_context import admin_token_matches, error_response, get_runtime

LOG = logs.get("admin")
bp = Blueprint(
    "admin",
    __name__,
    url_prefix="/admin",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self';"
    " base-uri 'none'; frame-ancestors 'none'"
)


def _config():
    return get_runtime().config


def _is_api() -> bool:
    return request.path.startswith("/admin/api/")


def _client_ip() -> str:
    return login_limit.client_ip(request, _config().trusted_proxy_hops)


def _too_many(lockout: login_limit.Lockout, *, form: bool):
    """429 with Retry-After: the login page for the form, the JSON error shape for the API."""
    logs.log(
        LOG,
        logging.WARNING,
        "admin.login_rate_limited",
        ip=_client_ip(),
        scope=lockout.scope,
        retry_after=lockout.retry_after,
    )
    if form:
        resp = current_app.make_response(
            (
                render_template(
                    "admin/login.html", error=lockout.message(), next=request.values.get("next", "")
                ),
                429,
            )
        )
    else:
        resp = error_response(
            429, "too_many_attempts", lockout.message(), retry_after=lockout.retry_after
        )
        resp = current_app.make_response(resp)
    resp.headers["Retry-After"] = str(lockout.retry_after)
    return resp


@bp.before_request
def _authenticate():
    config = _config()
    if not config.admin_token:
        raise NotFound("the admin dashboard is off: set DESKGUARD_ADMIN_TOKEN")
    if request.endpoint in ("admin.login", "admin.static"):
        return None
    token = auth.bearer(request)
    db = get_runtime().db
    if token is not None:
        # The token is compared first: the correct one is never refused by the limits.
        ip = _client_ip()
        if not admin_token_matches(config, token):
            lockout = login_limit.wrong_bearer(db, config, ip, via="bearer")
            if lockout is not None:
                return _too_many(lockout, form=False)
            raise Unauthorized("invalid admin token")
        login_limit.clear(db, ip)
        g.admin_session = {"admin": True, "csrf": None, "bearer": True}
        return None
    # A token or a person's session; a person's Zendesk role is re-checked when due.
    admin = access.from_cookie(get_runtime(), request.cookies.get(auth.ADMIN_COOKIE))
    if admin is None:
        if _is_api():
            raise Unauthorized("send Authorization: Bearer <DESKGUARD_ADMIN_TOKEN>")
        return redirect(
            url_for("admin.login", next=request.full_path if request.method == "GET" else None)
        )
    session = {"admin": True, "csrf": admin.csrf, "tenant": admin.tenant_id, "actor": admin.actor}
    g.admin_session, g.console_admin = session, admin
    if request.method == "POST" and not _csrf_matches(request.form.get("csrf"), session):
        raise Forbidden("the form expired; reload the page and try again")
    return None


def _csrf_matches(presented: str | None, session: dict) -> bool:
    expected = session.get("csrf")
    if not isinstance(presented, str) or not isinstance(expected, str) or not expected:
        return False
    return hmac.compare_digest(presented.encode("utf-8"), expected.encode("utf-8"))


@bp.after_request
def _headers(resp):
    resp.headers.setdefault("Content-Security-Policy", CSP)
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp


def _tenant(name: str | None) -> str:
    runtime = get_runtime()
    own = (g.get("admin_session") or {}).get("tenant")
    if own is not None:  # a person signed in with Zendesk reaches their own tenant only
        if name and name != own:
            raise NotFound(f"unknown tenant {name!r}")
        return str(own)
    if not name:
        from connector.bootstrap import env_tenant_id

        listed = tenants.list_tenants(runtime.db)
        name = env_tenant_id(runtime)
        if name not in listed and listed:
            name = listed[0]
    tenants.get_tenant(runtime.db, name)  # NotFound for an unknown tenant
    return name


def _int_arg(name: str, default: int) -> int:
    try:
        return int(request.args.get(name, default))
    except ValueError:
        raise BadRequest(f"{name} must be a number") from None


# --- login ---------------------------------------------------------------------------------
def _safe_next(target: str | None) -> str:
    if target and target.startswith("/admin") and not target.startswith("//"):
        return target
    return url_for("admin.dashboard")


@bp.route("/login", methods=["GET", "POST"])
def login():
    config = _config()
    error = None
    status = 200
    if request.method == "POST":
        if not config.get("admin_token_login", True):
            raise Forbidden(
                "the admin-token form is off (DESKGUARD_ADMIN_TOKEN_LOGIN=false): "
                "sign in with Zendesk"
            )
        db, ip = get_runtime().db, _client_ip()
        lockout = login_limit.form_delay(db, config, ip)
        if lockout is not None:  # a guessing client waits; refused before the token is compared
            return _too_many(lockout, form=True)
        if admin_token_matches(config, request.form.get("token", "")):
            login_limit.clear(db, ip)
            resp = redirect(_safe_next(request.form.get("next")))
            secure = request.is_secure or str(config.public_url).startswith("https://")
            cookie = auth.make_admin_session(config)
            started = auth.read_admin_session(config, cookie) or {}
            sessions.start(
                db, started.get("csrf") or "", client_ip=ip, hours=config.admin_session_hours
            )
            resp.set_cookie(
                auth.ADMIN_COOKIE,
                cookie,
                httponly=True,
                secure=secure,
                samesite="Strict",
                path="/admin",
                max_age=int(config.admin_session_hours * 3600),
            )
            logs.log(LOG, logging.INFO, "admin.login", ip=ip)
            return resp
        login_limit.record_failure(db, config, ip, via="form")
        error, status = "That is not the admin token.", 401
    return _login_page(error or request.args.get("error"), status)


def _login_page(error: str | None, status: int):
    """Sign in with Zendesk (a GET form to /admin/login/zendesk, which leaves for the tenant's
    Zendesk: form-action must allow that hop) and, when the settings allow it, the token form."""
    config, db = _config(), get_runtime().db
    with_zendesk = [
        t
        for t in tenants.list_tenants(db)
        if any(tenants.get_tenant(db, t).get(k) for k in ("zendesk_url", "zendesk_subdomain"))
    ]
    html = render_template(
        "admin/login.html",
        error=error,
        next=request.values.get("next", ""),
        token_login=bool(config.get("admin_token_login", True)),
        zendesk_login=bool(config.get("zendesk_oauth_client_id")) and bool(with_zendesk),
        ask_account=len(with_zendesk) > 1,
    )
    resp = current_app.make_response((html, status))
    resp.headers["Content-Security-Policy"] = CSP.replace(
        "form-action 'self'", "form-action 'self' https: http://127.0.0.1:* http://localhost:*"
    )
    return resp


@bp.post("/logout")
def logout():
    """Revokes the session server-side (a copy of the cookie stops working too)."""
    if sessions.revoke(get_runtime().db, g.admin_session.get("csrf")):
        logs.log(LOG, logging.INFO, "admin.logout", ip=_client_ip())
    resp = redirect(url_for("admin.login"))
    resp.delete_cookie(auth.ADMIN_COOKIE, path="/admin")
    return resp


# --- pages ---------------------------------------------------------------------------------
def _filters() -> dict:
    f = {k: (request.args.get(k) or "").strip() for k in ("category", "outcome", "from", "to")}
    metrics.parse_day(f["from"], "from")
    metrics.parse_day(f["to"], "to")
    return f


@bp.get("/")
def dashboard():
    runtime = get_runtime()
    tenant = _tenant(request.args.get("tenant"))
    days = _int_arg("days", 14)
    data = metrics.summary(runtime, tenant, days=days)
    f = _filters()
    recent = metrics.recent_decisions(
        runtime,
        tenant,
        category=f["category"] or None,
        outcome=f["outcome"] or None,
        since=f["from"] or None,
        until=f["to"] or None,
        limit=_int_arg("limit", 50),
    )
    return render_template(
        "admin/dashboard.html",
        m=data,
        tenant=tenant,
        tenants=tenants.list_tenants(runtime.db),
        filters=f,
        options=metrics.filter_options(runtime, tenant),
        recent=recent,
        days=days,
        charts=charts.for_dashboard(data),
        csrf=g.admin_session.get("csrf"),
    )


@bp.get("/tickets/<int:ticket_id>")
def ticket(ticket_id: int):
    runtime = get_runtime()
    tenant = _tenant(request.args.get("tenant"))
    trail = metrics.ticket_trail(runtime, tenant, ticket_id)
    return render_template(
        "admin/ticket.html", t=trail, tenant=tenant, csrf=g.admin_session.get("csrf")
    )


@bp.post("/kill-switch")
def kill_switch_form():
    tenant = _tenant(request.form.get("tenant"))
    on = request.form.get("on") == "1"
    reason = (request.form.get("reason") or "flipped from the admin dashboard")[:500]
    admin = g.get("console_admin")
    if admin is not None and not on:
        admin.require_confirmed()  # turning writes back on needs a confirmed admin role
    # A person's session names the person; the token's keeps the dashboard's actor.
    actor = admin.actor if admin is not None and admin.tenant_id else "admin:dashboard"
    killswitch.set_switch(get_runtime().db, tenant, on, actor=actor, reason=reason)
    logs.log(LOG, logging.WARNING, "admin.kill_switch", tenant=tenant, on=on)
    return redirect(url_for("admin.dashboard", tenant=tenant))


# --- JSON API --------------------------------------------------------------------------------
@bp.get("/api/<tenant>/metrics")
def api_metrics(tenant: str):
    return jsonify(metrics.summary(get_runtime(), _tenant(tenant), days=_int_arg("days", 14)))


@bp.get("/api/<tenant>/decisions")
def api_decisions(tenant: str):
    f = _filters()
    return jsonify(
        metrics.recent_decisions(
            get_runtime(),
            _tenant(tenant),
            category=f["category"] or None,
            outcome=f["outcome"] or None,
            since=f["from"] or None,
            until=f["to"] or None,
            limit=_int_arg("limit", 50),
        )
    )


@bp.get("/api/<tenant>/tickets/<int:ticket_id>")
def api_ticket(tenant: str, ticket_id: int):
    return jsonify(metrics.ticket_trail(get_runtime(), _tenant(tenant), ticket_id))


@bp.post("/api/<tenant>/kill-switch")
def api_kill_switch(tenant: str):
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("on"), bool):
        raise BadRequest('expected {"on": true|false, "reason": "..."}')
    tenant = _tenant(tenant)
    runtime = get_runtime()
    killswitch.set_switch(
        runtime.db,
        tenant,
        body["on"],
        actor="admin:api",
        reason=str(body.get("reason") or "admin API")[:500],
    )
    return jsonify({"kill_switch": tenants.kill_switch_on(runtime.db, tenant)})


@bp.app_template_filter("dg_pct")
def _pct(value):
    return "—" if value is None else f"{value:.0%}"


@bp.app_template_filter("dg_usd")
def _usd(value):
    return "—" if value is None else f"${value:,.4f}" if value < 1 else f"${value:,.2f}"
