"""The Claude engine: one structured reading per ticket, by forced tool use or structured output.

How a ticket is read:
1. The text is redacted (``redact.Redactor``) before it leaves the machine. The pipeline already
   redacts; doing it again here is cheap and makes the engine safe for any caller.
2. One Messages API call: the ``record_reading`` tool with a JSON schema and ``tool_choice``
   forcing it; the instructions, taxonomy and examples are a cached system prefix
   (``cache_control``); the ticket goes in the user turn inside ``<ticket>`` tags with its angle
   brackets escaped, so nothing in it can pose as instructions (claude_prompt.py). A model that
   refuses a forced tool call (documented for Sonnet/Opus 5.5, and for any model while it thinks,
   which is Haiku 5.5's default) is asked for structured output instead: ``output_config.format``
   with the same schema, the JSON read from the text blocks. Known models start in the right
   mode (claude_models.forced_tool_use); any other switches for good after the first 400 that
   refuses its forced call.
3. The reading is validated (category in the taxonomy, confidence in [0, 1], enums, types).
   Invalid input is sent back once (an ``is_error`` tool result, or a user turn); a second
   invalid answer, or any API failure left after the retries (429/529/5xx/timeouts/connection),
   a 401, or an answer cut at ``max_tokens`` twice (the retry doubles the cap), makes the local
   engine answer instead, with ``fallback_reason`` saying why. ``stop_reason: "refusal"`` is
   never retried: the local reading is returned with confidence 0 and the reason, so the
   low-confidence escalation hands the ticket to a person.
4. Usage (incl. cache write/read tokens) and its cost from the price settings go in the Reading.
   On a fallback they are what the failed Claude attempts cost.

``draft_reply`` drafts the suggested reply (DESKGUARD_CLAUDE_DRAFT_REPLIES): same redaction, the
allowed promises in the prompt, and only emails/names/phones/addresses restored afterwards. A
refused or cut draft raises ``PermanentError`` (the caller uses its templates).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from connector import claude_models, logs
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
from connector.errors import ConfigError, PermanentError, TransientError, VendorError

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
        structured: bool | None = None,
    ):
        """``structured``: ask for structured output from the first reading (default: when the
        model is known to refuse a forced tool call, claude_models.forced_tool_use)."""
        self.client = client
        self.model = model
        self.max_tokens = max_tokens
        self.prices = prices
        self._fallback = fallback
        self._not_configured = not_configured
        # Set for good the first time the API refuses a forced tool call.
        if structured is None:
            structured = claude_models.forced_tool_use(model) == "refused"
        self.structured = structured

    def request(
        self,
        messages: list[dict[str, Any]],
        *,
        max_tokens: int | None = None,
        structured: bool | None = None,
    ) -> dict[str, Any]:
        """The Messages API parameters of one reading call: a forced record_reading call, or
        (``structured``, default ``self.structured``) structured output with the same schema.
        No sampling parameters and no assistant prefill (Claude Haiku 5.5 migration guide)."""
        params: dict[str, Any] = {
            "model": self.model,
            "max_tokens": max_tokens or self.max_tokens,
            "system": [
                {
                    "type": "text",
                    "text": prompt.SYSTEM_PROMPT,
                    "cache_control": {"type": "ephemeral"},
                }
            ],
            "messages": messages,
        }
        if self.structured if structured is None else structured:
            params["output_config"] = {
                "format": {"type": "json_schema", "schema": prompt.READING_OUTPUT_SCHEMA}
            }
            return params
        params["tools"] = [prompt.READING_TOOL]
        params["tool_choice"] = {
            "type": "tool",
            "name": prompt.TOOL_NAME,
            "disable_parallel_tool_use": True,
        }
        return params

    def classify(self, text: TicketText) -> Reading:
        started = time.perf_counter()
        if self.client is None:
            return self._fall_back(
                text, f"not_configured: {self._not_configured}", Usage(), started
            )
        redactor = Redactor()
        subject, body = redactor.redact(text.subject), redactor.redact(text.body)
        return self._read(text, subject, body, redactor, started)

    @staticmethod
    def _first_turn(
        subject: str, body: str, ticket_id: str, structured: bool
    ) -> list[dict[str, Any]]:
        content = prompt.ticket_message(subject, body, ticket_id, structured=structured)
        return [{"role": "user", "content": content}]

    def _read(
        self, text: TicketText, subject: str, body: str, redactor: Redactor, started: float
    ) -> Reading:
        """The calls of one reading: at most one correction of invalid output, one retry with a
        doubled ``max_tokens`` after a cut answer, and one switch from forced tool use to
        structured output. A refusal is never retried: the same request would be refused again
        (Haiku 5.5 has no server-side fallback: "Refusals and fallback",
        https://platform.claude.com/docs/en/build-with-claude/refusals-and-fallback)."""
        assert self.client is not None
        structured = self.structured  # fixed for this reading unless the API refuses the tool
        messages = self._first_turn(subject, body, text.id, structured)
        spent, max_tokens = Usage(), self.max_tokens
        problems: list[str] = []
        corrected = grown = False
        while True:
            params = self.request(messages, max_tokens=max_tokens, structured=structured)
            try:
                reply = self.client.create_message(**params)
            except VendorError as exc:
                if exc.code == claude_models.FORCED_TOOL_USE_REFUSED and not structured:
                    self._use_structured_output(exc)
                    structured, corrected = True, False
                    messages = self._first_turn(subject, body, text.id, structured)
                    continue
                reason = f"{fallback_code(exc)}: {exc.message}"
                if corrected:
                    reason += f" (on the retry after invalid output: {'; '.join(problems)})"
                return self._fall_back(text, reason, spent, started)
            spent = add_usage(spent, reply.usage)
            if reply.stop_reason == "refusal":
                return self._refused(text, reply, spent, started)
            if reply.stop_reason == "max_tokens":
                if not grown:
                    grown, max_tokens = True, max_tokens * 2
                    self._log_truncated(text, max_tokens)
                    continue
                cut = f"truncated: the answer did not fit in max_tokens={max_tokens}"
                return self._fall_back(text, cut, spent, started)
            data, problems, call = self._answer(reply, structured=structured)
            if not problems:
                reading = self._reading(data, redactor, reply, spent, started)
                self._log_reading(text, reading, spent, corrected=corrected, structured=structured)
                return reading
            logs.log(
                LOG,
                logging.WARNING,
                "classify.claude.invalid_output",
                ticket=text.id or None,
                attempt=2 if corrected else 1,
                problems=problems,
            )
            if corrected:
                return self._fall_back(
                    text, "invalid_output: " + "; ".join(problems), spent, started
                )
            corrected = True
            messages = [*messages, *self._correction(reply, call, problems, structured)]

    @staticmethod
    def _answer(reply: Any, *, structured: bool) -> tuple[Any, list[str], Any]:
        """(the reading input, what is wrong with it, the tool call if any) of one reply."""
        if structured:
            try:
                data = json.loads(reply.text)
            except ValueError:
                return None, [f"the answer is not JSON (stop_reason {reply.stop_reason})"], None
            return data, validate_reading(data), None
        call = next((c for c in reply.tool_calls if c.name == prompt.TOOL_NAME), None)
        if call is None:
            problem = f"no {prompt.TOOL_NAME} call in the reply (stop_reason {reply.stop_reason})"
            return None, [problem], None
        return call.input, validate_reading(call.input), call

    def _reading(
        self, data: dict[str, Any], redactor: Redactor, reply: Any, spent: Usage, started: float
    ) -> Reading:
        return build_reading(
            data,
            placeholders=redactor.placeholders,
            model=reply.model,
            usage=spent,
            cost_usd=self.prices.cost(spent),
            latency_ms=_ms_since(started),
        )

    @staticmethod
    def _log_reading(
        text: TicketText, reading: Reading, spent: Usage, *, corrected: bool, structured: bool
    ) -> None:
        logs.log(
            LOG,
            logging.INFO,
            "classify.claude.reading",
            ticket=text.id or None,
            category=reading.category,
            confidence=reading.confidence,
            attempts=2 if corrected else 1,
            output="structured" if structured else "tool",
            input_tokens=spent.input_tokens,
            output_tokens=spent.output_tokens,
            cache_read=spent.cache_read_input_tokens,
            cache_write=spent.cache_creation_input_tokens,
            cost_usd=reading.cost_usd,
            ms=reading.latency_ms,
        )

    def _use_structured_output(self, exc: VendorError) -> None:
        if self.structured:  # another thread switched first
            return
        self.structured = True
        logs.log(
            LOG,
            logging.WARNING,
            "classify.claude.forced_tool_use_refused",
            model=self.model,
            reason=exc.message,
            now="structured output (output_config.format) for every reading of this engine",
        )

    def _log_truncated(self, text: TicketText, max_tokens: int) -> None:
        logs.log(
            LOG,
            logging.WARNING,
            "classify.claude.truncated",
            ticket=text.id or None,
            retry_max_tokens=max_tokens,
        )

    def _refused(self, text: TicketText, reply: Any, spent: Usage, started: float) -> Reading:
        """Claude declined to read the ticket: the local engine's reading with confidence 0, so
        the low-confidence escalation hands the ticket to a person, and a reason that says so."""
        category = getattr(reply, "refusal_category", None)
        reason = (
            "refused: Claude declined to read this ticket (stop_reason refusal"
            + (f", category {category}" if category else "")
            + "); a person must read it"
        )
        local = self._fall_back(text, reason, spent, started)
        alternatives = tuple(
            (c, 0.0 if i == 0 else s) for i, (c, s) in enumerate(local.alternatives)
        )
        return dataclasses.replace(
            local,
            confidence=0.0,
            alternatives=alternatives,
            reasons=("Claude declined to read this ticket: a person must read it", *local.reasons),
        )

    @staticmethod
    def _correction(
        reply: Any, call: Any, problems: list[str], structured: bool = False
    ) -> list[dict[str, Any]]:
        """The turns that send the invalid answer back once, as the API expects for tool use;
        they end with a user turn (no prefill)."""
        if structured:
            fix = (
                "That reading was invalid: "
                + "; ".join(problems)
                + ". Answer again with a valid reading of the same ticket as JSON."
            )
            assistant = [{"type": "text", "text": reply.text or "(no answer)"}]
            return [{"role": "assistant", "content": assistant}, {"role": "user", "content": fix}]
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
        if reply.stop_reason in ("refusal", "max_tokens"):
            raise PermanentError(
                f"Claude did not finish the draft (stop_reason {reply.stop_reason})",
                vendor="anthropic",
                code="draft_" + reply.stop_reason,
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
