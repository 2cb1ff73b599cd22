"""Collaborative actions the policy proposes: a refund or an order cancellation that an agent
approves in the Deskguard panel before anything reaches Stripe or Shopify.

Each proposal rule is a plain function listed by name in ``PROPOSAL_RULES``, like the escalation
rules in rules.py: it looks at the pipeline context and answers one ``RuleVerdict`` for the policy
trace, plus the proposal when it makes one.

- ``propose_refund``: category ``refund`` (or ``return_exchange`` / ``shipping_problem`` when the
  customer explicitly asks for their money back), exactly one visible (privacy rule) paid order,
  exactly one Stripe charge for it that is still refundable → refund what is left on that charge
  (never more than the order total), reason ``requested_by_customer``.
- ``propose_cancel_order``: category ``cancel_order``, exactly one visible order that is
  UNFULFILLED and not cancelled → cancel it (reason CUSTOMER, restock, notify the customer).

Never when the reading carries a risk flag, the customer has an open Stripe dispute (or the charge
was disputed), the text holds instructions aimed at the assistant, or the reading is below the
escalation confidence: a person decides, and the escalation rules say why.

Where a proposal goes depends on the (effective) mode: ``off`` → not evaluated; ``shadow`` and
replay → recorded in the decision's trace and brief only (shadow writes nothing, so there is
nothing for agents to click); ``assist`` / ``auto`` → an ``approvals`` row in state ``proposed``
(connector/commerce/approvals.py) that agents approve or reject in the side panel. Proposing writes
only to our own ledger, never to a vendor, so it also happens while the kill switch is on; the
kill switch blocks the *execution* (``approvals.execute`` defers it).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from connector.db import transaction
from connector.domain import ZERO_DECIMAL, Charge, Dispute, Order, PaymentContext, PaymentIntent
from connector.errors import BadRequest
from connector.pipeline import replies
from connector.pipeline.context import RuleVerdict, SuggestedReply, TicketContext

if TYPE_CHECKING:
    import sqlite_utils

    from connector.commerce.approvals import Approval
    from connector.runtime import Runtime

REFUND_CATEGORIES = ("refund", "return_exchange", "shipping_problem")
PAID_STATUSES = ("PAID", "PARTIALLY_REFUNDED")
CLOSED_DISPUTES = ("won", "lost", "warning_closed")


@dataclass
class Proposal:
    """One collaborative action the policy proposes for this ticket."""

    kind: str  # refund | cancel_order
    params: dict[str, Any]  # as connector.commerce.approval_params.validate_params returns them
    rule: str  # the proposal rule that made it
    reason: str  # why, for the approvals row (agents read it in the panel)
    summary: str  # "refund of $58.90 on charge ch_… (order #1003)"
    approval_id: int | None = None  # None in shadow / replay: nothing was created
    state: str = ""  # the approvals row's state once recorded
    decided_by: str | None = None
    reused: bool = False  # an earlier proposal of this ticket stands instead of a new one

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "params": dict(self.params),
            "rule": self.rule,
            "reason": self.reason,
            "summary": self.summary,
            "approval_id": self.approval_id,
            "state": self.state or "not_created",
            "reused": self.reused,
        }


def validate_params(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """The approvals module's own validation (imported when first needed: the commerce area loads
    the vendor SDKs, which the pipeline does not need until it proposes something)."""
    from connector.commerce.approval_params import validate_params as validate

    return validate(kind, params)


ProposalRule = Callable[[TicketContext], tuple[RuleVerdict, Proposal | None]]


def evaluate(ctx: TicketContext) -> list[tuple[RuleVerdict, Proposal | None]]:
    """Every proposal rule's verdict, in table order (decide calls this; mode off skips it)."""
    return [rule(ctx) for rule in PROPOSAL_RULES.values()]


# --- what the customer asked ----------------------------------------------------------------
# "I want my money back" in the languages the promise checker knows, plus Italian and Dutch.
_MONEY_BACK = re.compile(
    r"\b(refund\w*|money\s+back|(give|send|pay)\s+(me\s+)?back\s+my\s+money|reimburse\w*|repay\w*|"
    r"(rück)?erstatt\w*|geld\s+zurück|"
    r"rembours\w*|"
    r"reembols\w*|devoluci[oó]n\s+del\s+dinero|devolver\s+(el|mi)\s+dinero|"
    r"rimbors\w*|"
    r"terugbetal\w*|geld\s+terug|restitutie)",
    re.IGNORECASE,
)
# A refusal right before the ask ("I don't want a refund", "instead of a refund", "pas de
# remboursement"). Only the words directly in front count: "I have not received it, refund me" asks.
_ARTICLE = r"(a|an|any|the|my|full|partial|ein\w*|un|une|el|il|di|de|d['’]|del|een)"
_NOT_ASKING = re.compile(
    r"(\bno|\bnot|n['’]t\s+(want|need|ask\s+for|asking\s+for|looking\s+for|expect)|\bdo\s+not\s+(want|need)|"
    r"\bwithout|\binstead\s+of|\brather\s+than|\bkein\w*|\bstatt|\banstatt|\bnicht\s+(um|nach)|\bpas|"
    r"\bsans|\bplutôt\s+qu['’]\s*(un|une)?|\bsin|\ben\s+lugar\s+de|\bno\s+quiero|\bnon\s+voglio|\binvece|"
    r"\bgeen)(\s+" + _ARTICLE + r")*\s*$",
    re.IGNORECASE,
)


def asks_for_money_back(text: str) -> bool:
    """True when the text asks for the money back (not when it declines it: "no refund, just a
    swap")."""
    text = text or ""
    return any(
        not _NOT_ASKING.search(text[max(0, m.start() - 40) : m.start()])
        for m in _MONEY_BACK.finditer(text)
    )


def _ticket_text(ctx: TicketContext) -> str:
    return f"{ctx.text.subject}\n{ctx.text.body}" if ctx.text is not None else ""


# --- safety ---------------------------------------------------------------------------------
def open_disputes(payments: PaymentContext | None) -> list[Dispute]:
    return [d for d in (payments.disputes if payments else ()) if d.status not in CLOSED_DISPUTES]


def safety_block(ctx: TicketContext) -> str | None:
    """Why no money or order action may be proposed for this ticket, or None."""
    r = ctx.require_reading()
    if r.risk_flags:
        return "risk " + ", ".join(r.risk_flags)
    disputes = open_disputes(ctx.enrichment.payments)
    if disputes:
        return f"{len(disputes)} open Stripe dispute(s) for this customer"
    if ctx.injection_hits:
        return "the ticket text holds instructions aimed at the assistant"
    limit = float(ctx.require_policy().escalation["min_confidence"])
    if r.confidence < limit:
        return f"confidence {r.confidence:.2f} < {limit:.2f}"
    return None


# --- orders and payments ----------------------------------------------------------------------
def _pool(ctx: TicketContext) -> tuple[list[Order], str]:
    """The orders this ticket is about: the ones it names (among the requester's own), else all of
    the requester's orders. ``("", ...)`` explains an empty pool."""
    orders = ctx.enrichment.orders  # already filtered by the privacy rule
    refs = set(ctx.order_refs)
    if refs:
        named = [o for o in orders if o.name in refs]
        if not named:
            return [], f"order {', '.join(sorted(refs))} is not among the requester's own orders"
        return named, ""
    return list(orders), "" if orders else "no order found for the requester's email"


def order_minor(order: Order) -> int | None:
    """The order total in minor units, or None when it cannot be read."""
    try:
        exp = 0 if order.total.currency.lower() in ZERO_DECIMAL else 2
        value = Decimal(order.total.amount).scaleb(exp)
    except (InvalidOperation, ValueError, AttributeError):
        return None
    return int(value) if value == value.to_integral_value() else None


def _same_money(order: Order, amount: int, currency: str) -> bool:
    return order.total.currency.lower() == (currency or "").lower() and order_minor(order) == amount


def charges_for(order: Order, payments: PaymentContext) -> list[Charge]:
    """The charges that paid for ``order``: named in their metadata (Shopify's order name), else
    the same amount and currency."""
    named = [c for c in payments.charges if c.metadata.get("order_name") == order.name]
    if named:
        return named
    return [
        c
        for c in payments.charges
        if not c.metadata.get("order_name") and _same_money(order, c.amount, c.currency)
    ]


def _intents_for(order: Order, payments: PaymentContext) -> list[PaymentIntent]:
    """Succeeded PaymentIntents for the order whose charge the lookup did not list."""
    listed = {c.id for c in payments.charges}
    return [
        pi
        for pi in payments.payment_intents
        if pi.status == "succeeded"
        and pi.latest_charge not in listed
        and _same_money(order, pi.amount, pi.currency)
    ]


def money(amount: int, currency: str) -> str:
    cur = (currency or "").lower()
    symbol = {"usd": "$", "eur": "€", "gbp": "£"}.get(cur)
    if symbol:
        return f"{symbol}{amount / 100:,.2f}"
    if cur in ZERO_DECIMAL:
        return f"{amount} {cur.upper()}"
    return f"{amount / 100:,.2f} {cur.upper()}"


def _refund_target(
    order: Order, payments: PaymentContext
) -> tuple[dict[str, Any] | None, str, bool]:
    """(refund params without reason, why not, blocked) for the payment of ``order``."""
    charges = charges_for(order, payments)
    if not charges:
        intents = _intents_for(order, payments)
        touched = {r.payment_intent for r in payments.refunds} | {
            d.payment_intent for d in payments.disputes
        }
        if len(intents) == 1 and intents[0].id not in touched:
            pi = intents[0]
            return (
                {"payment_intent": pi.id, "amount": pi.amount, "currency": pi.currency.lower()},
                "",
                False,
            )
        return None, f"no Stripe charge matches order {order.name}", False
    if len(charges) > 1:
        return (
            None,
            f"{len(charges)} Stripe charges match order {order.name}: "
            "which one to refund is unclear",
            False,
        )
    c = charges[0]
    if c.disputed or any(d.charge == c.id for d in payments.disputes):
        return None, f"charge {c.id} for {order.name} was disputed", True
    if c.status != "succeeded":
        return None, f"charge {c.id} for {order.name} is {c.status}, not succeeded", False
    remaining = c.amount - c.amount_refunded
    if remaining <= 0:
        return None, f"charge {c.id} for {order.name} is already refunded", False
    total = order_minor(order)
    if total is not None and order.total.currency.lower() == c.currency.lower():
        remaining = min(
            remaining, total
        )  # a charge covering more than this order: refund this order only
    return {"charge": c.id, "amount": remaining, "currency": c.currency.lower()}, "", False


# --- the rules --------------------------------------------------------------------------------
def propose_refund(ctx: TicketContext) -> tuple[RuleVerdict, Proposal | None]:
    name, category = "propose_refund", ctx.require_reading().category
    if category not in REFUND_CATEGORIES:
        return RuleVerdict(name, "n/a", f"{category} is not about money back"), None
    asked = asks_for_money_back(_ticket_text(ctx))
    if category != "refund" and not asked:
        return RuleVerdict(
            name, "info", f"{category}: the customer does not ask for their money back"
        ), None
    blocked = safety_block(ctx)
    if blocked:
        return RuleVerdict(
            name, "blocked", f"no refund proposed: {blocked}; a person decides"
        ), None
    pool, why = _pool(ctx)
    if len(pool) != 1:
        return RuleVerdict(
            name, "info", why or f"{len(pool)} orders could be meant (need exactly one)"
        ), None
    order = pool[0]
    if order.financial_status.upper() not in PAID_STATUSES:
        return RuleVerdict(
            name, "info", f"order {order.name} is {order.financial_status.lower()}, not paid"
        ), None
    if ctx.enrichment.payments is None:
        return RuleVerdict(name, "info", "no Stripe payments for the requester to refund"), None
    target, why, blocked_charge = _refund_target(order, ctx.enrichment.payments)
    if target is None:
        return RuleVerdict(
            name, "blocked" if blocked_charge else "info", f"no refund proposed: {why}"
        ), None
    try:
        params = validate_params("refund", {**target, "reason": "requested_by_customer"})
    except BadRequest as exc:
        return RuleVerdict(name, "info", f"no refund proposed: {exc}"), None
    on = (
        f"charge {params['charge']}"
        if "charge" in params
        else f"payment {params['payment_intent']}"
    )
    summary = (
        f"refund of {money(params['amount'], params['currency'])} on {on} (order {order.name})"
    )
    reason = (
        f"{category.replace('_', ' ')} ticket"
        + (": the customer asks for their money back" if asked else "")
        + f"; order {order.name} is {order.financial_status.lower()} and {on} is refundable"
    )
    return (
        RuleVerdict(name, "propose", summary),
        Proposal("refund", params, name, reason, summary),
    )


def propose_cancel_order(ctx: TicketContext) -> tuple[RuleVerdict, Proposal | None]:
    name, category = "propose_cancel_order", ctx.require_reading().category
    if category != "cancel_order":
        return RuleVerdict(name, "n/a", f"{category} is not a cancellation request"), None
    blocked = safety_block(ctx)
    if blocked:
        return RuleVerdict(
            name, "blocked", f"no cancellation proposed: {blocked}; a person decides"
        ), None
    pool, why = _pool(ctx)
    if not pool:
        return RuleVerdict(name, "info", why), None
    open_orders = [
        o for o in pool if o.fulfillment_status.upper() == "UNFULFILLED" and o.cancelled_at is None
    ]
    if len(open_orders) != 1:
        detail = (
            f"{len(open_orders)} of {len(pool)} order(s) unfulfilled and not cancelled"
            " (need exactly one)"
            if len(pool) > 1 or open_orders
            else f"order {pool[0].name} is "
            f"{'cancelled' if pool[0].cancelled_at else pool[0].fulfillment_status.lower()}"
            ": too late to cancel before shipping"
        )
        return RuleVerdict(name, "info", detail), None
    order = open_orders[0]
    try:
        params = validate_params(
            "cancel_order",
            {
                "order_id": order.id,
                "order_name": order.name,
                "reason": "CUSTOMER",
                "restock": True,
                "notify_customer": True,
            },
        )
    except BadRequest as exc:
        return RuleVerdict(name, "info", f"no cancellation proposed: {exc}"), None
    summary = (
        f"cancel order {order.name} (restock, notify the customer; no refund: "
        "that needs its own approval)"
    )
    reason = f"cancellation request; order {order.name} is unfulfilled and not cancelled"
    return RuleVerdict(name, "propose", summary), Proposal(
        "cancel_order", params, name, reason, summary
    )


# The proposal rules, by name; each says whether to propose a collaborative action and why.
PROPOSAL_RULES: dict[str, ProposalRule] = {
    "propose_refund": propose_refund,
    "propose_cancel_order": propose_cancel_order,
}


def passed_to_team(ctx: TicketContext) -> SuggestedReply:
    """The neutral reply agents may send while a proposal waits: no promise of the outcome."""
    orders: set[str] = {p.params["order_name"] for p in ctx.proposals if p.params.get("order_name")}
    order = next(iter(orders)) if len(orders) == 1 else ""
    if not order and len(ctx.enrichment.orders) == 1:
        order = ctx.enrichment.orders[0].name
    name = ctx.ticket.requester.name if ctx.ticket else ""
    text, language = replies.passed_to_team_text(
        ctx.require_reading().language or "en", name=name, order=order
    )
    return SuggestedReply(text, "template", language, replies.check_reply(text))


# --- the stage: record proposals where agents can act on them -------------------------------
def _earlier(db: sqlite_utils.Database, ctx: TicketContext, proposal: Proposal) -> Approval | None:
    """An approval of this ticket that stands for ``proposal``: the same params in any state (an
    agent's rejection is not re-proposed, a done one is not repeated), else any still-open one of
    the same kind (one open proposal per kind per ticket)."""
    from connector.commerce import approvals

    mine = [
        a
        for a in approvals.list_approvals(db, ctx.tenant_id, ticket_id=ctx.ticket_id)
        if a.kind == proposal.kind
    ]
    same = [a for a in mine if a.params == proposal.params]
    if same:
        return same[0]
    return next((a for a in mine if a.state in approvals.OPEN_STATES), None)


def propose_actions(rt: Runtime, ctx: TicketContext) -> TicketContext:
    """Turn the decision's proposals into ``approvals`` rows (assist/auto), keep the suggested
    reply neutral, and note in the trace what happened to each proposal."""
    if not ctx.proposals:
        return ctx
    s = ctx.suggested
    if (
        s is None or s.source != "claude" or not s.ok
    ):  # a clean Claude draft may stay; anything else: neutral
        ctx.suggested = passed_to_team(ctx)
    d = ctx.require_decision()
    if ctx.dry_run or d.mode not in ("assist", "auto"):
        return ctx  # shadow: the decision and its audit record the proposal; nothing is created
    from connector.commerce import approvals

    notes: list[RuleVerdict] = []
    db = rt.db
    for p in ctx.proposals:
        with transaction(
            db
        ):  # look and propose atomically: concurrent runs of one version propose once
            earlier = _earlier(db, ctx, p)
            if earlier is not None:
                p.reused = True
                row = earlier
            else:
                row = approvals.propose(
                    db,
                    ctx.tenant_id,
                    ctx.ticket_id,
                    p.kind,
                    p.params,
                    f"policy:{p.rule}",
                    p.reason,
                    job_id=ctx.job_id,
                )
        p.approval_id, p.state, p.decided_by = row.id, row.state, row.decided_by
        if p.reused and row.params != p.params:
            p.summary = row.summary[0].lower() + row.summary[1:]
        what = p.kind.replace("_", " ")
        notes.append(
            RuleVerdict(
                "approvals",
                "info",
                f"{what}: approval #{row.id} already stands for this ({row.state}), "
                "not proposed again"
                if p.reused
                else f"{what}: approval #{row.id} created, awaiting an agent",
            )
        )
    ctx.decision = replace(d, trace=(*d.trace, *notes))
    return ctx


# --- the brief ---------------------------------------------------------------------------------
def brief_lines(ctx: TicketContext) -> list[str]:
    """The decision brief's lines about proposals (internal note: agents only)."""
    lines = []
    shadow = ctx.dry_run or ctx.require_decision().mode not in ("assist", "auto")
    for p in ctx.proposals:
        ref = f" (approval #{p.approval_id})" if p.approval_id else ""
        if shadow:
            lines.append(
                f"**Would propose:** {p.summary} — shadow mode: recorded only, nothing to approve"
            )
        elif p.state == "proposed":
            lines.append(
                f"**Proposed:** {p.summary} — awaiting agent approval in the Deskguard panel{ref}"
            )
        elif p.state == "rejected":
            lines.append(
                f"**Not proposed again:** {p.summary} — "
                f"rejected by {p.decided_by or 'an agent'}{ref}"
            )
        elif p.state == "done":
            lines.append(
                f"**Already done:** {p.summary} — "
                f"approved by {p.decided_by or 'an agent'} and executed{ref}"
            )
        elif p.state == "failed":
            lines.append(
                f"**Proposed earlier, failed:** {p.summary} — "
                f"approve again in the Deskguard panel to retry{ref}"
            )
        else:  # approved (execution deferred: kill switch or vendor outage) or executing
            what = (
                "being executed"
                if p.state == "executing"
                else "execution waiting (kill switch or vendor outage)"
            )
            lines.append(
                f"**Approved:** {p.summary} — approved by {p.decided_by or 'an agent'}, {what}{ref}"
            )
    return lines
