"""``console_bp``: the admin console under /admin/console, for a signed-in person (or an admin-
token session where ``DESKGUARD_ADMIN_TOKEN_LOGIN`` allows it).

- ``GET  /admin/console``                     kill switch, connections, categories with their
  go-live statistics, caps, replays, export, the latest changes
- ``GET|POST /admin/console/categories/<c>``  mode, confidence threshold, rollout %, auto allowed;
  a reason is required; switching to auto before the gate passes needs an override reason
- ``POST /admin/console/caps``                hourly and daily caps (reason required)
- ``POST /admin/console/minutes-saved``       the dashboard's time-saved minutes (reason required)
- ``POST /admin/console/kill-switch``         reason required, then a confirmation step
- ``POST /admin/console/replays``             replay the last N days (a ``console.replay`` job)
- ``GET  /admin/console/replays/<id>``        its status, then its per-category report
- ``GET  /admin/console/export.csv``          decisions from..to, streamed

Changes go through the same functions as the admin API (``policy.update``,
``killswitch.set_switch``), so validation, the go-live gate and the audit trail are the same;
the audit log names the signed-in person (``sessions.AdminSession.actor``). Every POST carries
the session's CSRF token (compared in constant time). A person reaches only their own tenant.
"""

from __future__ import annotations

import csv
import hmac
import io
import json
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

from flask import (
    Blueprint,
    Response,
    g,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)

from connector import tenants
from connector.console import access, health, replays
from connector.db import transaction
from connector.domain import CATEGORIES, MODES
from connector.errors import BadRequest, ConfigError, DeskguardError, Forbidden, NotFound
from connector.pipeline import decisions, killswitch, metrics, policy
from connector.web_context import error_response, get_runtime

console_bp = Blueprint("console", __name__, template_folder="templates")
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self';"
    " base-uri 'none'; frame-ancestors 'none'"
)
REASON_LIMIT = 500
EXPORT_COLUMNS = (
    "id",
    "created_at",
    "ticket_id",
    "category",
    "confidence",
    "mode",
    "outcome",
    "rule",
    "reason",
    "status",
    "engine",
    "model",
    "cost_usd",
    "latency_ms",
)


# --- who ---------------------------------------------------------------------------------------
@console_bp.before_request
def _authenticate() -> Any:
    runtime = get_runtime()
    if not runtime.config.admin_token:
        raise NotFound("the admin console is off: set DESKGUARD_ADMIN_TOKEN")
    from connector.panel import auth

    admin = access.from_cookie(runtime, request.cookies.get(auth.ADMIN_COOKIE))
    if admin is None:
        return redirect(url_for("admin.login", next=request.full_path.rstrip("?")))
    if request.method == "POST" and not _csrf_ok(request.form.get("csrf"), admin.csrf):
        raise Forbidden("the form expired; reload the page and try again")
    g.console_admin = admin
    return None


def _csrf_ok(presented: Any, expected: str | None) -> bool:
    if not isinstance(presented, str) or not expected:
        return False
    return hmac.compare_digest(presented.encode(), expected.encode())


@console_bp.after_request
def _headers(resp: Response) -> Response:
    resp.headers.setdefault("Content-Security-Policy", CSP)
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp


@console_bp.errorhandler(DeskguardError)
def _error(exc: DeskguardError) -> Any:
    """Form mistakes and refusals as a page with the way back, not the API's JSON."""
    if request.path.endswith(".csv") or g.get("console_admin") is None:
        return error_response(exc.http_status, exc.code, exc.message)
    return _page("console/error.html", exc.http_status, message=exc.message)


def _admin() -> access.Admin:
    admin: access.Admin = g.console_admin
    return admin


def _tenant() -> str:
    """The person's tenant; for an admin-token session ``?tenant=`` or the env tenant."""
    admin, runtime = _admin(), get_runtime()
    if admin.tenant_id is not None:
        return admin.tenant_id
    name = (request.values.get("tenant") or "").strip()
    if not name:
        from connector.bootstrap import env_tenant_id

        listed = tenants.list_tenants(runtime.db)
        name = env_tenant_id(runtime)
        if name not in listed and listed:
            name = listed[0]
    tenants.get_tenant(runtime.db, name)  # NotFound for an unknown tenant
    return name


def _reason(field: str = "reason", *, required: bool = True) -> str:
    value = (request.form.get(field) or "").strip()
    if len(value) > REASON_LIMIT:
        raise BadRequest(f"the {field.replace('_', ' ')} is at most {REASON_LIMIT} characters")
    if required and len(value) < 3:
        raise BadRequest("say why (a reason of a few words is required for every change)")
    return value


def _policy_file() -> str | None:
    return get_runtime().config.get("policy_file") or None


def _page(template: str, status: int = 200, **values: Any) -> tuple[str, int]:
    admin = _admin()
    html = render_template(
        template,
        admin=admin,
        who=admin.session.person if admin.session else None,
        csrf=admin.csrf,
        tenant=values.pop("tenant", None) or _tenant(),
        **values,
    )
    return html, status


def _back(**args: Any) -> Any:
    tenant = None if _admin().tenant_id else _tenant()
    return redirect(url_for("console.overview", tenant=tenant, **args))


# --- overview ----------------------------------------------------------------------------------
@console_bp.get("/admin/console")
def overview() -> Any:
    runtime, tenant = get_runtime(), _tenant()
    view = decisions.policy_view(runtime.db, tenant, policy_file=_policy_file())
    return _page(
        "console/overview.html",
        tenant=tenant,
        view=view,
        kill=killswitch.status(runtime.db, tenant),
        connections=health.connections(runtime, tenant),
        replays=replays.recent(runtime, tenant),
        changes=recent_changes(runtime.db, tenant),
        minutes=metrics.minutes_saved(runtime.db, tenant),
        today=date.today().isoformat(),
        month_ago=(date.today() - timedelta(days=30)).isoformat(),
        flash=request.args.get("msg", ""),
    )


def recent_changes(db: Any, tenant_id: str, limit: int = 15) -> list[dict[str, Any]]:
    """The latest changes and sign-ins, newest first, with who and why."""
    rows = db.conn.execute(
        "SELECT ts, kind, data FROM audit_log WHERE tenant_id = ? AND (kind IN"
        " ('setting.changed', 'policy.go_live_overridden') OR kind LIKE 'console.%')"
        " ORDER BY id DESC LIMIT ?",
        (tenant_id, limit),
    ).fetchall()
    out = []
    for ts, kind, data in rows:
        d = json.loads(data)
        actor = d.get("actor") or d.get("requested_by") or d.get("email") or d.get("name") or ""
        what = {
            "setting.changed": f"{d.get('name')} changed",
            "policy.go_live_overridden": f"go-live gate overridden for {d.get('category')}",
            "console.signed_in": f"signed in ({d.get('via')})",
            "console.sign_in_refused": f"sign-in refused: {d.get('reason')}",
            "console.access_revoked": f"signed out: Zendesk role now {d.get('role')}",
            "console.replay_requested": f"replay of {d.get('days')} days requested",
        }.get(kind, kind)
        out.append({"at": ts, "what": what, "actor": actor, "reason": d.get("reason", "")})
    return out


# --- a category --------------------------------------------------------------------------------
def _category_patch(current: dict[str, Any]) -> dict[str, Any]:
    form, patch = request.form, {}
    mode = form.get("mode", current["mode"])
    if mode not in MODES:
        raise BadRequest(f"mode must be one of {', '.join(MODES)}")
    if mode != current["mode"]:
        patch["mode"] = mode
    for name, low, high in (("min_confidence", 0.0, 1.0), ("rollout_percent", 0.0, 100.0)):
        text = (form.get(name) or "").strip()
        try:
            value = float(text)
        except ValueError:
            raise BadRequest(f"{name.replace('_', ' ')} must be a number") from None
        if not low <= value <= high:
            raise BadRequest(f"{name.replace('_', ' ')} must be between {low:g} and {high:g}")
        if abs(value - float(current[name])) > 1e-9:
            patch[name] = value
    allowed = form.get("auto_allowed") == "1"
    if allowed != bool(current["auto_allowed"]):
        patch["auto_allowed"] = allowed
    return patch


@console_bp.route("/admin/console/categories/<category>", methods=["GET", "POST"])
def category(category: str) -> Any:
    if category not in CATEGORIES:
        raise NotFound(f"unknown category {category!r}")
    runtime, tenant = get_runtime(), _tenant()
    view = decisions.policy_view(runtime.db, tenant, policy_file=_policy_file())
    current = view["categories"][category]
    error, blocked = "", False
    if request.method == "POST":
        try:
            _admin().require_confirmed()
            patch = _category_patch(current)
            reason = _reason()
            if not patch:
                raise BadRequest("nothing changed")
            policy.update(
                runtime.db,
                tenant,
                {"categories": {category: patch}},
                actor=_admin().actor,
                reason=reason,
                override_reason=_reason("override_reason", required=False) or None,
                policy_file=_policy_file(),
            )
        except policy.GoLiveBlocked as exc:
            error, blocked = exc.message, True
        except (BadRequest, access.RoleUnconfirmed) as exc:
            error = exc.message
        else:
            return _back(msg=f"{category}: saved ({', '.join(sorted(patch))})")
    return _page(
        "console/category.html",
        422 if error else 200,
        tenant=tenant,
        category=category,
        c=current,
        gate=current["go_live"],
        modes=MODES,
        error=error,
        blocked=blocked,
        form=request.form,
    )


@console_bp.post("/admin/console/caps")
def caps() -> Any:
    runtime, tenant = get_runtime(), _tenant()
    _admin().require_confirmed()
    values = {}
    for name in ("auto_replies_per_hour", "auto_replies_per_day"):
        text = (request.form.get(name) or "").strip()
        if not (text.isascii() and text.isdecimal()):
            raise BadRequest(f"{name.replace('_', ' ')} must be a whole number ≥ 0")
        values[name] = int(text)
    policy.update(
        runtime.db,
        tenant,
        {"caps": values},
        actor=_admin().actor,
        reason=_reason(),
        policy_file=_policy_file(),
    )
    return _back(msg="caps saved")


MINUTES_FIELDS = (
    metrics.MINUTES_PER_AUTO_REPLY_SETTING,
    metrics.MINUTES_PER_ASSIST_NOTE_SETTING,
)
MINUTES_LIMIT = 600  # what connector/pipeline/metrics.py accepts; beyond it counts as unset


def _minutes(name: str) -> float:
    text = (request.form.get(name) or "").strip()
    label = name.replace("_", " ")
    try:
        value = float(text)
    except ValueError:
        raise BadRequest(f"{label} must be a number of minutes") from None
    if not 0 <= value <= MINUTES_LIMIT:  # NaN fails this too
        raise BadRequest(f"{label} must be between 0 and {MINUTES_LIMIT} minutes")
    return value


@console_bp.post("/admin/console/minutes-saved")
def minutes_saved() -> Any:
    """The minutes an automated reply and an assist note save: the dashboard's time-saved
    estimate (docs/panel-and-dashboard.md). Tenant settings, each change audited."""
    runtime, tenant = get_runtime(), _tenant()
    _admin().require_confirmed()
    values = {name: _minutes(name) for name in MINUTES_FIELDS}
    reason = _reason()
    with transaction(runtime.db):  # both or neither
        changed = [
            name
            for name, value in values.items()
            if tenants.set_setting(
                runtime.db, tenant, name, value, actor=_admin().actor, reason=reason
            )
        ]
    return _back(msg="minutes saved: " + ("saved" if changed else "nothing changed"))


# --- the kill switch ---------------------------------------------------------------------------
@console_bp.post("/admin/console/kill-switch")
def kill_switch() -> Any:
    runtime, tenant = get_runtime(), _tenant()
    on = request.form.get("on") == "1"
    if not on:  # turning it on only stops writes: allowed while the role cannot be confirmed
        _admin().require_confirmed()
    reason = _reason()
    if request.form.get("confirm") != "yes":
        return _page(
            "console/confirm_kill.html",
            tenant=tenant,
            on=on,
            reason=reason,
            kill=killswitch.status(runtime.db, tenant),
        )
    killswitch.set_switch(runtime.db, tenant, on, actor=_admin().actor, reason=reason)
    return _back(msg="kill switch " + ("ON: every write is stopped" if on else "off"))


# --- replays -----------------------------------------------------------------------------------
@console_bp.post("/admin/console/replays")
def replay_start() -> Any:
    runtime, tenant = get_runtime(), _tenant()
    days = replays.parse_days(request.form.get("days", ""))
    try:
        runtime.services(tenant).require_desk()
    except ConfigError as exc:
        raise BadRequest(f"a replay reads past tickets from Zendesk: {exc.message}") from None
    replay_id = replays.request_replay(runtime, tenant, days, requested_by=_admin().actor)
    return redirect(url_for("console.replay_show", replay_id=replay_id, tenant=_tenant_arg()))


def _tenant_arg() -> str | None:
    return None if _admin().tenant_id else _tenant()


@console_bp.get("/admin/console/replays/<int:replay_id>")
def replay_show(replay_id: int) -> Any:
    runtime, tenant = get_runtime(), _tenant()
    found = replays.get(runtime, tenant, replay_id)
    modes = decisions.policy_view(runtime.db, tenant, policy_file=_policy_file())["categories"]
    return _page("console/replay.html", tenant=tenant, r=found, modes=modes)


# --- export ------------------------------------------------------------------------------------
def _day(name: str, default: date) -> date:
    text = (request.args.get(name) or "").strip()
    if not text:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"{name} must be a date (YYYY-MM-DD)") from None


def _cell(value: Any) -> Any:
    # A cell starting with = + - @ is a formula to spreadsheet programs (CSV injection).
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def export_rows(db: Any, tenant_id: str, start: date, end: date) -> Iterator[str]:
    """The CSV text, a few rows at a time: the header, then decisions created in [start, end]."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    cursor = db.conn.execute(
        f"SELECT {', '.join(EXPORT_COLUMNS)} FROM decisions WHERE tenant_id = ?"
        " AND created_at >= ? AND created_at < ? ORDER BY id",
        (tenant_id, start.isoformat(), (end + timedelta(days=1)).isoformat()),
    )
    while True:
        rows = cursor.fetchmany(500)
        for row in rows:
            writer.writerow([_cell(v) for v in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if not rows:
            return


@console_bp.get("/admin/console/export.csv")
def export() -> Response:
    runtime, tenant = get_runtime(), _tenant()
    end = _day("to", date.today())
    start = _day("from", end - timedelta(days=30))
    if start > end:
        raise BadRequest("from must not be after to")
    name = f"deskguard-decisions-{tenant}-{start}-{end}.csv"
    response = Response(
        stream_with_context(export_rows(runtime.db, tenant, start, end)), mimetype="text/csv"
    )
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@console_bp.app_template_filter("dg_prob")
def _prob(value: Any) -> str:
    """A probability as a percentage that never reads 100 % (or 0 %) unless it is exact."""
    if value is None:
        return "—"
    pct = float(value) * 100
    if 99.5 <= pct < 100:
        return ">99%"
    if 0 < pct < 0.5:
        return "<1%"
    return f"{pct:.0f}%"
