"""Guardrails as plain functions, listed by name in the tables at the end: each looks at the
pipeline context and returns one ``RuleVerdict``; the decision names the rule that decided.

- ESCALATION_RULES: any rule answering ``escalate`` sends the ticket to a human, with a tag and
  a priority, whatever the category's mode.
- AUTO_GATES: every gate must ``pass`` before an automated public reply; the first that fails is
  named in the brief when auto falls back to assist.
- PREREQUISITES: per-category conditions named in the policy (``categories.<c>.prerequisites``).

The hourly/daily caps are the last gate, enforced atomically at act time
(connector/pipeline/caps.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from connector.commerce.wismo import wismo_ready
from connector.pipeline.context import RuleVerdict, TicketContext

Rule = Callable[[TicketContext], RuleVerdict]
ESCALATED_TAG = "deskguard_escalated"


def money_amount(text: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return 0.0


# --- escalation --------------------------------------------------------------------------
def risk_flags(ctx: TicketContext) -> RuleVerdict:
    watched = set(ctx.require_policy().escalation["risk_flags"])
    flags = [f for f in ctx.require_reading().risk_flags if f in watched]
    disputes = [
        d
        for d in (ctx.enrichment.payments.disputes if ctx.enrichment.payments else ())
        if d.status not in ("won", "lost", "warning_closed")
    ]
    if disputes and "chargeback_fraud" in watched and "chargeback_fraud" not in flags:
        flags.append("chargeback_fraud")
    if flags:
        detail = (
            "risk: "
            + ", ".join(flags)
            + (f" ({len(disputes)} open Stripe dispute(s))" if disputes else "")
        )
        return RuleVerdict(
            "risk_flags", "escalate", detail, tag="deskguard_risk", priority="urgent"
        )
    return RuleVerdict("risk_flags", "pass", "no legal, chargeback/fraud or safety risk")


def urgency(ctx: TicketContext) -> RuleVerdict:
    level = ctx.require_reading().urgency
    if level in ctx.require_policy().escalation["urgencies"]:
        return RuleVerdict(
            "urgency",
            "escalate",
            f"urgency is {level}",
            tag="deskguard_urgent",
            priority="urgent",
        )
    return RuleVerdict("urgency", "pass", f"urgency {level}")


def negative_sentiment(ctx: TicketContext) -> RuleVerdict:
    limit = float(ctx.require_policy().escalation["negative_sentiment_at_or_below"])
    score = ctx.require_reading().sentiment_score
    if score <= limit:
        return RuleVerdict(
            "negative_sentiment",
            "escalate",
            f"sentiment {score:+.2f} ≤ {limit:+.2f}",
            tag="deskguard_negative",
            priority="high",
        )
    return RuleVerdict("negative_sentiment", "pass", f"sentiment {score:+.2f} > {limit:+.2f}")


def vip(ctx: TicketContext) -> RuleVerdict:
    esc = ctx.require_policy().escalation
    vip_tags = {t.lower() for t in esc["vip_tags"]}
    customer = ctx.enrichment.customer
    tags = {t.lower() for t in (ctx.ticket.tags if ctx.ticket else ())}
    if customer:
        tags |= {t.lower() for t in customer.tags}
    hit = sorted(tags & vip_tags)
    if hit:
        return RuleVerdict(
            "vip", "escalate", "VIP tag " + ", ".join(hit), tag="deskguard_vip", priority="high"
        )
    if customer is not None:
        spend = money_amount(customer.lifetime_spend.amount)
        limit = float(esc["vip_lifetime_spend"])
        if spend >= limit:
            return RuleVerdict(
                "vip",
                "escalate",
                f"lifetime spend {spend:.2f} {customer.lifetime_spend.currency} ≥ {limit:.2f}",
                tag="deskguard_vip",
                priority="high",
            )
        return RuleVerdict("vip", "pass", f"lifetime spend {spend:.2f} < {limit:.2f}")
    return RuleVerdict("vip", "pass", "no VIP tag; lifetime spend unknown")


def repeat_contact(ctx: TicketContext) -> RuleVerdict:
    esc = ctx.require_policy().escalation
    limit = int(esc["repeat_contact_prior_contacts"])
    days = esc["repeat_contact_window_days"]
    about = "order " + ", ".join(ctx.order_refs) if ctx.order_refs else "the same subject"
    if limit and ctx.prior_contacts >= limit:
        return RuleVerdict(
            "repeat_contact",
            "escalate",
            f"{ctx.prior_contacts} earlier contact(s) about {about} in {days} days",
            tag="deskguard_repeat_contact",
            priority="high",
        )
    return RuleVerdict(
        "repeat_contact", "pass", f"{ctx.prior_contacts} earlier contact(s) in {days} days"
    )


def low_confidence(ctx: TicketContext) -> RuleVerdict:
    limit = float(ctx.require_policy().escalation["min_confidence"])
    got = ctx.require_reading().confidence
    if got < limit:
        return RuleVerdict(
            "low_confidence",
            "escalate",
            f"confidence {got:.2f} < {limit:.2f}",
            tag="deskguard_low_confidence",
            priority="normal",
        )
    return RuleVerdict("low_confidence", "pass", f"confidence {got:.2f} ≥ {limit:.2f}")


def classifier_refused(ctx: TicketContext) -> RuleVerdict:
    """Claude declined to read the ticket (``stop_reason: "refusal"``): a person reads it,
    whatever the confidence threshold (the local reading that stands in has confidence 0)."""
    reason = ctx.require_reading().fallback_reason or ""
    if reason.startswith("refused:"):
        return RuleVerdict(
            "classifier_refused",
            "escalate",
            reason,
            tag="deskguard_classifier_refused",
            priority="normal",
        )
    return RuleVerdict("classifier_refused", "pass", "the reading was not refused")


def injection(ctx: TicketContext) -> RuleVerdict:
    if ctx.injection_hits and ctx.require_policy().escalation.get("injection_escalates", True):
        return RuleVerdict(
            "injection",
            "escalate",
            "ticket text contains instructions aimed at the assistant: "
            + "; ".join(ctx.injection_hits[:3]),
            tag="deskguard_injection_suspected",
            priority="normal",
        )
    if ctx.injection_hits:
        return RuleVerdict(
            "injection", "info", "instructions to the assistant found (escalation disabled)"
        )
    return RuleVerdict("injection", "pass", "no instructions aimed at the assistant")


# --- auto gates -------------------------------------------------------------------------
def category_allows_auto(ctx: TicketContext) -> RuleVerdict:
    cp = ctx.category_policy
    if cp.auto_allowed:
        return RuleVerdict(
            "category_allows_auto", "pass", f"{cp.category} may be answered automatically"
        )
    return RuleVerdict(
        "category_allows_auto", "fail", f"{cp.category} is never answered automatically by policy"
    )


def confidence(ctx: TicketContext) -> RuleVerdict:
    need = ctx.category_policy.min_confidence
    got = ctx.require_reading().confidence
    return RuleVerdict(
        "confidence",
        "pass" if got >= need else "fail",
        f"confidence {got:.2f} vs {need:.2f} needed",
    )


def prerequisites(ctx: TicketContext) -> RuleVerdict:
    names = ctx.category_policy.prerequisites
    if not names:
        return RuleVerdict("prerequisites", "pass", "none for this category")
    for name in names:
        verdict = PREREQUISITES[name](ctx)
        if verdict.verdict != "pass":
            return RuleVerdict("prerequisites", "fail", f"{name}: {verdict.detail}")
    return RuleVerdict("prerequisites", "pass", ", ".join(names))


def reply_ready(ctx: TicketContext) -> RuleVerdict:
    s = ctx.auto_reply
    if s is None or not s.text:
        return RuleVerdict(
            "reply_ready", "fail", "no reply available for this category and language"
        )
    if s.problems:
        return RuleVerdict(
            "reply_ready", "fail", "reply rejected by the promise checker: " + "; ".join(s.problems)
        )
    wanted = ctx.require_reading().language or "en"
    if s.language != wanted:
        return RuleVerdict(
            "reply_ready", "fail", f"no {s.source} reply in the customer's language ({wanted})"
        )
    return RuleVerdict("reply_ready", "pass", f"{s.source} reply in {s.language}")


# --- prerequisites ------------------------------------------------------------------------
def single_order_with_tracking(ctx: TicketContext) -> RuleVerdict:
    orders = ctx.enrichment.orders
    if len(orders) != 1:
        return RuleVerdict(
            "single_order_with_tracking",
            "fail",
            f"{len(orders)} orders found for the requester (need exactly one)",
        )
    order = orders[0]
    if order.cancelled_at is not None:
        return RuleVerdict("single_order_with_tracking", "fail", f"order {order.name} is cancelled")
    ready, why = wismo_ready(orders)
    if not ready:
        return RuleVerdict(
            "single_order_with_tracking", "fail", why or f"order {order.name} has no tracking yet"
        )
    return RuleVerdict("single_order_with_tracking", "pass", f"order {order.name} with tracking")


def tenant_answer(ctx: TicketContext) -> RuleVerdict:
    category = ctx.require_reading().category
    if (ctx.require_policy().answers.get(category) or "").strip():
        return RuleVerdict(
            "tenant_answer", "pass", f"the store's own answer for {category} is configured"
        )
    return RuleVerdict(
        "tenant_answer", "fail", f"no store answer configured (policy answers.{category})"
    )


# --- rollout ------------------------------------------------------------------------------
def rollout_bucket(tenant_id: str, category: str, ticket_id: int) -> int:
    """A stable 0..99 bucket per (tenant, category, ticket): a ticket always gets the same
    decision."""
    digest = hashlib.sha256(f"{tenant_id}:{category}:{ticket_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100


# The rules, by name (a decision records the name of the rule that decided). Order matters
# for AUTO_GATES: the first gate that fails is reported.
ESCALATION_RULES: dict[str, Rule] = {
    "risk_flags": risk_flags,
    "urgency": urgency,
    "negative_sentiment": negative_sentiment,
    "vip": vip,
    "repeat_contact": repeat_contact,
    "low_confidence": low_confidence,
    "classifier_refused": classifier_refused,
    "injection": injection,
}
AUTO_GATES: dict[str, Rule] = {
    "category_allows_auto": category_allows_auto,
    "confidence": confidence,
    "prerequisites": prerequisites,
    "reply_ready": reply_ready,
}
PREREQUISITES: dict[str, Rule] = {
    "single_order_with_tracking": single_order_with_tracking,
    "tenant_answer": tenant_answer,
}
