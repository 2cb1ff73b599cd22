"""The Flask app factory: every blueprint registered by name, one JSON error shape, health checks.

Every error answers ``{"error": {"code": "...", "message": "..."}}`` with a fitting status.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, abort, jsonify, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter, Map

from connector import logs
from connector.db import LedgerUnhealthy, check_ledger, pending_migrations
from connector.errors import DeskguardError
from connector.runtime import Runtime
from connector.settings import Config
from connector.web_context import error_response

LOG = logs.get("web")
# Every id in our paths is stored as an SQLite INTEGER: a signed 64-bit value.
MAX_PATH_ID = 2**63 - 1


class PathIdConverter(IntegerConverter):
    """``<int:...>`` for every route: ASCII digits only and at most 2^63-1, so an id SQLite cannot
    store answers 404 (werkzeug's own ``\\d+`` also matches other scripts' digits)."""

    regex = r"[0-9]+"

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_PATH_ID)
        super().__init__(map, *args, **kwargs)


class LedgerJSONProvider(DefaultJSONProvider):
    """Request bodies nested too deeply for the parser (RecursionError) count as malformed JSON,
    so ``get_json`` answers 400 (or None with ``silent=True``) instead of a 500."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError as exc:
            raise ValueError("JSON nested too deeply") from exc


def create_app(
    config: Config | Mapping[str, Any] | None = None, *, runtime: Runtime | None = None
) -> Flask:
    runtime = runtime or Runtime(config)
    app = Flask("deskguard")
    app.json = LedgerJSONProvider(app)
    app.url_map.converters["int"] = PathIdConverter  # before any blueprint adds its rules
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
        # Ready means the ledger can be read, is sound (quick_check) and can be written (a write
        # probe in a rolled-back transaction): a read-only or corrupted ledger fails every write.
        try:
            pending = pending_migrations(runtime.db)
            check_ledger(runtime.db, runtime.config.ledger_location)
        except LedgerUnhealthy as exc:
            return error_response(503, exc.code, exc.message)
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
    from connector import observability, openapi
    from connector.commerce import web as commerce_web
    from connector.connections import web as connections_web
    from connector.console import signin as console_signin
    from connector.console import web as console_web
    from connector.dashboard import web as dashboard_web
    from connector.panel import web as panel_web
    from connector.pipeline import web as pipeline_web
    from connector.zendesk import connect as zendesk_connect
    from connector.zendesk import web as zendesk_web

    app.register_blueprint(zendesk_web.bp)  # POST /webhooks/zendesk/<tenant>
    app.register_blueprint(commerce_web.shopify_bp)  # POST /webhooks/shopify[/<tenant>]
    app.register_blueprint(commerce_web.stripe_bp)  # POST /webhooks/stripe/<tenant>
    app.register_blueprint(pipeline_web.bp)  # /api/v1/tenants/<tenant>/{decisions,policy,...}
    app.register_blueprint(commerce_web.bp)  # /api/v1/tenants/<tenant>/approvals
    app.register_blueprint(panel_web.bp)  # /panel: the Zendesk app's side panel
    app.register_blueprint(dashboard_web.bp)  # /admin: the dashboard
    app.register_blueprint(observability.bp)  # GET /metrics (Prometheus)
    app.register_blueprint(openapi.bp)  # GET /api/openapi.json
    app.register_blueprint(zendesk_connect.bp)  # /connect/zendesk: OAuth connect, disconnect
    app.register_blueprint(connections_web.connections_bp)  # /admin/connections, /shopify/install
    app.register_blueprint(console_web.console_bp)  # /admin/console: policy, replay, kill switch
    app.register_blueprint(console_signin.signin_bp)  # /admin/login/zendesk, nav_bar launch
