"""The Flask app factory: every blueprint registered by name, one JSON error shape, health checks.

Every error answers ``{"error": {"code": "...", "message": "..."}}`` with a fitting status.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, abort, jsonify, request
from werkzeug.exceptions import HTTPException

from connector import logs
from connector.db import pending_migrations
from connector.errors import DeskguardError
from connector.runtime import Runtime
from connector.settings import Config
from connector.web_context import error_response

LOG = logs.get("web")


def create_app(
    config: Config | Mapping[str, Any] | None = None, *, runtime: Runtime | None = None
) -> Flask:
    runtime = runtime or Runtime(config)
    app = Flask("deskguard")
    app.config["MAX_CONTENT_LENGTH"] = runtime.config.max_body_bytes
    app.extensions["deskguard"] = runtime

    @app.before_request
    def _limit_body_size() -> None:
        # Refuse oversized bodies up front (413), before any route reads or parses them.
        if (
            request.content_length is not None
            and request.content_length > runtime.config.max_body_bytes
        ):
            abort(413)

    @app.errorhandler(DeskguardError)
    def _deskguard_error(exc: DeskguardError) -> Response:
        response = error_response(exc.http_status, exc.code, exc.message or exc.code)
        retry_after = getattr(exc, "retry_after", None)
        if exc.http_status == 429 and retry_after:
            response.headers["Retry-After"] = str(int(retry_after))
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        code = (exc.name or "error").lower().replace(" ", "_")
        return error_response(exc.code or 500, code, exc.description or exc.name)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        LOG.exception("web.unhandled_error")
        return error_response(500, "internal_error", "internal error; see the server log")

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify({"status": "ok"})

    @app.get("/readyz")
    def readyz() -> Response:
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

    register_blueprints(app)
    return app


def register_blueprints(app: Flask) -> None:
    """Every URL area of the sidecar, by name."""
    from connector.commerce import web as commerce_web
    from connector.dashboard import web as dashboard_web
    from connector.panel import web as panel_web
    from connector.pipeline import web as pipeline_web
    from connector.zendesk import web as zendesk_web

    app.register_blueprint(zendesk_web.bp)  # POST /webhooks/zendesk/<tenant>
    app.register_blueprint(commerce_web.shopify_bp)  # POST /webhooks/shopify[/<tenant>]
    app.register_blueprint(commerce_web.stripe_bp)  # POST /webhooks/stripe/<tenant>
    app.register_blueprint(pipeline_web.bp)  # /api/v1/tenants/<tenant>/{decisions,policy,...}
    app.register_blueprint(commerce_web.bp)  # /api/v1/tenants/<tenant>/approvals
    app.register_blueprint(panel_web.bp)  # /panel: the Zendesk app's side panel
    app.register_blueprint(dashboard_web.bp)  # /admin: the dashboard
