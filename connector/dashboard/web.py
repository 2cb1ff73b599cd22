"""The /admin dashboard (HTML) and its JSON API, for the operator holding DESKGUARD_ADMIN_TOKEN.

Browsers log in with a form that sets an HttpOnly, SameSite=Strict session cookie (Secure when
served over https); scripts use ``Authorization: Bearer <admin token>``. Form posts that change
state carry a CSRF token bound to the session. Without DESKGUARD_ADMIN_TOKEN the dashboard is off
(404). Wrong tokens (form or bearer) are counted per client IP and overall; past the limits the
answer is 429 with Retry-After (``login_limit.py``). Pages use no external assets: CSS from this
app, charts as inline SVG.
"""

from __future__ import annotations

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
from connector.dashboard import charts, login_limit, metrics
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
    if token is not None:
        db, ip = get_runtime().db, _client_ip()
        lockout = login_limit.check(db, config, ip)
        if lockout is not None:
            return _too_many(lockout, form=False)
        if not admin_token_matches(config, token):
            login_limit.record_failure(db, config, ip, via="bearer")
            raise Unauthorized("invalid admin token")
        login_limit.clear(db, ip)
        g.admin_session = {"admin": True, "csrf": None, "bearer": True}
        return None
    session = auth.read_admin_session(config, request.cookies.get(auth.ADMIN_COOKIE))
    if session is None:
        if _is_api():
            raise Unauthorized("send Authorization: Bearer <DESKGUARD_ADMIN_TOKEN>")
        return redirect(
            url_for("admin.login", next=request.full_path if request.method == "GET" else None)
        )
    g.admin_session = session
    if request.method == "POST" and request.form.get("csrf") != session.get("csrf"):
        raise Forbidden("the form expired; reload the page and try again")
    return None


@bp.after_request
def _headers(resp):
    resp.headers.setdefault("Content-Security-Policy", CSP)
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp


def _tenant(name: str | None) -> str:
    runtime = get_runtime()
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
        db, ip = get_runtime().db, _client_ip()
        lockout = login_limit.check(db, config, ip)
        if lockout is not None:  # refused before the token is even compared
            return _too_many(lockout, form=True)
        if admin_token_matches(config, request.form.get("token", "")):
            login_limit.clear(db, ip)
            resp = redirect(_safe_next(request.form.get("next")))
            secure = request.is_secure or str(config.public_url).startswith("https://")
            resp.set_cookie(
                auth.ADMIN_COOKIE,
                auth.make_admin_session(config),
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
    return render_template(
        "admin/login.html", error=error, next=request.values.get("next", "")
    ), status


@bp.post("/logout")
def logout():
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
        volume_svg=charts.volume_chart(data["daily"]),
        automation_svg=charts.automation_chart(data["daily"]),
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
    killswitch.set_switch(get_runtime().db, tenant, on, actor="admin:dashboard", reason=reason)
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
