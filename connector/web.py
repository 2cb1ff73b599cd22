"""The Flask app factory and the parts every area shares: one JSON error shape, health checks.

Every error answers ``{"error": {"code": "...", "message": "..."}}`` with a fitting status.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, abort, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from connector import areas, logs
from connector.db import pending_migrations
from connector.errors import DeskguardError, Unauthorized
from connector.runtime import Runtime
from connector.settings import Config

LOG = logs.get("web")


def error_response(status: int, code: str, message: str, **extra: Any):
    body = {"error": {"code": code, "message": message, **extra}}
    return jsonify(body), status


def create_app(
    config: Config | Mapping[str, Any] | None = None, *, runtime: Runtime | None = None
) -> Flask:
    runtime = runtime or Runtime(config)
    app = Flask("deskguard")
    app.config["MAX_CONTENT_LENGTH"] = runtime.config.max_body_bytes
    app.extensions["deskguard"] = runtime

    @app.before_request
    def _limit_body_size():
        # Refuse oversized bodies up front (413), before any route reads or parses them.
        if (
            request.content_length is not None
            and request.content_length > runtime.config.max_body_bytes
        ):
            abort(413)

    @app.errorhandler(DeskguardError)
    def _deskguard_error(exc: DeskguardError):
        response = error_response(exc.http_status, exc.code, exc.message or exc.code)
        retry_after = getattr(exc, "retry_after", None)
        if exc.http_status == 429 and retry_after:
            response[0].headers["Retry-After"] = str(int(retry_after))
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        return error_response(exc.code or 500, code, exc.description or exc.name)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        LOG.exception("web.unhandled_error")
        return error_response(500, "internal_error", "internal error; see the server log")

    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "ok"})

    @app.get("/readyz")
    def readyz():
        try:
            pending = pending_migrations(runtime.db)
        except Exception as exc:
            return error_response(
                503, "ledger_unavailable", f"ledger not readable: {type(exc).__name__}"
            )
        if pending:
            return error_response(
                503, "migrations_pending", "run `deskguard migrate` first", pending=pending
            )
        return jsonify({"status": "ready"})

    for register in areas.hook("register_web"):
        register(app)
    return app


def get_runtime() -> Runtime:
    return current_app.extensions["deskguard"]


class AdminApiDisabled(DeskguardError):
    http_status = 403
    code = "admin_api_disabled"


class TooManyAttempts(DeskguardError):
    http_status = 429
    code = "too_many_attempts"

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


def admin_token_matches(config, presented: str | None) -> bool:
    """Constant-time check of a presented token against DESKGUARD_ADMIN_TOKEN (unset: never matches)."""
    import hmac

    expected = config.admin_token
    if not expected or not presented:
        return False
    return hmac.compare_digest(presented.encode("utf-8"), str(expected).encode("utf-8"))


def require_admin() -> None:
    """``before_request`` guard for the admin API: bearer DESKGUARD_ADMIN_TOKEN, and a known tenant."""
    from connector.panel import login_limit  # shares the /admin sign-in's failure counter
    from connector.tenants import get_tenant

    runtime = get_runtime()
    config = runtime.config
    if not config.admin_token:
        raise AdminApiDisabled("the admin API is off: set DESKGUARD_ADMIN_TOKEN")
    ip = login_limit.client_ip(request, config.trusted_proxy_hops)
    lockout = login_limit.check(runtime.db, config, ip)
    if lockout is not None:
        raise TooManyAttempts(lockout.message(), retry_after=lockout.retry_after)
    header = request.headers.get("Authorization", "")
    presented = header[7:].strip() if header.startswith("Bearer ") else ""
    if not admin_token_matches(config, presented):
        login_limit.record_failure(runtime.db, config, ip, via="admin_api")
        raise Unauthorized(
            "a valid admin token is required (Authorization: Bearer <DESKGUARD_ADMIN_TOKEN>)"
        )
    tenant = (request.view_args or {}).get("tenant")
    if tenant is not None:
        get_tenant(get_runtime().db, tenant)  # NotFound → 404
