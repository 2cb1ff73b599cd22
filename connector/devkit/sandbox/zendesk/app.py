"""The Zendesk sandbox's Flask app: one blueprint per API resource, behind a gate that checks
OAuth Bearer tokens (with their scopes) or API-token basic auth, rate limits
(429 + ``Retry-After``) and injected failures, and a hook that
logs every request and sets the ``X-Rate-Limit`` headers."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Flask, Response, g, jsonify, request

from connector.devkit.sandbox.zendesk.api import API
from connector.devkit.sandbox.zendesk.records import ApiError
from connector.devkit.sandbox.zendesk.routes_apps import apps_blueprint
from connector.devkit.sandbox.zendesk.routes_incremental import incremental_blueprint
from connector.devkit.sandbox.zendesk.routes_job_statuses import job_statuses_blueprint
from connector.devkit.sandbox.zendesk.routes_oauth import oauth_blueprint
from connector.devkit.sandbox.zendesk.routes_search import search_blueprint
from connector.devkit.sandbox.zendesk.routes_tickets import tickets_blueprint
from connector.devkit.sandbox.zendesk.routes_users import users_blueprint
from connector.devkit.sandbox.zendesk.routes_webhooks import triggers_blueprint, webhooks_blueprint
from connector.devkit.sandbox.zendesk.state import ZendeskState
from connector.devkit.sandbox.zendesk.state_oauth import scope_allows

NOT_AUTHENTICATED = {"error": "Couldn't authenticate you"}
INVALID_TOKEN = {
    "error": "invalid_token",
    "error_description": "The access token provided is expired, revoked, malformed or invalid.",
}
API_TOKENS_REFUSED = {
    "error": "Couldn't authenticate you",
    "description": "API token authentication is no longer available; use OAuth.",
}
BLUEPRINTS: tuple[Callable[[ZendeskState], Blueprint], ...] = (
    tickets_blueprint,
    job_statuses_blueprint,
    incremental_blueprint,
    search_blueprint,
    users_blueprint,
    webhooks_blueprint,
    triggers_blueprint,
    apps_blueprint,
    oauth_blueprint,
)


def create_zendesk_app(state: ZendeskState) -> Flask:
    app = Flask("zendesk-sandbox")
    app.extensions["zendesk_state"] = state
    app.register_error_handler(ApiError, _api_error)
    app.before_request(lambda: _gate(state))
    app.after_request(lambda response: _record(state, response))
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint(state))
    return app


def _api_error(exc: ApiError):
    return jsonify(exc.body), exc.status


def _gate(state: ZendeskState):
    """Authenticate the request, then apply rate limits and injected failures."""
    if not state.base_url:
        state.base_url = request.host_url.rstrip("/")
    g.user = None
    if not request.path.startswith(API + "/"):
        return None  # the OAuth pages and token endpoint authenticate the client themselves
    refused = _authenticate(state)
    if refused is not None:
        return refused
    wait = state.rate_limit_wait(export=request.path.startswith(API + "/incremental/"))
    if wait:
        response = jsonify(
            {
                "error": "APIRateLimitExceeded",
                "description": "Number of allowed API requests per minute exceeded",
            }
        )
        response.status_code = 429
        response.headers["Retry-After"] = str(wait)
        return response
    with state.lock:
        failure = state.fail_next.pop(0) if state.fail_next else None
    if failure:
        status, error = failure
        return jsonify({"error": error, "description": "injected by the sandbox"}), status
    return None


def _authenticate(state: ZendeskState):
    """Bearer (OAuth access token, scope-checked) or basic ``{email}/token`` (API token)."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        token = state.oauth.authenticate(header[7:].strip())
        if token is None:
            return jsonify(INVALID_TOKEN), 401
        resource = request.path[len(API) + 1 :].split("/")[0].removesuffix(".json")
        write = request.method not in ("GET", "HEAD")
        if resource != "oauth" and not scope_allows(token.scopes, resource, write):
            return jsonify({"error": "Forbidden", "description": "scope does not allow this"}), 403
        g.oauth_token = token
        g.user = state.users.get(token.user_id)
        return None if g.user is not None else (jsonify(NOT_AUTHENTICATED), 401)
    auth = request.authorization
    if auth is None or auth.type != "basic":
        return jsonify(NOT_AUTHENTICATED), 401
    if state.refuse_api_tokens:
        return jsonify(API_TOKENS_REFUSED), 401
    g.user = state.authenticate(auth.username or "", auth.password or "")
    if g.user is None:
        return jsonify(NOT_AUTHENTICATED), 401
    return None


def _record(state: ZendeskState, response: Response) -> Response:
    """Log the API request (body included for writes) and set the rate-limit headers. The OAuth
    pages and token endpoint are not API calls (and their bodies hold secrets): not logged."""
    if not request.path.startswith(API + "/"):
        return response
    writes = ("POST", "PUT", "PATCH", "DELETE")
    body = request.get_json(silent=True) if request.method in writes else None
    state.log_request(
        method=request.method,
        path=request.path,
        query=request.query_string.decode(),
        json=body,
        status=response.status_code,
        user=(g.get("user") or {}).get("email"),
    )
    if state.limiter.per_minute:
        response.headers["X-Rate-Limit"] = str(state.limiter.per_minute)
        response.headers["X-Rate-Limit-Remaining"] = str(
            max(0, state.limiter.per_minute - len(state.limiter.calls))
        )
    return response
