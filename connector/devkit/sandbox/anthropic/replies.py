"""What the Anthropic sandbox's "model" answers: a ``tool_use`` block when a tool is forced
(for Deskguard's reading tool, a reading of the ``<ticket>`` in the prompt), else a short
templated draft or a scripted text."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

from connector.devkit.sandbox.anthropic.state import AnthropicState

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
        tool_input = read_ticket(
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
