"""The pipeline's seams to other areas (Zendesk loop safety, redaction, commerce WISMO and
privacy, Claude drafts). Those areas own the behaviour; this module is the one place that knows
their names, and the one place with the pipeline's own conservative fallback when an area is not
installed."""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Mapping
from types import ModuleType
from typing import Any

from connector.domain import DESKGUARD_MARKER, Order, Ticket


def _module(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _fn(names: Iterable[tuple[str, str]]):
    for module, attr in names:
        mod = _module(module)
        fn = getattr(mod, attr, None) if mod else None
        if callable(fn):
            return fn
    return None


# --- Zendesk (issue #3) -------------------------------------------------------------------
def needs_processing(ticket: Ticket) -> bool:
    """True when something new came from a person since Deskguard last wrote."""
    fn = _fn([("connector.zendesk.loop_safety", "needs_processing")])
    if fn is not None:
        return bool(fn(ticket))
    if not ticket.comments:
        return False
    last = ticket.comments[-1]
    return not (last.by_deskguard or DESKGUARD_MARKER in (last.body or ""))


# --- redaction (issue #4) -----------------------------------------------------------------
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_CARD = re.compile(r"\b(?:\d[ -]?){13,19}\b")
_PHONE = re.compile(r"\+?\d[\d ()/-]{7,}\d")


def redact(subject: str, body: str) -> tuple[str, str, dict[str, str], dict[str, int]]:
    """(subject, body, placeholders, counts per kind), redacted with one numbering for both."""
    mod = _module("connector.classify.redact")
    if mod is not None and hasattr(mod, "Redactor"):
        redactor = mod.Redactor()
        s, b = redactor.redact(subject), redactor.redact(body)
        return (
            _texts(s),
            _texts(b),
            dict(getattr(redactor, "placeholders", {}) or {}),
            _counts(redactor),
        )
    if mod is not None and hasattr(mod, "redact"):
        rs, rb = mod.redact(subject), mod.redact(body)
        return rs.text, rb.text, {**rs.placeholders, **rb.placeholders}, {**rs.counts, **rb.counts}
    # Fallback (classify area not installed): emails, card-like and phone-like numbers.
    placeholders: dict[str, str] = {}
    counts: dict[str, int] = {}

    def sub(kind: str, pattern: re.Pattern, text: str) -> str:
        def repl(m: re.Match) -> str:
            counts[kind] = counts.get(kind, 0) + 1
            key = f"[{kind}_{counts[kind]}]"
            placeholders[key] = m.group(0)
            return key

        return pattern.sub(repl, text)

    out = []
    for text in (subject, body):
        for kind, pattern in (("EMAIL", _EMAIL), ("CARD", _CARD), ("PHONE", _PHONE)):
            text = sub(kind, pattern, text)
        out.append(text)
    return out[0], out[1], placeholders, counts


def _texts(value: Any) -> str:
    return value.text if hasattr(value, "text") else str(value)


def _counts(redactor: Any) -> dict[str, int]:
    mapping = getattr(redactor, "placeholders", {}) or {}
    out: dict[str, int] = {}
    for key in mapping:
        kind = str(key).strip("[]").split("_", 1)[0]
        out[kind] = out.get(kind, 0) + 1
    return out


def restore_value(value: str, placeholders: Mapping[str, str]) -> str:
    return placeholders.get(value, value)


# --- commerce (issue #6) ------------------------------------------------------------------
def visible_orders(
    orders: list[Order], requester_email: str, confirmed_emails: Iterable[str] = ()
) -> tuple[list[Order], int]:
    """The privacy rule: (orders placed with the requester's own or a confirmed email, number withheld)."""
    fn = _fn([("connector.commerce.privacy", "visible_orders")])
    if fn is not None:
        result = fn(orders, requester_email, tuple(confirmed_emails))
        if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], int):
            return list(result[0]), int(result[1])
        visible = list(result)
        return visible, len(orders) - len(visible)
    allowed = {e.strip().lower() for e in (requester_email, *confirmed_emails) if e}
    visible = [o for o in orders if (o.email or "").strip().lower() in allowed]
    return visible, len(orders) - len(visible)


def wismo_ready(orders: list[Order]) -> tuple[bool, str] | None:
    """(ready, why), or None when the commerce area is not installed (the pipeline checks itself)."""
    fn = _fn([("connector.commerce.wismo", "wismo_ready")])
    if fn is None:
        return None
    result = fn(orders)
    if isinstance(result, tuple):
        return bool(result[0]), str(result[1])
    return bool(result), ""


def wismo_customer_text(order: Order, language: str, name: str) -> str | None:
    """The commerce area's order-status answer (English only), or None."""
    if language not in ("", "en"):
        return None
    fn = _fn([("connector.commerce.wismo", "customer_answer")])
    return (fn(order, customer_name=name) or None) if fn is not None else None


def agent_order_summary(order: Order) -> str | None:
    fn = _fn([("connector.commerce.wismo", "agent_summary")])
    return (fn(order) or None) if fn is not None else None


# --- Claude drafts (issue #4) -------------------------------------------------------------
def claude_draft(runtime: Any, tenant_id: str, **kwargs: Any) -> tuple[str, float] | None:
    """(text, cost in USD) of a Claude-drafted reply, or None when drafting is off (setting
    ``DESKGUARD_CLAUDE_DRAFT_REPLIES`` or the tenant's ``claude_draft_replies``), not configured or
    unavailable. The classify area decides; it never raises a vendor error."""
    fn = _fn([("connector.classify.claude", "draft_reply")])
    if fn is None:
        return None
    result = fn(runtime, tenant_id, **kwargs)
    text = getattr(result, "text", None) if result is not None else None
    return (text, float(getattr(result, "cost_usd", 0.0) or 0.0)) if text else None
