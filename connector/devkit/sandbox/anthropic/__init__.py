"""An Anthropic Messages API emulator: ``POST /v1/messages`` over the real wire format.

The real ``anthropic`` SDK talks to it over HTTP (``Anthropic(api_key=..., base_url=url)``).
What it reproduces, because Deskguard's behaviour depends on it (docs/vendors/anthropic.md):

- auth: ``x-api-key`` (or ``Authorization: Bearer``) must be a known key, else 401 with the
  error shape ``{"type": "error", "error": {"type": "authentication_error", "message"}}``;
  ``anthropic-version`` is required (400 otherwise). Every reply carries a ``request-id``.
- request validation: model, max_tokens ≥ 1, user/assistant turns, system blocks, tools with an
  ``input_schema``, a ``tool_choice`` that names a declared tool; streaming is not emulated.
- forced tool use: ``tool_choice {"type": "tool", "name": N}`` (or ``any``) answers with one
  ``tool_use`` block for N and ``stop_reason: "tool_use"``. For Deskguard's reading tool the
  input is the embedded local model's reading of the ``<ticket>`` in the prompt (a keyword
  heuristic until that model is installed); a text reply is a short templated draft.
- the Claude 5.5 rules (``validation.py``): sampling parameters and an assistant prefill are
  400 for Haiku 5.5; Haiku 5.5 thinks unless ``thinking: {"type": "disabled"}`` (its answers
  start with an empty ``thinking`` block); a forced tool call while the model thinks is 400
  "Thinking may not be enabled when tool_choice forces tool use.", and on Sonnet/Opus 5.5 always;
  ``output_config.format`` (structured output) is answered with JSON in a text block, the
  reading for Deskguard's schema; schemas outside the structured-output subset are 400.
- refusals on demand (``refuse_next``): a 200 with ``stop_reason: "refusal"`` and
  ``stop_details.category``; an answer longer than ``max_tokens`` is cut with
  ``stop_reason: "max_tokens"``.
- prompt caching: blocks up to the last ``cache_control`` breakpoint (order: tools, system,
  messages) form the cached prefix. The first request with a prefix reports
  ``cache_creation_input_tokens``, later ones within the TTL (5m or 1h) report
  ``cache_read_input_tokens``; a prefix shorter than the model's minimum (4096 tokens for Haiku
  4.5, 1024 for Sonnet 4.5) is silently not cached, as on the real API. Tokens are estimated as
  characters / 4, so counts are plausible, not Anthropic's tokenizer.
- failures on demand: ``fail(status, times, retry_after)`` answers the next requests with
  429 ``rate_limit_error`` / 529 ``overloaded_error`` / 500 ``api_error`` (with ``retry-after``
  and ``retry-after-ms`` when asked); ``invalid_next(times)`` returns tool input that breaks the
  reading schema; ``delay_seconds`` slows every answer (timeouts).
- every request is recorded (raw body included) for tests that inspect what left the machine.

Emulators import no vendor SDK. Control plane: ``AnthropicState`` methods, or ``/_sandbox/...``
endpoints (loopback only, no auth).

Layout: ``state.py`` (the account), ``usage.py`` (tokens and the prompt cache),
``validation.py``, ``replies.py`` and ``heuristic.py`` (what the "model" answers), one
blueprint per resource (``routes_messages.py``, ``routes_control.py``, ``api.py``). This module
holds the app factory, the server, and ``reading_input``: the embedded local model's reading,
with the model cached in ``_local_model``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from flask import Flask

from connector.devkit.sandbox import RunningServer, serve_in_thread
from connector.devkit.sandbox.anthropic.api import unknown_urls_blueprint
from connector.devkit.sandbox.anthropic.heuristic import KEYWORDS, heuristic_reading
from connector.devkit.sandbox.anthropic.replies import DRAFTS, INVALID_READING, answer, draft_text
from connector.devkit.sandbox.anthropic.routes_control import sandbox_control_blueprint
from connector.devkit.sandbox.anthropic.routes_messages import messages_blueprint
from connector.devkit.sandbox.anthropic.state import (
    DEMO_API_KEY,
    ERROR_TYPES,
    MIN_CACHE_TOKENS,
    AnthropicState,
    ApiError,
    Failure,
)
from connector.devkit.sandbox.anthropic.usage import (
    CHARS_PER_TOKEN,
    DEFAULT_MIN_CACHE_TOKENS,
    TTL_SECONDS,
    estimate_tokens,
    usage_for,
)
from connector.devkit.sandbox.anthropic.validation import KNOWN_PARAMS, validate
from connector.domain import RISK_FLAGS, TicketText

# --- the reading tool's answer: the embedded local model, else the keyword heuristic ----------
# The model is loaded once per process, on first use, and kept in this module's ``_local_model``
# (None: not loaded yet; False: not available), which tests may replace.
_local_lock = threading.Lock()
_local_model: Any = None


def _local_classifier() -> Any:
    """The embedded local model, loaded once; ``False`` when it is not available."""
    global _local_model
    with _local_lock:
        if _local_model is None:
            try:
                from connector.classify.local import LocalClassifier

                _local_model = LocalClassifier.load()
            except Exception:  # not installed or not trained yet: the keyword heuristic answers
                _local_model = False
        return _local_model


def reading_input(subject: str, body: str) -> dict[str, Any]:
    """The tool input for a reading: the local model's reading, else the keyword heuristic."""
    model = _local_classifier()
    if not model:
        return heuristic_reading(subject, body)
    r = model.classify(TicketText(subject=subject, body=body))
    return {
        "category": r.category,
        "confidence": round(float(r.confidence), 4),
        "alternatives": [{"category": c, "score": round(float(s), 4)} for c, s in r.alternatives][
            :3
        ],
        "sentiment": r.sentiment,
        "sentiment_score": round(float(r.sentiment_score), 3),
        "urgency": r.urgency,
        "language": r.language,
        "entities": {
            "order_numbers": list(r.entities.order_numbers),
            "emails": list(r.entities.emails),
            "tracking_numbers": list(r.entities.tracking_numbers),
            "amounts": list(r.entities.amounts),
        },
        "reasons": [*list(r.reasons)[:4], "sandbox: answered by the local model"],
        "risk_flags": [f for f in r.risk_flags if f in RISK_FLAGS],
    }


# --- the app and its server -----------------------------------------------------------------
def create_app(state: AnthropicState | None = None) -> Flask:
    """The emulator as a Flask app: the Messages API, Anthropic's 404 for other ``/v1`` URLs, and
    the ``/_sandbox`` control plane."""
    state = state or AnthropicState()
    app = Flask("deskguard-sandbox-anthropic")
    app.config["anthropic_state"] = state
    app.register_blueprint(messages_blueprint(state, reading_input))
    app.register_blueprint(unknown_urls_blueprint(state))
    app.register_blueprint(sandbox_control_blueprint(state))
    return app


@dataclass
class AnthropicSandbox:
    server: RunningServer
    state: AnthropicState
    api_key: str

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def env(self) -> dict[str, str]:
        """The settings that point Deskguard at this sandbox."""
        return {
            "DESKGUARD_CLASSIFIER": "claude",
            "DESKGUARD_ANTHROPIC_BASE_URL": self.url,
            "DESKGUARD_ANTHROPIC_API_KEY": self.api_key,
        }

    def stop(self) -> None:
        self.server.stop()


def start_anthropic_sandbox(
    state: AnthropicState | None = None,
    *,
    api_key: str = DEMO_API_KEY,
    host: str = "127.0.0.1",
    port: int = 0,
) -> AnthropicSandbox:
    """Serve the emulator (port 0: a free loopback port) for tests and ``make demo``."""
    state = state or AnthropicState()
    state.add_key(api_key)
    return AnthropicSandbox(
        serve_in_thread(create_app(state), host=host, port=port), state, api_key
    )


__all__ = [
    "CHARS_PER_TOKEN",
    "DEFAULT_MIN_CACHE_TOKENS",
    "DEMO_API_KEY",
    "DRAFTS",
    "ERROR_TYPES",
    "INVALID_READING",
    "KEYWORDS",
    "KNOWN_PARAMS",
    "MIN_CACHE_TOKENS",
    "TTL_SECONDS",
    "AnthropicSandbox",
    "AnthropicState",
    "ApiError",
    "Failure",
    "answer",
    "create_app",
    "draft_text",
    "estimate_tokens",
    "reading_input",
    "start_anthropic_sandbox",
    "usage_for",
    "validate",
]
