"""The Claude engine: one structured reading per ticket through forced tool use.

How a ticket is read:
1. The text is redacted (``redact.Redactor``) before it leaves the machine. The pipeline already
   redacts; doing it again here is cheap and makes the engine safe for any caller.
2. One Messages API call: the ``record_reading`` tool with a JSON schema and ``tool_choice``
   forcing it; the instructions, taxonomy and examples are a cached system prefix
   (``cache_control``); the ticket goes in the user turn inside ``<ticket>`` tags with its angle
   brackets escaped, so nothing in it can pose as instructions (claude_prompt.py).
3. The tool input is validated (category in the taxonomy, confidence in [0, 1], enums, types).
   Invalid input is sent back once as an ``is_error`` tool result; a second invalid answer, or any
   API failure left after the SDK's own retries (429/529/5xx/timeouts/connection), or a 401,
   makes the local engine answer instead, with ``fallback_reason`` saying why.
4. Usage (incl. cache write/read tokens) and its cost from the price settings go in the Reading.
   On a fallback they are what the failed Claude attempts cost.

``draft_reply`` drafts the suggested reply (DESKGUARD_CLAUDE_DRAFT_REPLIES): same redaction, the
allowed promises in the prompt, and only emails/names/phones/addresses restored afterwards.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from connector import logs
from connector.classify import claude_prompt as prompt
from connector.classify.redact import Redactor, restore, restore_value
from connector.domain import (
    CATEGORIES,
    RISK_FLAGS,
    SENTIMENTS,
    URGENCIES,
    Classifier,
    Entities,
    Order,
    Reading,
    TicketText,
    Usage,
)
from connector.errors import ConfigError, TransientError, VendorError

LOG = logs.get("classify.claude")
ENGINE = "claude"


class LanguageModel(Protocol):
    """What the engine needs from adapters.anthropic.AnthropicClient (unit tests pass a fake)."""

    def create_message(self, **params: Any) -> Any: ...


@dataclass(frozen=True)
class Prices:
    """USD per million tokens."""

    input: float
    output: float
    cache_write: float
    cache_read: float

    @classmethod
    def from_config(cls, config: Any) -> Prices:
        return cls(
            config.claude_price_input_per_mtok,
            config.claude_price_output_per_mtok,
            config.claude_price_cache_write_per_mtok,
            config.claude_price_cache_read_per_mtok,
        )

    def cost(self, usage: Usage) -> float:
        return round(
            (
                usage.input_tokens * self.input
                + usage.output_tokens * self.output
                + usage.cache_creation_input_tokens * self.cache_write
                + usage.cache_read_input_tokens * self.cache_read
            )
            / 1_000_000,
            8,
        )


def add_usage(a: Usage, b: Usage) -> Usage:
    return Usage(*(getattr(a, f.name) + getattr(b, f.name) for f in dataclasses.fields(Usage)))


class DraftReply(str):
    """A drafted reply (a plain str) that also carries what drafting it cost."""

    usage: Usage
    cost_usd: float
    model: str

    def __new__(cls, text: str, *, usage: Usage, cost_usd: float, model: str) -> DraftReply:
        obj = super().__new__(cls, text)
        obj.usage, obj.cost_usd, obj.model = usage, cost_usd, model
        return obj

    @property
    def text(self) -> str:
        return str.__str__(self)


# --- validation of the tool input --------------------------------------------------------------
def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def validate_reading(data: Any) -> list[str]:
    """Everything wrong with a record_reading input (empty when it is usable)."""
    if not isinstance(data, dict):
        return [f"input must be an object, got {type(data).__name__}"]
    errors = [
        f"{name} is required" for name in prompt.READING_SCHEMA["required"] if name not in data
    ]
    if "category" in data and data["category"] not in CATEGORIES:
        errors.append(f"category {data['category']!r} is not in the taxonomy")
    if "confidence" in data and not (_number(data["confidence"]) and 0 <= data["confidence"] <= 1):
        errors.append("confidence must be a number between 0 and 1")
    if "alternatives" in data:
        alts = data["alternatives"]
        if not isinstance(alts, list) or not all(
            isinstance(a, dict)
            and a.get("category") in CATEGORIES
            and _number(a.get("score"))
            and 0 <= a["score"] <= 1
            for a in alts
        ):
            errors.append(
                "alternatives must be a list of {category in the taxonomy, score between 0 and 1}"
            )
    for name, allowed in (("sentiment", SENTIMENTS), ("urgency", URGENCIES)):
        if name in data and data[name] not in allowed:
            errors.append(f"{name} must be one of {', '.join(allowed)}")
    if "sentiment_score" in data and not (
        _number(data["sentiment_score"]) and -1 <= data["sentiment_score"] <= 1
    ):
        errors.append("sentiment_score must be a number between -1 and 1")
    if "language" in data and not (
        isinstance(data["language"], str)
        and re.fullmatch(r"[a-z]{2}", data["language"].strip().lower())
    ):
        errors.append("language must be an ISO 639-1 code such as en")
    if "entities" in data:
        ents = data["entities"]
        if not isinstance(ents, dict) or not all(
            _strings(ents.get(k, []))
            for k in ("order_numbers", "emails", "tracking_numbers", "amounts")
        ):
            errors.append(
                "entities must map order_numbers/emails/tracking_numbers/amounts to lists of "
                "strings"
            )
    if "reasons" in data and not _strings(data["reasons"]):
        errors.append("reasons must be a list of strings")
    if "risk_flags" in data and not (
        _strings(data["risk_flags"]) and set(data["risk_flags"]) <= set(RISK_FLAGS)
    ):
        errors.append(f"risk_flags must be a list drawn from {', '.join(RISK_FLAGS)}")
    return errors


def _restored(values: Iterable[str], placeholders: Mapping[str, str]) -> tuple[str, ...]:
    out: list[str] = []
    for value in values:
        restored = restore_value(value.strip(), placeholders)
        if restored and restored not in out:
            out.append(restored)
    return tuple(out)


def build_reading(
    data: dict[str, Any],
    *,
    placeholders: Mapping[str, str],
    model: str,
    usage: Usage,
    cost_usd: float,
    latency_ms: float,
) -> Reading:
    """A Reading from a validated tool input (normalised: the chosen category leads the top-3)."""
    category, confidence = data["category"], round(float(data["confidence"]), 4)
    alternatives = [(category, confidence)]
    for alt in data["alternatives"]:
        if alt["category"] not in {c for c, _ in alternatives}:
            alternatives.append((alt["category"], round(float(alt["score"]), 4)))
    ents = data["entities"]
    return Reading(
        category=category,
        confidence=confidence,
        alternatives=tuple(alternatives[:3]),
        sentiment=data["sentiment"],
        sentiment_score=round(float(data["sentiment_score"]), 3),
        urgency=data["urgency"],
        language=data["language"].strip().lower(),
        entities=Entities(
            **{
                k: _restored(ents.get(k, []), placeholders)
                for k in ("order_numbers", "emails", "tracking_numbers", "amounts")
            }
        ),
        reasons=tuple(r.strip() for r in data["reasons"][:4] if r.strip()),
        risk_flags=tuple(dict.fromkeys(data["risk_flags"])),
        engine=ENGINE,
        model=model,
        latency_ms=latency_ms,
        usage=usage,
        cost_usd=cost_usd,
    )


def fallback_code(exc: VendorError) -> str:
    """A short, stable reason code for a failed Claude call."""
    if exc.code == "vendor_timeout":
        return "timeout"
    if isinstance(exc, TransientError):
        return {429: "rate_limited", 529: "overloaded"}.get(
            exc.status or 0, "server_error" if exc.status else "unreachable"
        )
    return "auth_failed" if exc.status in (401, 403) else "rejected"


# --- the engine -----------------------------------------------------------------------------------
class ClaudeClassifier:
    """Reads tickets with Claude; the local engine (``fallback``) answers whenever Claude cannot."""

    engine = ENGINE

    def __init__(
        self,
        client: LanguageModel | None,
        *,
        fallback: Callable[[], Classifier],
        model: str,
        max_tokens: int,
        prices: Prices,
        not_configured: str = "no Anthropic API key is stored",
    ):
        self.client = client
        self.model = model
        self.max_tokens = max_tokens
        self.prices = prices
        self._fallback = fallback
        self._not_configured = not_configured

    def request(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """The Messages API parameters of one reading call."""
        return {
            "model": self.model,
            "max_tokens": self.max_tokens,
            "system": [
                {
                    "type": "text",
                    "text": prompt.SYSTEM_PROMPT,
                    "cache_control": {"type": "ephemeral"},
                }
            ],
            "tools": [prompt.READING_TOOL],
            "tool_choice": {
                "type": "tool",
                "name": prompt.TOOL_NAME,
                "disable_parallel_tool_use": True,
            },
            "messages": messages,
        }

    def classify(self, text: TicketText) -> Reading:
        started = time.perf_counter()
        if self.client is None:
            return self._fall_back(
                text, f"not_configured: {self._not_configured}", Usage(), started
            )
        redactor = Redactor()
        subject, body = redactor.redact(text.subject), redactor.redact(text.body)
        messages: list[dict[str, Any]] = [
            {"role": "user", "content": prompt.ticket_message(subject, body, text.id)}
        ]
        spent = Usage()
        problems: list[str] = []
        for attempt in (1, 2):
            try:
                reply = self.client.create_message(**self.request(messages))
            except VendorError as exc:
                reason = f"{fallback_code(exc)}: {exc.message}"
                if attempt == 2:
                    reason += f" (on the retry after invalid output: {'; '.join(problems)})"
                return self._fall_back(text, reason, spent, started)
            spent = add_usage(spent, reply.usage)
            call = next((c for c in reply.tool_calls if c.name == prompt.TOOL_NAME), None)
            problems = (
                validate_reading(call.input)
                if call
                else [f"no {prompt.TOOL_NAME} call in the reply (stop_reason {reply.stop_reason})"]
            )
            if not problems and call is not None:  # no problems: there is a call
                reading = build_reading(
                    call.input,
                    placeholders=redactor.placeholders,
                    model=reply.model,
                    usage=spent,
                    cost_usd=self.prices.cost(spent),
                    latency_ms=_ms_since(started),
                )
                logs.log(
                    LOG,
                    logging.INFO,
                    "classify.claude.reading",
                    ticket=text.id or None,
                    category=reading.category,
                    confidence=reading.confidence,
                    attempts=attempt,
                    input_tokens=spent.input_tokens,
                    output_tokens=spent.output_tokens,
                    cache_read=spent.cache_read_input_tokens,
                    cache_write=spent.cache_creation_input_tokens,
                    cost_usd=reading.cost_usd,
                    ms=reading.latency_ms,
                )
                return reading
            logs.log(
                LOG,
                logging.WARNING,
                "classify.claude.invalid_output",
                ticket=text.id or None,
                attempt=attempt,
                problems=problems,
            )
            messages = [*messages, *self._correction(reply, call, problems)]
        return self._fall_back(text, "invalid_output: " + "; ".join(problems), spent, started)

    @staticmethod
    def _correction(reply: Any, call: Any, problems: list[str]) -> list[dict[str, Any]]:
        """The turns that send the invalid answer back once, as the API expects for tool use."""
        fix = (
            "The record_reading input was invalid: "
            + "; ".join(problems)
            + ". Call record_reading again with valid values for the same ticket."
        )
        if call is None:
            assistant = [{"type": "text", "text": reply.text or "(no answer)"}]
            return [{"role": "assistant", "content": assistant}, {"role": "user", "content": fix}]
        tool_use = {
            "type": "tool_use",
            "id": call.id,
            "name": call.name,
            "input": call.input if isinstance(call.input, dict) else {},
        }
        result = {"type": "tool_result", "tool_use_id": call.id, "is_error": True, "content": fix}
        return [{"role": "assistant", "content": [tool_use]}, {"role": "user", "content": [result]}]

    def _fall_back(self, text: TicketText, reason: str, spent: Usage, started: float) -> Reading:
        logs.log(
            LOG, logging.WARNING, "classify.claude.fallback", ticket=text.id or None, reason=reason
        )
        local = self._fallback().classify(text)
        billed = spent != Usage()
        return dataclasses.replace(
            local,
            fallback_reason=reason,
            usage=spent if billed else local.usage,
            cost_usd=self.prices.cost(spent) if billed else local.cost_usd,
            latency_ms=_ms_since(started),
        )

    # --- drafting ------------------------------------------------------------------------------
    def draft_reply(
        self,
        ticket_text: TicketText | str,
        reading: Reading,
        context_text: str = "",
        allowed_promises: Sequence[str] = (),
        *,
        placeholders: Mapping[str, str] | None = None,
    ) -> DraftReply:
        """A suggested reply. ``placeholders``: the mapping of text that is already redacted (the
        pipeline's), so those placeholders are restored too. Raises Transient/PermanentError."""
        if self.client is None:
            raise ConfigError(f"Claude cannot draft replies: {self._not_configured}")
        if isinstance(ticket_text, str):
            ticket_text = TicketText(subject="", body=ticket_text)
        redactor = Redactor(placeholders)
        user = prompt.draft_message(
            redactor.redact(ticket_text.subject),
            redactor.redact(ticket_text.body),
            category=reading.category,
            context_text=redactor.redact(context_text),
            allowed_promises=tuple(allowed_promises),
        )
        reply = self.client.create_message(
            model=self.model,
            max_tokens=self.max_tokens,
            system=[{"type": "text", "text": prompt.DRAFT_INSTRUCTIONS}],
            messages=[{"role": "user", "content": user}],
        )
        text = restore(reply.text.strip(), redactor.placeholders)
        cost = self.prices.cost(reply.usage)
        logs.log(
            LOG,
            logging.INFO,
            "classify.claude.draft",
            ticket=ticket_text.id or None,
            chars=len(text),
            input_tokens=reply.usage.input_tokens,
            output_tokens=reply.usage.output_tokens,
            cost_usd=cost,
        )
        return DraftReply(text, usage=reply.usage, cost_usd=cost, model=reply.model)


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def order_context(orders: Iterable[Order]) -> str:
    """What the drafter may know about the customer's orders (no emails or addresses)."""
    lines = []
    for o in orders:
        items = ", ".join(f"{li.quantity}× {li.title}" for li in o.line_items)
        line = (
            f"Order {o.name}: placed {o.created_at.date() if o.created_at else 'unknown'}, payment "
            f"{o.financial_status}, fulfilment {o.fulfillment_status}, "
            f"total {o.total.amount} {o.total.currency}"
        )
        if o.cancelled_at:
            line += ", cancelled"
        if items:
            line += f"; items: {items}"
        for f in o.fulfillments:
            if f.tracking_number:
                line += (
                    f"; shipped with {f.tracking_company or 'carrier'} {f.tracking_number} "
                    f"({f.status})"
                )
        lines.append(line)
    return "\n".join(lines)


def draft_reply(
    drafter: ClaudeClassifier | None,
    tenant_id: str,
    *,
    ticket_text: TicketText | str,
    reading: Reading,
    orders: Iterable[Order] = (),
    context_text: str = "",
    allowed_promises: Sequence[str] = (),
    placeholders: Mapping[str, str] | None = None,
    language: str = "",
) -> DraftReply | None:
    """The pipeline's entry point: ``drafter``'s draft with the orders as context, or None when
    there is no drafter (drafting is off or not configured: the caller passes
    ``service.get_drafter(runtime, tenant_id)``) or Claude is unavailable (the caller then uses
    its templates). ``tenant_id`` names the tenant in the log. Never raises a vendor error."""
    if drafter is None:
        return None
    context = "\n".join(t for t in (order_context(orders), context_text) if t)
    try:
        return drafter.draft_reply(
            ticket_text, reading, context, allowed_promises, placeholders=placeholders
        )
    except VendorError as exc:
        logs.log(
            LOG,
            logging.WARNING,
            "classify.claude.draft_failed",
            tenant=tenant_id,
            reason=f"{fallback_code(exc)}: {exc.message}",
        )
        return None
