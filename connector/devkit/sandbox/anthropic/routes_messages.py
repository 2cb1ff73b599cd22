"""``POST /v1/messages`` of the Anthropic sandbox, over the real wire format.

Auth is ``x-api-key`` (or ``Authorization: Bearer``), else 401 ``authentication_error``;
``anthropic-version`` is required (400 otherwise). Injected failures answer before the request
is validated, with ``retry-after`` and ``retry-after-ms`` when asked. Every request is recorded,
raw body included, for tests that inspect what left the machine.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

from flask import Blueprint, Response, request

from connector.devkit.sandbox.anthropic.api import respond
from connector.devkit.sandbox.anthropic.replies import ReadTicket, answer
from connector.devkit.sandbox.anthropic.state import AnthropicState, ApiError
from connector.devkit.sandbox.anthropic.usage import CHARS_PER_TOKEN, estimate_tokens, usage_for
from connector.devkit.sandbox.anthropic.validation import validate

FAILURE_MESSAGES = {
    429: "Number of request tokens has exceeded your per-minute rate limit",
    529: "Overloaded",
}


def messages_blueprint(state: AnthropicState, read_ticket: ReadTicket) -> Blueprint:
    """The Messages endpoint; ``read_ticket`` answers for Deskguard's reading tool."""
    bp = Blueprint("messages", __name__)

    @bp.post("/v1/messages")
    def messages() -> Response:
        request_id = state.new_id("req")
        raw = request.get_data(as_text=True)
        given_key = request.headers.get("x-api-key") or request.headers.get(
            "Authorization", ""
        ).removeprefix("Bearer ")
        entry: dict[str, Any] = {
            "id": request_id,
            "path": request.path,
            "body": raw,
            "status": None,
            "anthropic_version": request.headers.get("anthropic-version"),
        }
        with state.lock:
            state.requests.append(entry)
            delay = state.delay_seconds
        if delay:
            time.sleep(delay)
        try:
            _admit(state, given_key)
            message = _message(state, given_key, raw, read_ticket)
        except ApiError as exc:
            entry["status"] = exc.status
            return respond(exc.status, exc.body(request_id), request_id, exc.headers)
        entry["status"] = 200
        entry["usage"] = dict(message["usage"])
        return respond(200, message, request_id)

    return bp


def _admit(state: AnthropicState, given_key: str) -> None:
    """Raise for an unknown key, an injected failure or a missing ``anthropic-version``."""
    with state.lock:
        if given_key not in state.api_keys:
            raise ApiError(401, "invalid x-api-key")
        failure = state._take_failure()
    if failure is not None:
        headers = {}
        if failure.retry_after is not None:
            headers = {
                "retry-after": str(max(1, math.ceil(failure.retry_after))),
                "retry-after-ms": str(int(failure.retry_after * 1000)),
            }
        raise ApiError(
            failure.status,
            FAILURE_MESSAGES.get(failure.status, "Internal server error"),
            headers=headers,
        )
    if not request.headers.get("anthropic-version"):
        raise ApiError(400, "anthropic-version: header is required")


def _message(
    state: AnthropicState, given_key: str, raw: str, read_ticket: ReadTicket
) -> dict[str, Any]:
    """The reply to a valid request: content, stop reason and usage (cache counters
    included)."""
    try:
        body = json.loads(raw)
    except ValueError:
        raise ApiError(400, "request body is not valid JSON") from None
    validate(body)
    with state.lock:
        usage: dict[str, Any] = usage_for(state, given_key, body)
    with state.lock:
        refuse = state.refusals > 0
        state.refusals -= int(refuse)
    content: list[dict[str, Any]]
    stop_details = None
    if refuse:  # a 200 answer; stop_details names the policy area ("Refusals and fallback")
        content, stop_reason = [], "refusal"
        stop_details = {"type": "refusal", "category": state.refusal_category, "explanation": None}
    else:
        content, stop_reason = answer(state, body, read_ticket)
        content, stop_reason = _truncate(content, stop_reason, int(body["max_tokens"]))
    usage["output_tokens"] = estimate_tokens(content) if content else 0
    if stop_reason == "max_tokens":  # the model wrote exactly its budget
        usage["output_tokens"] = int(body["max_tokens"])
    usage["cache_creation"] = {
        "ephemeral_5m_input_tokens": usage["cache_creation_input_tokens"],
        "ephemeral_1h_input_tokens": 0,
    }
    usage["service_tier"] = "standard"
    return {
        "id": state.new_id("msg"),
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": content,
        "stop_reason": stop_reason,
        "stop_details": stop_details,
        "stop_sequence": None,
        "usage": usage,
    }


def _truncate(
    content: list[dict[str, Any]], stop_reason: str, max_tokens: int
) -> tuple[list[dict[str, Any]], str]:
    """What the API does when the answer needs more than ``max_tokens``: it stops there, with
    ``stop_reason: max_tokens``. Text is cut; a tool call that does not fit is not returned (its
    input would be incomplete JSON)."""
    if estimate_tokens(content) <= max_tokens:
        return content, stop_reason
    kept: list[dict[str, Any]] = []
    budget = max_tokens
    for block in content:
        cost = estimate_tokens(block)
        if cost <= budget:
            kept.append(block)
            budget -= cost
            continue
        if block.get("type") == "text" and budget > 0:
            chars = int(budget * CHARS_PER_TOKEN)
            kept.append({**block, "text": str(block.get("text", ""))[:chars]})
        break
    return kept, "max_tokens"
