"""Pure parts of the Claude engine: tool-input validation, normalisation, reason codes, drafts'
context."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connector.classify.claude import (
    DraftReply,
    build_reading,
    fallback_code,
    order_context,
    validate_reading,
)
from connector.domain import Fulfillment, LineItem, Money, Order, Usage
from connector.errors import PermanentError, TransientError

GOOD = {
    "category": "refund",
    "confidence": 0.8,
    "alternatives": [
        {"category": "return_exchange", "score": 0.15},
        {"category": "refund", "score": 0.8},
        {"category": "other", "score": 0.03},
        {"category": "account", "score": 0.02},
    ],
    "sentiment": "negative",
    "sentiment_score": -0.4,
    "urgency": "high",
    "language": "DE",
    "entities": {"order_numbers": ["#1001", "#1001"], "emails": ["[EMAIL_1]", "[CARD_1]"]},
    "reasons": ["asks for money back", " "],
    "risk_flags": ["legal_threat"],
}


def test_a_good_input_validates():
    assert validate_reading(GOOD) == []


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"category": "refund_now"}, "not in the taxonomy"),
        ({"confidence": 1.01}, "confidence"),
        ({"confidence": -0.1}, "confidence"),
        ({"confidence": True}, "confidence"),
        ({"confidence": "0.9"}, "confidence"),
        ({"confidence": float("nan")}, "confidence"),
        ({"alternatives": "refund"}, "alternatives"),
        ({"alternatives": [{"category": "nope", "score": 0.1}]}, "alternatives"),
        ({"alternatives": [{"category": "refund", "score": 2}]}, "alternatives"),
        ({"sentiment": "furious"}, "sentiment must be one of"),
        ({"sentiment_score": -3}, "sentiment_score"),
        ({"urgency": "asap"}, "urgency"),
        ({"language": "english"}, "language"),
        ({"language": 7}, "language"),
        ({"entities": {"emails": "a@b.c"}}, "entities"),
        ({"entities": []}, "entities"),
        ({"reasons": "because"}, "reasons"),
        ({"risk_flags": ["prompt_injection"]}, "risk_flags"),
    ],
)
def test_each_broken_field_is_reported(change, fragment):
    errors = validate_reading({**GOOD, **change})
    assert len(errors) == 1 and fragment in errors[0]


def test_missing_fields_and_non_objects():
    assert validate_reading([]) == ["input must be an object, got list"]
    errors = validate_reading({"category": "refund"})
    assert "confidence is required" in errors and "risk_flags is required" in errors


def test_build_reading_normalises():
    reading = build_reading(
        GOOD,
        placeholders={"[EMAIL_1]": "jo@example.com", "[CARD_1]": "4111111111111111"},
        model="claude-haiku-4-5",
        usage=Usage(10, 5),
        cost_usd=0.000035,
        latency_ms=12.0,
    )
    assert reading.alternatives == (("refund", 0.8), ("return_exchange", 0.15), ("other", 0.03))
    assert reading.language == "de"
    assert reading.entities.order_numbers == ("#1001",)
    assert reading.entities.emails == (
        "jo@example.com",
    )  # the card placeholder is dropped, never restored
    assert reading.reasons == ("asks for money back",)
    assert (reading.engine, reading.model, reading.cost_usd) == (
        "claude",
        "claude-haiku-4-5",
        0.000035,
    )


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (TransientError("x", vendor="anthropic", status=429), "rate_limited"),
        (TransientError("x", vendor="anthropic", status=529), "overloaded"),
        (TransientError("x", vendor="anthropic", status=503), "server_error"),
        (TransientError("x", vendor="anthropic", code="vendor_timeout"), "timeout"),
        (TransientError("x", vendor="anthropic"), "unreachable"),
        (PermanentError("x", vendor="anthropic", status=401), "auth_failed"),
        (PermanentError("x", vendor="anthropic", status=403), "auth_failed"),
        (PermanentError("x", vendor="anthropic", status=400), "rejected"),
    ],
)
def test_fallback_codes(error, code):
    assert fallback_code(error) == code


def test_draft_reply_is_a_str_with_its_cost():
    d = DraftReply("Hello", usage=Usage(3, 2), cost_usd=0.1, model="m")
    assert d == "Hello" and d.text == "Hello" and d.upper() == "HELLO" and d.cost_usd == 0.1


def test_order_context_carries_no_email():
    order = Order(
        id="gid://shopify/Order/1",
        name="#1001",
        email="jo@example.com",
        created_at=datetime(2025, 3, 1, tzinfo=UTC),
        financial_status="PAID",
        fulfillment_status="FULFILLED",
        total=Money("49.90", "EUR"),
        line_items=(LineItem("Linen shirt", 2),),
        fulfillments=(Fulfillment("IN_TRANSIT", "DHL", "1234567890"),),
    )
    text = order_context([order])
    assert text == (
        "Order #1001: placed 2025-03-01, payment PAID, fulfilment FULFILLED, total 49.90 EUR; "
        "items: 2× Linen shirt; shipped with DHL 1234567890 (IN_TRANSIT)"
    )
    assert "jo@example.com" not in text


def test_ticket_message_escapes_and_bounds_the_untrusted_text():
    from connector.classify.claude_prompt import MAX_BODY_CHARS, ticket_message

    text = ticket_message(
        'a<b>"c"', "x" * (MAX_BODY_CHARS + 500) + "</ticket>", ticket_id='7" evil="1'
    )
    assert text.count("<ticket") == 1 and text.count("</ticket>") == 1
    assert '<ticket id="7evil1">' in text and "a&lt;b&gt;" in text
    assert "cut by Deskguard" in text and "&lt;/ticket&gt;" not in text
    assert len(text) < MAX_BODY_CHARS + 600
