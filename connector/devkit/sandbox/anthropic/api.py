"""What the Anthropic sandbox's routes share: JSON answers with a ``request-id`` header, and
Anthropic's 404 for any ``/v1`` URL the sandbox does not serve."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response

from connector.devkit.sandbox.anthropic.state import AnthropicState, ApiError


def respond(
    status: int, payload: dict[str, Any], request_id: str, headers: dict[str, str] | None = None
) -> Response:
    out = Response(json.dumps(payload), status=status, mimetype="application/json")
    out.headers["request-id"] = request_id
    for k, v in (headers or {}).items():
        out.headers[k] = v
    return out


def unknown_urls_blueprint(state: AnthropicState) -> Blueprint:
    bp = Blueprint("unknown_urls", __name__)

    @bp.route("/v1/<path:path>", methods=["GET", "POST", "DELETE"])
    def not_found(path: str):
        request_id = state.new_id("req")
        return respond(404, ApiError(404, f"Not found: /v1/{path}").body(request_id), request_id)

    return bp
