"""The side panel's words: vendor statuses, rule names, outcomes, money, dates, confidence."""

from __future__ import annotations

import pytest

from connector.panel import wording


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (0.93, "93%"),
        (1.0, ">99%"),
        (0.9998, ">99%"),
        (0.995, ">99%"),
        (0.994, "99%"),
        (0.0, "<1%"),
        (0.004, "<1%"),
        (0.005, "1%"),
        (None, "—"),
        ("0.9", "—"),
        (True, "—"),
        (float("nan"), "—"),
    ],
)
def test_confidence_never_reads_100_or_0_percent(value, words):
    assert wording.probability(value) == words


@pytest.mark.parametrize(
    ("fn", "value", "words"),
    [
        (wording.financial_status, "PAID", "Paid"),
        (wording.financial_status, "PARTIALLY_REFUNDED", "Partly refunded"),
        (wording.financial_status, "AUTHORIZED", "Payment authorized, not yet captured"),
        (wording.fulfillment_status, "FULFILLED", "Shipped"),
        (wording.fulfillment_status, "UNFULFILLED", "Not shipped yet"),
        (wording.shipment_status, "IN_TRANSIT", "In transit"),
        (wording.shipment_status, "in_transit", "In transit"),
        (wording.shipment_status, "OUT_FOR_DELIVERY", "Out for delivery"),
        (wording.charge_status, "succeeded", "Paid"),
        (wording.refund_status, "pending", "Refund pending"),
        (wording.dispute_status, "needs_response", "Needs a response"),
        (wording.dispute_reason, "product_not_received", "product not received"),
        (wording.cancel_reason, "CUSTOMER", "the customer asked"),
    ],
)
def test_vendor_statuses_in_words(fn, value, words):
    assert fn(value) == words


@pytest.mark.parametrize(
    "fn",
    [
        wording.financial_status,
        wording.fulfillment_status,
        wording.shipment_status,
        wording.charge_status,
        wording.refund_status,
        wording.dispute_status,
        wording.rule,
        wording.outcome,
        wording.mode,
    ],
)
def test_unknown_values_are_readable_and_never_raise(fn):
    assert fn("SOME_NEW_STATUS") == "Some new status"
    assert fn("") == "" and fn(None) == ""
    assert fn(42) == "42"
    assert fn({"odd": "value"})  # whatever a broken row holds: text, not an exception


def test_rules_outcomes_and_modes_in_words():
    assert wording.rule("auto_gates_passed") == "All automation checks passed"
    assert wording.rule("mode_assist").startswith("This category is in assist mode")
    assert wording.rule("confidence") == "Not confident enough to answer automatically"
    assert wording.outcome("auto_reply") == "Answered automatically"
    assert wording.outcome("escalate") == "Escalated to a person"
    assert wording.mode("shadow") == "Shadow (records only)"
    assert wording.check("confidence") == "Confidence high enough"
    assert wording.verdict("n/a") == "not relevant"
    assert wording.risk_flag("legal_threat") == "Legal threat"
    assert wording.detail("risk: legal_threat; cancel_order") == "risk: legal threat; cancel order"


def test_money_and_dates():
    assert wording.minor_money(5890, "usd") == "58.90 USD"
    assert wording.minor_money(-150, "eur") == "-1.50 EUR"
    assert wording.minor_money(5000, "jpy") == "5000 JPY"
    assert wording.minor_money("5890", "usd") == ""
    assert wording.money({"amount": "49.9", "currency": "EUR"}) == "49.90 EUR"
    assert wording.money({"amount": "1200", "currency": "JPY"}) == "1200 JPY"
    assert wording.money({"amount": "n/a", "currency": "EUR"}) == "n/a EUR"
    assert wording.money(None) == ""
    assert wording.date("2026-12-06T07:19:23+00:00") == "6 Dec 2026"
    assert wording.when("2026-12-06T07:19:23.123456+00:00") == "6 Dec 2026, 07:19 UTC"
    assert wording.when("2026-12-06T08:19:23+01:00") == "6 Dec 2026, 07:19 UTC"
    assert wording.when("not a date") == "" and wording.date(None) == ""


def test_people():
    assert wording.person("agent:42", {"agent:42": "Dana Admin"}) == "Dana Admin"
    assert wording.person("agent:42") == "agent 42"
    assert wording.person("policy:refund_rule") == "Deskguard"
    assert wording.person("demo-agent") == "demo-agent"
    assert wording.person("") == "an agent"
