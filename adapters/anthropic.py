"""Anthropic Messages API adapter: the only module that imports the ``anthropic`` SDK.

It owns one ``anthropic.Anthropic`` client per tenant, with timeout and retries set explicitly
from settings (the SDK's own defaults are 600 s and 2 retries; see docs/vendors/anthropic.md),
and turns every reply into our ``ModelReply`` and every SDK error into ``TransientError`` /
``PermanentError`` at the boundary.

Retries are ours, not the SDK's: the SDK honours any ``retry-after`` with no cap (two 429s with
``retry-after: 600`` would hold a worker 20 minutes), so its client is built with
``max_retries=0`` and ``create_message`` retries 408/409/429/5xx and connection errors itself,
waiting through a ``connector.waits.WaitBudget``: a wait that fits DESKGUARD_VENDOR_MAX_WAIT_SECONDS
is spent in place, a longer one ends the call with ``TransientError(retry_after=...)`` and the
worker re-queues the job with that delay. The SDK's own schedule is kept when the API gives no
``retry-after``: 0.5 s doubling to at most 8 s ("Retries" in the anthropic-sdk-python README,
https://github.com/anthropics/anthropic-sdk-python#retries).

Following the Claude Haiku 5.5 migration guide
(https://platform.claude.com/docs/en/models/haiku-5-5/migration-guide): no sampling parameters
(the SDK has no ``temperature`` any more and the model answers 400 to them), no assistant prefill,
content blocks picked by ``type`` (a reply may start with a ``thinking`` block), and
``stop_reason: "refusal"`` (a normal 200 answer, with ``stop_details.category``) passed up in
``ModelReply`` for the engine to handle. A 400 that says ``tool_choice`` cannot force a tool (with
thinking on, or at all on some models) becomes ``PermanentError(code="forced_tool_use_refused")``
so the engine can ask for structured output instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anthropic
import httpx2

from connector.claude_models import FORCED_TOOL_USE_REFUSED
from connector.domain import Usage
from connector.errors import PermanentError, TransientError
from connector.waits import DEFAULT_MAX_WAIT, WaitBudget

VENDOR = "anthropic"
INITIAL_RETRY_DELAY = 0.5  # the SDK's schedule when the API gives no retry-after
MAX_RETRY_DELAY = 8.0


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    input: Any  # whatever the model produced: validate before use


@dataclass(frozen=True)
class ModelReply:
    """One Messages API reply, in our own terms."""

    model: str
    stop_reason: str | None
    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage = field(default_factory=Usage)
    request_id: str | None = None
    refusal_category: str | None = None  # stop_details.category of a refusal, when given


def _retry_after(exc: anthropic.APIStatusError) -> float | None:
    headers = exc.response.headers
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        try:
            return float(headers[name]) / scale
        except (KeyError, TypeError, ValueError):
            continue
    return None


def translate_error(exc: Exception) -> TransientError | PermanentError:
    """Map an anthropic SDK exception to our error with retry semantics."""
    if isinstance(exc, anthropic.APITimeoutError):
        return TransientError("Anthropic request timed out", vendor=VENDOR, code="vendor_timeout")
    if isinstance(exc, anthropic.APIConnectionError):
        return TransientError("cannot reach the Anthropic API", vendor=VENDOR)
    if isinstance(exc, anthropic.APIStatusError):
        status = exc.status_code
        body = exc.body if isinstance(exc.body, dict) else {}
        detail = body.get("error", {}) if isinstance(body.get("error"), dict) else {}
        kind = detail.get("type") or type(exc).__name__
        message = f"Anthropic API {status} {kind}"
        if status in (408, 409, 429) or status >= 500:
            return TransientError(
                message, vendor=VENDOR, status=status, retry_after=_retry_after(exc)
            )
        said = str(detail.get("message") or "")[:300]
        code = FORCED_TOOL_USE_REFUSED if status == 400 and "tool_choice" in said else None
        # The API's own words for a 4xx (our request, not the ticket, is what it describes).
        return PermanentError(
            f"{message}: {said}" if said else message, vendor=VENDOR, status=status, code=code
        )
    return PermanentError(f"Anthropic SDK error: {type(exc).__name__}", vendor=VENDOR)


def _usage(raw: Any) -> Usage:
    if raw is None:
        return Usage()
    return Usage(
        input_tokens=raw.input_tokens or 0,
        output_tokens=raw.output_tokens or 0,
        cache_creation_input_tokens=raw.cache_creation_input_tokens or 0,
        cache_read_input_tokens=raw.cache_read_input_tokens or 0,
    )


def _refusal_category(message: Any) -> str | None:
    details = getattr(message, "stop_details", None)
    return getattr(details, "category", None) if details is not None else None


class AnthropicClient:
    """A configured Messages API client for one tenant."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        timeout: float,
        connect_timeout: float,
        max_retries: int,
        max_wait: float = DEFAULT_MAX_WAIT,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.timeout = httpx2.Timeout(timeout, connect=connect_timeout)
        self.max_retries = max_retries
        self.max_wait = max_wait
        self._sleep = sleep
        self._client = anthropic.Anthropic(
            api_key=api_key,
            base_url=base_url,
            timeout=self.timeout,
            max_retries=0,  # retried by create_message, with bounded waits
            open_telemetry=False,  # no spans carrying request content
        )

    @classmethod
    def from_config(cls, config: Any, api_key: str) -> AnthropicClient:
        return cls(
            api_key=api_key,
            base_url=config.anthropic_base_url,
            timeout=config.claude_timeout_seconds,
            connect_timeout=config.claude_connect_timeout_seconds,
            max_retries=config.claude_max_retries,
            max_wait=float(config.get("vendor_max_wait_seconds", DEFAULT_MAX_WAIT)),
        )

    def create_message(self, **params: Any) -> ModelReply:
        """POST /v1/messages. Raises TransientError / PermanentError."""
        budget = WaitBudget(self.max_wait, sleep=self._sleep)
        attempt = 0
        while True:
            try:
                message = self._client.messages.create(**params)
                break
            except anthropic.AnthropicError as exc:
                error = translate_error(exc)
            if not error.should_retry or attempt >= self.max_retries:
                raise error from None
            delay = error.retry_after
            if delay is None:
                delay = min(MAX_RETRY_DELAY, INITIAL_RETRY_DELAY * 2**attempt)
            budget.wait(delay, vendor=VENDOR, status=error.status)  # or TransientError: requeue
            attempt += 1
        text_parts, calls = [], []
        for block in message.content:
            if block.type == "text":
                text_parts.append(block.text)
            elif block.type == "tool_use":
                calls.append(ToolCall(id=block.id, name=block.name, input=block.input))
        return ModelReply(
            model=message.model,
            stop_reason=message.stop_reason,
            text="".join(text_parts),
            tool_calls=tuple(calls),
            usage=_usage(message.usage),
            request_id=getattr(message, "_request_id", None),
            refusal_category=_refusal_category(message),
        )

    def close(self) -> None:
        self._client.close()
