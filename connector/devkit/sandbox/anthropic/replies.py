"""What the Anthropic sandbox's "model" answers: a ``tool_use`` block when a tool is forced
(for Deskguard's reading tool, a reading of the ``<ticket>`` in the prompt), a JSON text block
when ``output_config.format`` asks for structured output (the same reading for a schema with a
``category``), else a short templated draft or a scripted text. When the model thinks (see
``validation.thinking_on``) the answer starts with a ``thinking`` block whose text is empty, as
on Claude Haiku 5.5, where thinking text is omitted by default."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from typing import Any

from connector.devkit.sandbox.anthropic.state import AnthropicState
from connector.devkit.sandbox.anthropic.validation import thinking_on

ReadTicket = Callable[[str, str], dict[str, Any]]  # (subject, body) → reading tool input

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
    "order_status": "here is the latest on your order: we are checking the tracking details and "
    "will confirm the delivery status shortly.",
    "refund": "we have received your refund request and a colleague is reviewing it now.",
    "cancel_order": "we have received your cancellation request and a colleague is checking "
    "whether the order can still be stopped.",
}


def draft_text(prompt: str) -> str:
    found = re.search(r'category="?([a-z_]+)', prompt)
    category = found[1] if found else "other"
    name = re.search(r"\[NAME_\d+\]", _tag(prompt, "ticket") or "")
    greeting = f"Hello {name.group()}," if name else "Hello,"
    line = DRAFTS.get(
        category, "thank you for your message; a colleague is looking into it and will reply soon."
    )
    return (
        f"{greeting}\n\nThank you for getting in touch: {line}\n\nKind regards,\nCustomer Support"
    )


def answer(
    state: AnthropicState, body: dict[str, Any], read_ticket: ReadTicket
) -> tuple[list[dict[str, Any]], str]:
    """The content blocks and stop_reason of the reply; ``read_ticket`` gives the reading
    tool's input."""
    content, stop_reason = _answer(state, body, read_ticket)
    if thinking_on(body):
        thinking = {"type": "thinking", "thinking": "", "signature": state.new_id("sig")}
        content = [thinking, *content]
    return content, stop_reason


def _structured(
    state: AnthropicState, schema: dict[str, Any], prompt: str, read_ticket: ReadTicket
) -> list[dict[str, Any]]:
    """A text block holding JSON that fits ``schema`` (Deskguard's reading for its schema)."""
    value = _reading_or_example(state, schema, prompt, read_ticket)
    return [{"type": "text", "text": json.dumps(value, ensure_ascii=False)}]


def _reading_or_example(
    state: AnthropicState, schema: dict[str, Any], prompt: str, read_ticket: ReadTicket
) -> Any:
    with state.lock:
        invalid = state.invalid_outputs > 0
        state.invalid_outputs -= 1 if invalid else 0
    if invalid:
        return dict(INVALID_READING)
    if "category" in schema.get("properties", {}):
        subject, text = _tag(prompt, "subject"), _tag(prompt, "body")
        return read_ticket(
            subject or "", text if text is not None else (_tag(prompt, "ticket") or prompt)
        )
    return _example_from_schema(schema)


def _answer(
    state: AnthropicState, body: dict[str, Any], read_ticket: ReadTicket
) -> tuple[list[dict[str, Any]], str]:
    fmt = (body.get("output_config") or {}).get("format")
    if fmt:
        return _structured(state, fmt["schema"], _user_texts(body), read_ticket), "end_turn"
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
    tool_input = _reading_or_example(state, tool["input_schema"], prompt, read_ticket)
    block = {
        "type": "tool_use",
        "id": state.new_id("toolu"),
        "name": tool["name"],
        "input": tool_input,
    }
    return [block], "tool_use"
