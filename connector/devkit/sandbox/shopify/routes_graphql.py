"""The Shopify sandbox's one endpoint: ``POST /admin/api/<version>/graphql.json``.

Requests need ``X-Shopify-Access-Token`` (401 otherwise, with Shopify's error body) and a valid
API version (404). graphql-core parses, validates and executes them against a slice of the real
2026-10 schema, so invalid documents fail as they would in a shop. Every answer carries
``extensions.cost`` with a leaky-bucket ``throttleStatus``; a query costing more than the bucket
holds gets Shopify's ``THROTTLED`` error (HTTP 200).

Versions, as Shopify answers them ("About Shopify API versioning",
https://shopify.dev/docs/api/usage/versioning): ``X-Shopify-API-Version`` names the version that
served the request; a version past its support window falls forward to the oldest supported one
(the emulator still executes the 2026-10 slice). A request using deprecated schema parts is
answered with ``X-Shopify-API-Deprecated-Reason`` naming them (``deprecations.py``);
``ShopifyState.answer_version`` and ``deprecation_reason`` force either header for tests.
"""

from __future__ import annotations

import re
import time
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from connector.api_versions import shopify_answered_version
from connector.devkit.sandbox.shopify.deprecations import deprecated_usage
from connector.devkit.sandbox.shopify.query import query_cost
from connector.devkit.sandbox.shopify.resolvers import ShopRoot
from connector.devkit.sandbox.shopify.state import ShopifyState

API_VERSION_RE = re.compile(r"^(\d{4}-(01|04|07|10)|unstable)$")
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
FAILURE_TEXTS = {
    402: "Unavailable Shop",
    423: "Locked",
    429: "Exceeded 2 calls per second for api client.",
}
THROTTLED = {
    "message": "Throttled",
    "extensions": {
        "code": "THROTTLED",
        "documentation": "https://shopify.dev/api/usage/rate-limits",
    },
}


def graphql_blueprint(schema: Any) -> Blueprint:
    """The endpoint over ``schema``. It reads the shop from ``app.extensions["shopify_state"]``
    on every request, so a test can swap in a fresh shop without restarting the server."""
    bp = Blueprint("graphql", __name__)

    @bp.post("/admin/api/<version>/graphql.json")
    def graphql_endpoint(version: str):
        state: ShopifyState = current_app.extensions["shopify_state"]
        refusal = _refusal(state, version)
        if refusal is not None:
            return refusal
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return jsonify({"errors": {"query": "Required parameter missing or invalid"}}), 400
        answered = state.answer_version or shopify_answered_version(version, state.today())
        with state.lock:
            state.versions_requested.append(version)
        return _answer(state, schema, body, {"X-Shopify-API-Version": answered})

    return bp


def _refusal(state: ShopifyState, version: str):
    """The answer for a bad token, an unknown API version or an injected failure (after any
    injected delay); None when the request may go on."""
    if not state.token_valid(request.headers.get("X-Shopify-Access-Token")):
        return jsonify({"errors": INVALID_TOKEN}), 401
    if not API_VERSION_RE.match(version):
        return jsonify({"errors": "Not Found"}), 404
    delay = state.take_delay()
    if delay:
        time.sleep(delay)
    failure = state.take_failure()
    if failure is None:
        return None
    status, retry_after = failure
    extra = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
    text = FAILURE_TEXTS.get(status, "Internal Server Error" if status >= 500 else "Error")
    return jsonify({"errors": text}), status, extra


def _answer(state: ShopifyState, schema: Any, body: dict[str, Any], headers: dict[str, str]):
    """Parse, validate, price and (when the bucket allows) execute one GraphQL request."""
    from graphql import ExecutionResult, GraphQLError, execute, parse, validate

    variables = body.get("variables") or {}
    op_name = body.get("operationName")
    try:
        document = parse(body["query"])
    except GraphQLError as exc:
        return jsonify({"errors": [exc.formatted]}), 200, headers
    errors = validate(schema, document)
    if errors:
        return jsonify({"errors": [e.formatted for e in errors]}), 200, headers
    used = deprecated_usage(schema, document, variables if isinstance(variables, dict) else None)
    reason = state.deprecation_reason or ", ".join(used)
    if reason:
        headers = {**headers, "X-Shopify-API-Deprecated-Reason": reason}
    cost = query_cost(schema, document, op_name, variables)
    allowed, throttle = state.spend(cost)
    extensions = {
        "cost": {
            "requestedQueryCost": cost,
            "actualQueryCost": cost if allowed else None,
            "throttleStatus": throttle,
        }
    }
    with state.lock:
        state.requests.append(
            {"operation": op_name, "variables": variables, "cost": cost, "throttled": not allowed}
        )
    if not allowed:
        return jsonify({"errors": [THROTTLED], "extensions": extensions}), 200, headers
    with state.lock:  # resolvers read and mutate shared state
        result = execute(
            schema,
            document,
            root_value=ShopRoot(state),
            variable_values=variables,
            operation_name=op_name,
        )
    assert isinstance(result, ExecutionResult)  # the resolvers are synchronous: never awaitable
    out: dict[str, Any] = {"data": result.data}
    if result.errors:
        out["errors"] = [e.formatted for e in result.errors]
    out["extensions"] = extensions
    return jsonify(out), 200, headers
