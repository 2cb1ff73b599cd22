"""An Anthropic Messages API emulator: ``POST /v1/messages`` over the real wire format.

The real ``anthropic`` SDK talks to it over HTTP (``Anthropic(api_key=..., base_url=url)``).
What it reproduces, because Deskguard's behaviour depends on it (INTEGRATIONS.md §4):

- auth: ``x-api-key`` (or ``Authorization: Bearer``) must be a known key, else 401 with the
  error shape ``{"type": "error", "error": {"type": "authentication_error", "message"}}``;
  ``anthropic-version`` is required (400 otherwise). Every reply carries a ``request-id``.
- request validation: model, max_tokens ≥ 1, user/assistant turns, system blocks, tools with an
  ``input_schema``, a ``tool_choice`` that names a declared tool; streaming is not emulated.
- forced tool use: ``tool_choice {"type": "tool", "name": N}`` (or ``any``) answers with one
  ``tool_use`` block for N and ``stop_reason: "tool_use"``. For Deskguard's reading tool the
  input is the embedded local model's reading of the ``<ticket>`` in the prompt (a keyword
  heuristic until that model is installed); a text reply is a short templated draft.
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
"""

from __future__ import annotations

import hashlib
import html
import itertools
import json
import math
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, request

from connector.domain import RISK_FLAGS
from connector.sandbox import RunningServer, serve_in_thread

DEMO_API_KEY = "sk-ant-sandbox-deskguard-demo"
CHARS_PER_TOKEN = 4.0
# Minimum cacheable prefix per model (INTEGRATIONS §4 [A8, A9]); others default to 1024.
MIN_CACHE_TOKENS = {
    "claude-haiku-4-5": 4096,
    "claude-haiku-4-5-20251001": 4096,
    "claude-opus-4-5": 4096,
    "claude-opus-4-6": 4096,
    "claude-sonnet-4-5": 1024,
    "claude-opus-4-1": 1024,
    "claude-opus-4": 1024,
    "claude-3-5-haiku-latest": 2048,
    "claude-3-haiku-20240307": 2048,
}
DEFAULT_MIN_CACHE_TOKENS = 1024
TTL_SECONDS = {"5m": 300.0, "1h": 3600.0}
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    503: "api_error",
    529: "overloaded_error",
}
KNOWN_PARAMS = {
    "model",
    "max_tokens",
    "messages",
    "system",
    "tools",
    "tool_choice",
    "metadata",
    "stop_sequences",
    "stream",
    "temperature",
    "top_p",
    "top_k",
    "thinking",
    "service_tier",
    "output_config",
    "cache_control",
    "container",
    "inference_geo",
    "speed",
    "diagnostics",
    "user_profile_id",
    "workspace_id",
}


class ApiError(Exception):
    def __init__(self, status: int, message: str, *, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}

    def body(self, request_id: str) -> dict[str, Any]:
        return {
            "type": "error",
            "error": {"type": ERROR_TYPES.get(self.status, "api_error"), "message": self.message},
            "request_id": request_id,
        }


@dataclass
class Failure:
    status: int
    times: int
    retry_after: float | None = None


@dataclass
class AnthropicState:
    """In-memory API account. Every public method is thread-safe."""

    api_keys: set[str] = field(default_factory=lambda: {DEMO_API_KEY})
    clock: Callable[[], float] = time.monotonic
    delay_seconds: float = 0.0
    min_cache_tokens: dict[str, int] = field(default_factory=lambda: dict(MIN_CACHE_TOKENS))
    failures: list[Failure] = field(default_factory=list)
    invalid_outputs: int = 0
    scripted_texts: list[str] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    cache: dict[str, float] = field(default_factory=dict)  # prefix key -> expiry (clock time)
    lock: threading.RLock = field(default_factory=threading.RLock)
    _seq: itertools.count = field(default_factory=lambda: itertools.count(1))

    # --- control plane ---------------------------------------------------------------
    def add_key(self, key: str) -> str:
        with self.lock:
            self.api_keys.add(key)
        return key

    def fail(self, status: int = 529, times: int = 1, retry_after: float | None = None) -> None:
        """The next ``times`` requests answer ``status`` (e.g. 429, 529, 500). A 429 always
        carries ``retry-after`` (1 s unless given), as the real API's does."""
        if status == 429 and retry_after is None:
            retry_after = 1.0
        with self.lock:
            self.failures.append(Failure(status, times, retry_after))

    def invalid_next(self, times: int = 1) -> None:
        """The next ``times`` tool_use answers carry input that fails the reading schema."""
        with self.lock:
            self.invalid_outputs += times

    def script_text(self, *texts: str) -> None:
        """The next text answers are exactly these strings (in order)."""
        with self.lock:
            self.scripted_texts.extend(texts)

    def reset(self) -> None:
        with self.lock:
            self.failures.clear()
            self.scripted_texts.clear()
            self.requests.clear()
            self.cache.clear()
            self.invalid_outputs = 0
            self.delay_seconds = 0.0

    def recorded(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.requests)

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._seq):04d}{uuid.uuid4().hex[:20]}"

    # --- internals (call with the lock held) -----------------------------------------------
    def _take_failure(self) -> Failure | None:
        for failure in self.failures:
            if failure.times > 0:
                failure.times -= 1
                if failure.times == 0:
                    self.failures.remove(failure)
                return failure
        return None

    def _cache_lookup(self, key: str, ttl: float) -> bool:
        """True on a hit (and refresh); False after writing a new entry."""
        now = self.clock()
        hit = self.cache.get(key, -math.inf) > now
        self.cache[key] = now + ttl
        return hit


# --- token estimates and the cached prefix ---------------------------------------------------
def estimate_tokens(value: Any) -> int:
    text = (
        value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)
    )
    return max(1, math.ceil(len(text) / CHARS_PER_TOKEN)) if text else 0


def _blocks(body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every cacheable block in prompt order: tools, then system, then message content."""
    out: list[tuple[str, dict[str, Any]]] = [("tool", t) for t in body.get("tools") or []]
    system = body.get("system")
    if isinstance(system, str):
        out.append(("system", {"type": "text", "text": system}))
    elif isinstance(system, list):
        out += [("system", b) for b in system]
    for message in body["messages"]:
        content = message["content"]
        if isinstance(content, str):
            out.append((message["role"], {"type": "text", "text": content}))
        else:
            out += [(message["role"], b) for b in content]
    return out


def usage_for(state: AnthropicState, api_key: str, body: dict[str, Any]) -> dict[str, int]:
    blocks = _blocks(body)
    sizes = [
        estimate_tokens({k: v for k, v in b.items() if k != "cache_control"}) for _, b in blocks
    ]
    total = sum(sizes) + 4 * len(body["messages"])  # a few tokens of role framing per turn
    breakpoints = [
        i for i, (_, b) in enumerate(blocks) if isinstance(b, dict) and b.get("cache_control")
    ]
    if body.get("cache_control") and blocks:  # top-level: automatic breakpoint on the last block
        breakpoints.append(len(blocks) - 1)
    usage = {"input_tokens": total, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
    if not breakpoints:
        return usage
    last = max(breakpoints)
    prefix_tokens = sum(sizes[: last + 1])
    if prefix_tokens < state.min_cache_tokens.get(body["model"], DEFAULT_MIN_CACHE_TOKENS):
        return usage  # too short: silently not cached (both counters stay 0)
    control = blocks[last][1].get("cache_control") or body.get("cache_control") or {}
    ttl = TTL_SECONDS.get(control.get("ttl", "5m"), TTL_SECONDS["5m"])
    prefix = json.dumps([b for _, b in blocks[: last + 1]], sort_keys=True, ensure_ascii=False)
    key = hashlib.sha256(f"{api_key}\0{body['model']}\0{prefix}".encode()).hexdigest()
    hit = state._cache_lookup(key, ttl)
    usage["input_tokens"] = total - prefix_tokens
    usage["cache_read_input_tokens" if hit else "cache_creation_input_tokens"] = prefix_tokens
    return usage


# --- request validation ------------------------------------------------------------------------
def validate(body: Any) -> None:
    if not isinstance(body, dict):
        raise ApiError(400, "request body must be a JSON object")
    unknown = sorted(set(body) - KNOWN_PARAMS)
    if unknown:
        raise ApiError(400, f"{unknown[0]}: Extra inputs are not permitted")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise ApiError(400, "model: Field required")
    if not isinstance(body.get("max_tokens"), int) or body["max_tokens"] < 1:
        raise ApiError(400, "max_tokens: must be an integer ≥ 1")
    if body.get("stream"):
        raise ApiError(400, "stream: streaming is not emulated by the sandbox")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "messages: at least one message is required")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ("user", "assistant"):
            raise ApiError(400, f"messages.{i}.role: must be user or assistant")
        if not isinstance(m.get("content"), (str, list)):
            raise ApiError(400, f"messages.{i}.content: must be a string or a list of blocks")
    if messages[0]["role"] != "user":
        raise ApiError(400, "messages: the first message must use the user role")
    system = body.get("system")
    if (
        system is not None
        and not isinstance(system, str)
        and not (
            isinstance(system, list)
            and all(isinstance(b, dict) and b.get("type") == "text" for b in system)
        )
    ):
        raise ApiError(400, "system: must be a string or a list of text blocks")
    tools = body.get("tools") or []
    names = set()
    for i, tool in enumerate(tools):
        if (
            not isinstance(tool, dict)
            or not tool.get("name")
            or not isinstance(tool.get("input_schema"), dict)
        ):
            raise ApiError(400, f"tools.{i}: a custom tool needs name and input_schema")
        names.add(tool["name"])
    choice = body.get("tool_choice")
    if choice is not None:
        kind = choice.get("type") if isinstance(choice, dict) else None
        if kind not in ("auto", "any", "tool", "none"):
            raise ApiError(400, "tool_choice.type: must be auto, any, tool or none")
        if kind == "tool" and choice.get("name") not in names:
            raise ApiError(400, f"tool_choice.name: no tool named {choice.get('name')!r} in tools")
        if kind in ("any", "tool") and not tools:
            raise ApiError(400, "tool_choice: requires tools")


# --- what the "model" answers ----------------------------------------------------------------
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


KEYWORDS: dict[str, tuple[str, ...]] = {
    "refund": (
        "refund",
        "money back",
        "erstatt",
        "rückerstattung",
        "rembours",
        "reembols",
        "terugbetal",
        "rimbors",
    ),
    "cancel_order": ("cancel", "stornier", "annul", "cancelar", "annuleren", "annullare"),
    "payment_billing": (
        "charged",
        "charge",
        "payment",
        "abgebucht",
        "zahlung",
        "débit",
        "paiement",
        "cobro",
        "pago",
        "betaling",
        "betaald",
        "addebit",
        "pagamento",
        "invoice",
    ),
    "change_address": ("address", "adresse", "dirección", "adres", "indirizzo"),
    "shipping_problem": (
        "damaged",
        "lost",
        "never arrived",
        "beschädigt",
        "kaputt",
        "cassé",
        "roto",
        "kapot",
        "rotto",
        "not arrived",
        "nicht angekommen",
    ),
    "order_status": (
        "where is",
        "tracking",
        "wo ist",
        "sendung",
        "où est",
        "suivi",
        "dónde está",
        "waar is",
        "dov'è",
        "status",
    ),
    "return_exchange": (
        "return",
        "exchange",
        "umtausch",
        "rücksend",
        "retour",
        "échange",
        "devol",
        "cambio",
        "ruilen",
        "reso",
    ),
    "promo_pricing": (
        "discount",
        "coupon",
        "promo",
        "rabatt",
        "gutschein",
        "réduction",
        "descuento",
        "korting",
        "sconto",
    ),
    "product_question": (
        "size",
        "stock",
        "größe",
        "taille",
        "talla",
        "maat",
        "taglia",
        "ingredient",
    ),
    "account": (
        "password",
        "login",
        "log in",
        "account",
        "passwort",
        "konto",
        "mot de passe",
        "contraseña",
        "wachtwoord",
    ),
    "complaint_feedback": (
        "terrible",
        "disappointed",
        "unacceptable",
        "enttäuscht",
        "déçu",
        "decepcionado",
        "teleurgesteld",
        "deluso",
    ),
}


def _heuristic_reading(subject: str, body: str) -> dict[str, Any]:
    text = f"{subject}\n{body}".lower()
    scores = {c: sum(text.count(k) for k in words) for c, words in KEYWORDS.items()}
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    top, hits = ranked[0]
    if hits == 0:
        top = "other"
    total = sum(v for _, v in ranked) or 1
    confidence = round(min(0.9, 0.4 + 0.5 * hits / total), 3) if hits else 0.35
    alternatives = [{"category": top, "score": confidence}]
    alternatives += [
        {"category": c, "score": round(v / total * (1 - confidence), 3)}
        for c, v in ranked
        if c != top and v
    ][:2]
    return {
        "category": top,
        "confidence": confidence,
        "alternatives": alternatives,
        "sentiment": "negative" if scores["complaint_feedback"] else "neutral",
        "sentiment_score": -0.5 if scores["complaint_feedback"] else 0.0,
        "urgency": "normal",
        "language": "en",
        "entities": {
            "order_numbers": re.findall(r"#\d{3,}", text),
            "emails": [],
            "tracking_numbers": [],
            "amounts": [],
        },
        "reasons": ["sandbox keyword heuristic"],
        "risk_flags": [],
    }


def reading_input(subject: str, body: str) -> dict[str, Any]:
    """The tool input for a reading: the local model's reading, else the keyword heuristic."""
    model = _local_classifier()
    if not model:
        return _heuristic_reading(subject, body)
    from connector.domain import TicketText

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


INVALID_READING = {  # breaks the schema four ways: category, confidence, sentiment, alternatives
    "category": "refund_immediately",
    "confidence": 1.7,
    "alternatives": "refund",
    "sentiment": "furious",
    "sentiment_score": 0.0,
    "urgency": "normal",
    "language": "en",
    "entities": {},
    "reasons": [],
    "risk_flags": [],
}


def _user_texts(body: dict[str, Any]) -> str:
    parts = []
    for message in body["messages"]:
        if message["role"] != "user":
            continue
        content = message["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        parts += [
            b.get("text", "") for b in blocks if isinstance(b, dict) and b.get("type") == "text"
        ]
    return "\n".join(parts)


def _tag(text: str, name: str) -> str | None:
    m = re.search(rf"<{name}\b[^>]*>(.*?)</{name}>", text, re.S)
    return html.unescape(m.group(1)).strip() if m else None


def _example_from_schema(schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "object":
        props = schema.get("properties", {})
        return {k: _example_from_schema(props.get(k, {})) for k in schema.get("required", props)}
    if kind == "array":
        return []
    if kind in ("number", "integer"):
        return schema.get("minimum", 0)
    if kind == "boolean":
        return False
    return ""


DRAFTS = {
    "order_status": "here is the latest on your order: we are checking the tracking details and will confirm the "
    "delivery status shortly.",
    "refund": "we have received your refund request and a colleague is reviewing it now.",
    "cancel_order": "we have received your cancellation request and a colleague is checking whether the order can "
    "still be stopped.",
}


def draft_text(prompt: str) -> str:
    category = (re.search(r'category="?([a-z_]+)', prompt) or [None, "other"])[1]
    name = re.search(r"\[NAME_\d+\]", _tag(prompt, "ticket") or "")
    greeting = f"Hello {name.group()}," if name else "Hello,"
    line = DRAFTS.get(
        category, "thank you for your message; a colleague is looking into it and will reply soon."
    )
    return (
        f"{greeting}\n\nThank you for getting in touch: {line}\n\nKind regards,\nCustomer Support"
    )


def answer(state: AnthropicState, body: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    """The content blocks and stop_reason of the reply."""
    tools = body.get("tools") or []
    choice = body.get("tool_choice") or {"type": "auto"}
    tool = None
    if tools and choice["type"] == "tool":
        tool = next(t for t in tools if t["name"] == choice["name"])
    elif tools and choice["type"] in ("any", "auto"):
        tool = tools[0]
    prompt = _user_texts(body)
    if tool is None:
        with state.lock:
            scripted = state.scripted_texts.pop(0) if state.scripted_texts else None
        return [
            {"type": "text", "text": scripted if scripted is not None else draft_text(prompt)}
        ], "end_turn"
    with state.lock:
        invalid = state.invalid_outputs > 0
        state.invalid_outputs -= 1 if invalid else 0
    if invalid:
        tool_input: Any = dict(INVALID_READING)
    elif "category" in tool["input_schema"].get("properties", {}):
        subject, text = _tag(prompt, "subject"), _tag(prompt, "body")
        tool_input = reading_input(
            subject or "", text if text is not None else (_tag(prompt, "ticket") or prompt)
        )
    else:
        tool_input = _example_from_schema(tool["input_schema"])
    block = {
        "type": "tool_use",
        "id": state.new_id("toolu"),
        "name": tool["name"],
        "input": tool_input,
    }
    return [block], "tool_use"


# --- the app -------------------------------------------------------------------------------------
def create_app(state: AnthropicState | None = None) -> Flask:
    state = state or AnthropicState()
    app = Flask("deskguard-sandbox-anthropic")
    app.config["anthropic_state"] = state

    def respond(
        status: int, payload: dict[str, Any], request_id: str, headers: dict[str, str] | None = None
    ) -> Response:
        out = Response(json.dumps(payload), status=status, mimetype="application/json")
        out.headers["request-id"] = request_id
        for k, v in (headers or {}).items():
            out.headers[k] = v
        return out

    @app.post("/v1/messages")
    def messages():
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
                messages_ = {
                    429: "Number of request tokens has exceeded your per-minute rate limit",
                    529: "Overloaded",
                }
                raise ApiError(
                    failure.status,
                    messages_.get(failure.status, "Internal server error"),
                    headers=headers,
                )
            if not request.headers.get("anthropic-version"):
                raise ApiError(400, "anthropic-version: header is required")
            try:
                body = json.loads(raw)
            except ValueError:
                raise ApiError(400, "request body is not valid JSON") from None
            validate(body)
            with state.lock:
                usage = usage_for(state, given_key, body)
            content, stop_reason = answer(state, body)
            usage["output_tokens"] = estimate_tokens(content)
            usage["cache_creation"] = {
                "ephemeral_5m_input_tokens": usage["cache_creation_input_tokens"],
                "ephemeral_1h_input_tokens": 0,
            }
            usage["service_tier"] = "standard"
            entry["status"] = 200
            entry["usage"] = dict(usage)
            return respond(
                200,
                {
                    "id": state.new_id("msg"),
                    "type": "message",
                    "role": "assistant",
                    "model": body["model"],
                    "content": content,
                    "stop_reason": stop_reason,
                    "stop_sequence": None,
                    "usage": usage,
                },
                request_id,
            )
        except ApiError as exc:
            entry["status"] = exc.status
            return respond(exc.status, exc.body(request_id), request_id, exc.headers)

    @app.route("/v1/<path:path>", methods=["GET", "POST", "DELETE"])
    def not_found(path: str):
        request_id = state.new_id("req")
        return respond(404, ApiError(404, f"Not found: /v1/{path}").body(request_id), request_id)

    # --- sandbox control plane (demo and tests) ---------------------------------------
    @app.post("/_sandbox/fail")
    def sandbox_fail():
        data = request.get_json(force=True)
        retry_after = data.get("retry_after")
        state.fail(
            int(data.get("status", 529)),
            int(data.get("times", 1)),
            None if retry_after is None else float(retry_after),
        )
        return {"ok": True}

    @app.post("/_sandbox/invalid")
    def sandbox_invalid():
        state.invalid_next(int(request.get_json(force=True).get("times", 1)))
        return {"ok": True}

    @app.post("/_sandbox/script")
    def sandbox_script():
        state.script_text(*request.get_json(force=True)["texts"])
        return {"ok": True}

    @app.post("/_sandbox/delay")
    def sandbox_delay():
        with state.lock:
            state.delay_seconds = float(request.get_json(force=True)["seconds"])
        return {"ok": True}

    @app.post("/_sandbox/reset")
    def sandbox_reset():
        state.reset()
        return {"ok": True}

    @app.get("/_sandbox/requests")
    def sandbox_requests():
        return {"requests": state.recorded()}

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
    "DEMO_API_KEY",
    "AnthropicSandbox",
    "AnthropicState",
    "create_app",
    "start_anthropic_sandbox",
]
