"""Templates, the automated-reply notice, the promise checker and the decision brief."""

from __future__ import annotations

import pytest

from connector.devkit.fakes import make_order, make_reading
from connector.domain import CATEGORIES, Dispute, PaymentContext, Person, Ticket
from connector.pipeline import policy, rules
from connector.pipeline.brief import decision_brief
from connector.pipeline.context import (
    Decision,
    Enrichment,
    RuleVerdict,
    SuggestedReply,
    TicketContext,
)
from connector.pipeline.replies import AUTO_NOTICE, TEMPLATES, check_reply, fill, with_notice


@pytest.mark.parametrize("category", CATEGORIES)
def test_every_category_has_a_template_that_passes_the_checker(category):
    out = fill(
        category, "en", name="Jane Doe", orders=[make_order()], answer="We ship to 30 countries."
    )
    assert out is not None, category
    text, lang = out
    assert lang == "en" and text.startswith("Hi Jane,") and check_reply(text) == ()
    assert "{" not in text and "}" not in text


@pytest.mark.parametrize("lang", ["en", "de", "fr", "es"])
def test_order_status_templates_carry_the_tracking_link(lang):
    text, got = fill("order_status", lang, name="Jane", orders=[make_order()])
    assert got == lang and "https://track.example/JD1001" in text and "#1001" in text
    assert check_reply(with_notice(text, lang)) == ()
    assert AUTO_NOTICE[lang] in with_notice(text, lang)


def test_templates_refuse_to_render_without_their_facts():
    assert (
        fill("order_status", "en", name="Jane", orders=[]) is None
    )  # no order: no tracking to give
    assert (
        fill("order_status", "en", name="Jane", orders=[make_order(), make_order(name="#1002")])
        is None
    )
    assert fill("shipping_info", "en", name="Jane", orders=[], answer="") is None  # no store answer
    assert (
        fill("order_status", "it", name="Jane", orders=[make_order()])[1] == "en"
    )  # falls back, says so
    assert set(TEMPLATES) == set(CATEGORIES)


@pytest.mark.parametrize(
    "text",
    [
        "Good news: we have refunded your order.",
        "We'll refund the full amount today.",
        "Your refund has been issued and should arrive in 3 days.",
        "You will receive a full refund.",
        "I've cancelled your order as requested.",
        "Your order has been cancelled.",
        "Here's a discount code for your trouble: SORRY20",
        "Enjoy 15% off your next order!",
        "Wir erstatten Ihnen den Betrag.",
        "Die Rückerstattung wurde veranlasst.",
        "Ihre Bestellung wurde storniert.",
        "Nous allons vous rembourser.",
        "Votre commande a été annulée.",
        "Le reembolsaremos el importe.",
        "Su pedido ha sido cancelado.",
        "Te damos un código de descuento.",
    ],
)
def test_the_checker_rejects_unapproved_promises(text):
    assert check_reply(text), text


@pytest.mark.parametrize(
    "text",
    [
        "A colleague is reviewing your refund request and will get back to you.",
        "Could you tell us whether you would like a refund or an exchange?",
        "I'm checking whether your order can still be cancelled.",
        "Our refund policy allows returns within 30 days.",
    ],
)
def test_the_checker_lets_neutral_wording_through(text):
    assert check_reply(text) == ()


def test_an_approved_promise_is_allowed():
    assert check_reply("We have refunded your order.", approved=("refund",)) == ()
    assert check_reply("We have refunded your order and cancelled the rest.", approved=("refund",))


def _ctx(**kw) -> TicketContext:
    ctx = TicketContext(tenant_id="acme", ticket_id=7)
    ctx.policy = policy.Policy(doc=policy.defaults(), default_mode="assist")
    ctx.ticket = Ticket(
        id=7,
        subject="Where is my order",
        requester=Person(1, "Jane Doe", "jane@example.com"),
        status="open",
    )
    ctx.reading = make_reading(
        "order_status", 0.91, alternatives=(("order_status", 0.91), ("shipping_problem", 0.06))
    )
    for k, v in kw.items():
        setattr(ctx, k, v)
    return ctx


def test_brief_is_scannable_and_says_why():
    ctx = _ctx(
        enrichment=Enrichment(
            orders=[make_order()],
            hidden_orders=1,
            customer=make_order().customer,
            payments=PaymentContext(
                customer_id="cus_1",
                email="jane@example.com",
                disputes=(
                    Dispute(
                        id="dp_1",
                        amount=4990,
                        currency="eur",
                        reason="fraudulent",
                        status="needs_response",
                    ),
                ),
            ),
            notes=["Stripe unavailable right now (503): continuing without Stripe context"],
        )
    )
    ctx.suggested = SuggestedReply("Hi Jane,\n\nYour parcel is on its way.", "template", "en")
    trace = (
        RuleVerdict("mode", "info", "order_status is in auto mode"),
        rules.risk_flags(ctx),
        RuleVerdict("confidence", "fail", "confidence 0.91 vs 0.95 needed"),
    )
    ctx.decision = Decision(
        configured_mode="auto",
        mode="auto",
        outcome="escalate",
        rule="risk_flags",
        reason="needs a person: risk: chargeback_fraud",
        trace=trace,
        escalated=True,
        priority="urgent",
    )
    brief = decision_brief(ctx)
    lines = brief.splitlines()
    assert lines[0] == "**Deskguard** · ESCALATED to a person"
    assert "**Category:** order_status (91%) · runners-up: shipping_problem 6%" in brief
    assert "**Needs a person because:** risk: chargeback_fraud (1 open Stripe dispute(s))" in brief
    assert "✗ confidence: confidence 0.91 vs 0.95 needed" in brief
    assert "**#1001**" in brief and "JD1001" in brief
    assert "1 order(s) matched a number in the ticket but belong to another email" in brief
    assert "⚑ dispute 49.90 EUR · fraudulent · needs_response" in brief
    assert "_Stripe unavailable right now (503)" in brief
    assert "> Hi Jane," in brief
    assert len(lines) < 40 and max(len(x) for x in lines) < 200


def test_brief_shows_a_rejected_draft_as_rejected_not_as_a_suggestion():
    ctx = _ctx()
    ctx.suggested = SuggestedReply(
        "We have refunded you.", "claude", "en", check_reply("We have refunded you.")
    )
    ctx.decision = Decision(
        configured_mode="assist",
        mode="assist",
        outcome="assist_note",
        rule="mode_assist",
        reason="assist mode",
    )
    brief = decision_brief(ctx)
    assert "_Rejected by the promise checker" in brief and "> We have refunded you." not in brief


def test_the_commerce_order_answer_passes_the_checker_in_every_state():
    from dataclasses import replace
    from datetime import UTC, datetime

    from connector.commerce.wismo import customer_answer

    for order in (
        make_order(),
        make_order(tracking=False),
        replace(make_order(), cancelled_at=datetime.now(UTC)),
    ):
        text = customer_answer(order, customer_name="Jane Doe")
        assert text and check_reply(text) == (), text
