"""Words for the side panel: vendor statuses, policy rules, outcomes, money, dates, confidence.

Everything an agent reads in the panel goes through here, so the panel never shows a raw code
(``PARTIALLY_REFUNDED``, ``auto_gates_passed``, ``ch_…``). Every function takes whatever the
ledger holds (``None``, an unknown value, a wrong type) and answers readable text: a value this
module does not know is shown with its underscores turned into spaces ("SOME_NEW_STATUS" →
"Some new status"), never an error.

Vendor values, as documented:

- Shopify ``Order.displayFinancialStatus`` (OrderDisplayFinancialStatus):
  https://shopify.dev/docs/api/admin-graphql/latest/enums/OrderDisplayFinancialStatus
- Shopify ``Order.displayFulfillmentStatus`` (OrderDisplayFulfillmentStatus):
  https://shopify.dev/docs/api/admin-graphql/latest/enums/OrderDisplayFulfillmentStatus
- Shopify ``Fulfillment.displayStatus`` (FulfillmentDisplayStatus):
  https://shopify.dev/docs/api/admin-graphql/latest/enums/FulfillmentDisplayStatus
- Stripe charge, refund and dispute ``status`` and dispute ``reason``:
  https://docs.stripe.com/api/charges/object, https://docs.stripe.com/api/refunds/object,
  https://docs.stripe.com/api/disputes/object
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from connector.domain import ZERO_DECIMAL


def humanize(value: Any) -> str:
    """Any code as words: ``"IN_TRANSIT"`` → ``"In transit"``; ``None`` → ``""``."""
    if value is None:
        return ""
    text = str(value).strip().replace("_", " ").replace("-", " ")
    text = " ".join(text.split())
    if not text:
        return ""
    return text[0].upper() + text[1:].lower()


def _lookup(table: dict[str, str], value: Any) -> str:
    if value is None or value == "":
        return ""
    key = str(value).strip().upper()
    return table.get(key) or humanize(value)


# --- Shopify -----------------------------------------------------------------------------
FINANCIAL_STATUS = {
    "AUTHORIZED": "Payment authorized, not yet captured",
    "EXPIRED": "Authorization expired, not paid",
    "PAID": "Paid",
    "PARTIALLY_PAID": "Partly paid",
    "PARTIALLY_REFUNDED": "Partly refunded",
    "PENDING": "Payment pending",
    "REFUNDED": "Refunded",
    "VOIDED": "Payment voided",
}
FULFILLMENT_STATUS = {
    "FULFILLED": "Shipped",
    "FULFILLMENT_NOT_REQUIRED": "Nothing to ship",
    "IN_PROGRESS": "Being prepared",
    "ON_HOLD": "On hold",
    "OPEN": "Not shipped yet",
    "PARTIALLY_FULFILLED": "Partly shipped",
    "PENDING_FULFILLMENT": "Waiting to be shipped",
    "REQUEST_DECLINED": "Fulfilment request declined",
    "RESTOCKED": "Restocked",
    "SCHEDULED": "Scheduled",
    "UNFULFILLED": "Not shipped yet",
}
SHIPMENT_STATUS = {
    "ATTEMPTED_DELIVERY": "Delivery attempted",
    "CANCELED": "Shipment cancelled",
    "CANCELLED": "Shipment cancelled",
    "CARRIER_PICKED_UP": "Picked up by the carrier",
    "CONFIRMED": "Confirmed",
    "DELAYED": "Delayed",
    "DELIVERED": "Delivered",
    "FAILURE": "Delivery failed",
    "FULFILLED": "Shipped",
    "IN_TRANSIT": "In transit",
    "LABEL_PRINTED": "Label printed",
    "LABEL_PURCHASED": "Label bought",
    "LABEL_VOIDED": "Label voided",
    "MARKED_AS_FULFILLED": "Marked as shipped",
    "NOT_DELIVERED": "Not delivered",
    "OUT_FOR_DELIVERY": "Out for delivery",
    "PICKED_UP": "Picked up",
    "READY_FOR_PICKUP": "Ready for pickup",
    "SUBMITTED": "Submitted to the carrier",
    "SUCCESS": "Shipped",
}
CANCEL_REASON = {
    "CUSTOMER": "the customer asked",
    "DECLINED": "payment declined",
    "FRAUD": "suspected fraud",
    "INVENTORY": "out of stock",
    "STAFF": "staff error",
    "OTHER": "other reason",
}


def financial_status(value: Any) -> str:
    return _lookup(FINANCIAL_STATUS, value)


def fulfillment_status(value: Any) -> str:
    return _lookup(FULFILLMENT_STATUS, value)


def shipment_status(value: Any) -> str:
    return _lookup(SHIPMENT_STATUS, value)


def cancel_reason(value: Any) -> str:
    return _lookup(CANCEL_REASON, value).lower()


# --- Stripe ------------------------------------------------------------------------------
CHARGE_STATUS = {"SUCCEEDED": "Paid", "PENDING": "Pending", "FAILED": "Failed"}
REFUND_STATUS = {
    "SUCCEEDED": "Refunded",
    "PENDING": "Refund pending",
    "REQUIRES_ACTION": "Refund needs action",
    "FAILED": "Refund failed",
    "CANCELED": "Refund cancelled",
}
DISPUTE_STATUS = {
    "WARNING_NEEDS_RESPONSE": "Inquiry: needs a response",
    "WARNING_UNDER_REVIEW": "Inquiry under review",
    "WARNING_CLOSED": "Inquiry closed",
    "NEEDS_RESPONSE": "Needs a response",
    "UNDER_REVIEW": "Under review",
    "WON": "Won",
    "LOST": "Lost",
    "PREVENTED": "Prevented",
}
DISPUTE_REASON = {
    "FRAUDULENT": "card holder says it was not them",
    "PRODUCT_NOT_RECEIVED": "product not received",
    "PRODUCT_UNACCEPTABLE": "product unacceptable",
    "DUPLICATE": "charged twice",
    "SUBSCRIPTION_CANCELED": "subscription was cancelled",
    "CREDIT_NOT_PROCESSED": "refund not processed",
    "UNRECOGNIZED": "charge not recognised",
    "GENERAL": "general",
}


def charge_status(value: Any) -> str:
    return _lookup(CHARGE_STATUS, value)


def refund_status(value: Any) -> str:
    return _lookup(REFUND_STATUS, value)


def dispute_status(value: Any) -> str:
    return _lookup(DISPUTE_STATUS, value)


def dispute_reason(value: Any) -> str:
    return _lookup(DISPUTE_REASON, value).lower()


# --- Deskguard's own codes ---------------------------------------------------------------
OUTCOMES = {
    "auto_reply": "Answered automatically",
    "assist_note": "Suggested reply for an agent",
    "escalate": "Escalated to a person",
    "shadow": "Shadow mode: decided, nothing written",
    "off": "Deskguard is off for this category",
    "skip": "Skipped",
    "blocked": "Held by the kill switch",
}
MODES = {
    "auto": "Automatic",
    "assist": "Assist (an agent sends)",
    "shadow": "Shadow (records only)",
    "off": "Off",
}
# The rules of connector/pipeline/rules.py, proposals.py and stages.py, as the rule that decided.
RULES = {
    "auto_gates_passed": "All automation checks passed",
    "mode_assist": "This category is in assist mode: an agent sends the reply",
    "mode_shadow": "This category is in shadow mode: nothing is written",
    "mode_off": "Deskguard is switched off for this category",
    "mode": "Mode of the category",
    "risk_flags": "A risk was flagged (legal, fraud, safety or abuse)",
    "urgency": "The customer says it is urgent",
    "negative_sentiment": "The customer is very upset",
    "vip": "VIP customer",
    "repeat_contact": "The customer has written several times",
    "low_confidence": "Deskguard is not sure what the ticket is about",
    "classifier_refused": "Claude declined to read this ticket",
    "injection": "The ticket tries to give the assistant instructions",
    "category_allows_auto": "This category is never answered automatically",
    "confidence": "Not confident enough to answer automatically",
    "prerequisites": "Facts needed for an automatic answer are missing",
    "single_order_with_tracking": "Needs exactly one order with tracking",
    "tenant_answer": "Needs the store's own answer for this topic",
    "reply_ready": "No safe reply text was ready",
    "caps": "Limit of automatic replies reached",
    "rollout": "Not in the automation rollout share",
    "proposal_pending": "A proposed action waits for an agent's approval",
    "propose_refund": "Refund proposal",
    "propose_cancel_order": "Cancellation proposal",
    "kill_switch": "The kill switch is on",
}
# The same rules as a line of the full trace ("what was checked"), neutral about the verdict.
CHECKS = {
    "category_allows_auto": "Category may be answered automatically",
    "confidence": "Confidence high enough",
    "prerequisites": "Facts for an automatic answer",
    "reply_ready": "Reply text ready",
    "caps": "Automatic-reply limits",
    "rollout": "Automation rollout",
    "risk_flags": "Risk (legal, fraud, safety, abuse)",
    "urgency": "Urgency",
    "negative_sentiment": "Customer's mood",
    "vip": "VIP customer",
    "repeat_contact": "Repeat contact",
    "low_confidence": "Certainty about the topic",
    "classifier_refused": "Claude read the ticket",
    "injection": "Instructions aimed at the assistant",
}
VERDICTS = {
    "pass": "ok",
    "fail": "not met",
    "escalate": "needs a person",
    "info": "note",
    "n/a": "not relevant",
    "block": "blocked",
    "deny": "refused",
}
RISK_FLAGS = {
    "legal_threat": "Legal threat",
    "chargeback_fraud": "Chargeback or fraud",
    "safety": "Safety",
    "abuse": "Abuse",
}
SENTIMENTS = {"negative": "Upset", "neutral": "Calm", "positive": "Happy"}
URGENCIES = {
    "low": "Not urgent",
    "normal": "Normal urgency",
    "high": "Urgent",
    "urgent": "Very urgent",
}
DEFERRED_REASONS = {
    "kill_switch": "held by the kill switch",
    "vendor_unavailable": "the payment or shop system did not answer; it will retry",
}


def _code(table: dict[str, str], value: Any) -> str:
    if value is None or value == "":
        return ""
    return table.get(str(value).strip().lower()) or humanize(value)


def outcome(value: Any) -> str:
    return _code(OUTCOMES, value)


def mode(value: Any) -> str:
    return _code(MODES, value)


def rule(value: Any) -> str:
    return _code(RULES, value)


def check(value: Any) -> str:
    return _code(CHECKS, value) if str(value or "").lower() in CHECKS else rule(value)


def verdict(value: Any) -> str:
    return _code(VERDICTS, value)


def risk_flag(value: Any) -> str:
    return _code(RISK_FLAGS, value)


def sentiment(value: Any) -> str:
    return _code(SENTIMENTS, value)


def urgency(value: Any) -> str:
    return _code(URGENCIES, value)


def deferred_reason(value: Any) -> str:
    return _code(DEFERRED_REASONS, value)


def category(value: Any) -> str:
    return humanize(value)


_SNAKE = re.compile(r"\b[a-z0-9]+(?:_[a-z0-9]+)+\b")


def detail(value: Any) -> str:
    """A rule's detail line with its codes as words: ``"risk: legal_threat"`` → ``"risk: legal
    threat"``, ``"cancel_order is in assist mode"`` → ``"cancel order is in assist mode"``."""
    if value is None:
        return ""
    return _SNAKE.sub(lambda m: m.group(0).replace("_", " "), str(value))


# --- numbers, money, dates ---------------------------------------------------------------
def probability(value: Any) -> str:
    """A confidence as a percentage that never reads 100% or 0%: a calibrated probability is
    never certainty. ``0.9998`` → ``">99%"``, ``0.001`` → ``"<1%"``, ``0.93`` → ``"93%"``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return "—"
    if value >= 0.995:
        return ">99%"
    if value < 0.005:
        return "<1%"
    return f"{int(value * 100 + 0.5)}%"  # half up: 0.5% reads 1%, never 0%


def minor_money(amount: Any, currency: Any) -> str:
    """Minor units (Stripe) → ``"58.90 USD"``; zero-decimal currencies as they are."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        return ""
    cur = str(currency or "").lower()
    if cur in ZERO_DECIMAL:
        return f"{amount} {cur.upper()}".strip()
    sign = "-" if amount < 0 else ""
    whole, cents = divmod(abs(amount), 100)
    return f"{sign}{whole}.{cents:02d} {cur.upper()}".strip()


def money(value: Any) -> str:
    """A Shopify money object (``{"amount": "49.90", "currency": "EUR"}``) → ``"49.90 EUR"``."""
    if not isinstance(value, dict) or value.get("amount") in (None, ""):
        return ""
    amount = str(value["amount"])
    try:
        number = Decimal(amount)
    except InvalidOperation:
        return f"{amount} {value.get('currency') or ''}".strip()
    cur = str(value.get("currency") or "").upper()
    places = Decimal(1) if cur.lower() in ZERO_DECIMAL else Decimal("0.01")
    return f"{number.quantize(places)} {cur}".strip()


def _parse(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def date(value: Any) -> str:
    """``"2026-12-06T07:19:23+00:00"`` → ``"6 Dec 2026"`` (UTC); ``""`` when unknown."""
    parsed = _parse(value)
    if parsed is None:
        return ""
    parsed = parsed.astimezone(UTC)
    return f"{parsed.day} {parsed:%b %Y}"


def when(value: Any) -> str:
    """``"2026-12-06T07:19:23+00:00"`` → ``"6 Dec 2026, 07:19 UTC"``; ``""`` when unknown."""
    parsed = _parse(value)
    if parsed is None:
        return ""
    parsed = parsed.astimezone(UTC)
    return f"{parsed.day} {parsed:%b %Y, %H:%M} UTC"


def person(actor: Any, names: dict[str, str] | None = None) -> str:
    """Who did something, from an audit actor (``"agent:42"``): the agent's name when known,
    else "agent 42"; other actors (``"demo-agent"``, ``"cli"``) as words."""
    text = str(actor or "").strip()
    if not text:
        return "an agent"
    if names and names.get(text):
        return names[text]
    if text.startswith("agent:"):
        return "agent " + text.split(":", 1)[1]
    if text.startswith("policy:"):
        return "Deskguard"
    return text.replace("_", " ")
