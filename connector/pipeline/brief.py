"""The decision brief: the internal note agents read in Zendesk.

Plain text with light Markdown (Zendesk renders bold and lists in notes; plain text stays
readable where it does not). Scannable top-down: what it is, what Deskguard did and why, the
customer context, then the suggested reply. Nothing here quotes the customer's own text.
"""

from __future__ import annotations

from connector.domain import Order, PaymentContext
from connector.pipeline.context import ASSIST_NOTE, AUTO_REPLY, ESCALATE, OFF, SHADOW, TicketContext
from connector.pipeline.proposals import brief_lines as proposal_lines

_OUTCOME_LABEL = {
    AUTO_REPLY: "AUTO-REPLIED and solved",
    ASSIST_NOTE: "ASSIST: suggestion for an agent",
    ESCALATE: "ESCALATED to a person",
    SHADOW: "SHADOW: recorded only",
    OFF: "OFF for this category",
}
_MARK = {
    "pass": "✓",
    "fail": "✗",
    "escalate": "⚑",
    "info": "·",
    "n/a": "–",
    "propose": "➜",
    "blocked": "⛔",
}


def _minor(amount: int, currency: str) -> str:
    return f"{amount / 100:.2f} {currency.upper()}"


def order_line(order: Order) -> str:
    parts = [
        f"**{order.name}**",
        order.financial_status.lower(),
        order.fulfillment_status.lower(),
        f"{order.total.amount} {order.total.currency}",
    ]
    if order.cancelled_at:
        parts.append("cancelled")
    line = " · ".join(p for p in parts if p)
    for f in order.fulfillments:
        if f.tracking_number or f.tracking_url:
            carrier = f"{f.tracking_company} " if f.tracking_company else ""
            line += f"\n    tracking: {carrier}{f.tracking_number} {f.tracking_url}".rstrip()
            if f.status:
                line += f" ({f.status.lower()})"
    return line


def payments_lines(p: PaymentContext) -> list[str]:
    lines = []
    for c in p.charges[:5]:
        extra = (
            f", refunded {_minor(c.amount_refunded, c.currency)}" if c.amount_refunded else ""
        ) + (", DISPUTED" if c.disputed else "")
        lines.append(f"- charge {_minor(c.amount, c.currency)} · {c.status}{extra}")
    for r in p.refunds[:5]:
        lines.append(f"- refund {_minor(r.amount, r.currency)} · {r.status}")
    for d in p.disputes[:5]:
        lines.append(f"- ⚑ dispute {_minor(d.amount, d.currency)} · {d.reason} · {d.status}")
    return lines or ["- no charges found for this email"]


def decision_brief(ctx: TicketContext) -> str:
    r, d = ctx.require_reading(), ctx.require_decision()
    runners = ", ".join(f"{c} {s:.0%}" for c, s in r.alternatives if c != r.category)
    lines = [f"**Deskguard** · {_OUTCOME_LABEL.get(d.outcome, d.outcome)}", ""]
    lines.append(
        f"**Category:** {r.category} ({r.confidence:.0%})"
        + (f" · runners-up: {runners}" if runners else "")
    )
    lines.append(
        f"**Sentiment:** {r.sentiment} ({r.sentiment_score:+.2f}) · **Urgency:** {r.urgency}"
        + (f" · **Language:** {r.language}" if r.language else "")
    )
    if r.risk_flags:
        lines.append("**Risk:** " + ", ".join(r.risk_flags))
    if r.reasons:
        lines.append("**Why:** " + "; ".join(r.reasons[:4]))
    lines += [
        "",
        f"**Decision:** {d.reason} (rule `{d.rule}`, mode {d.mode}"
        + (f", configured {d.configured_mode}" if d.configured_mode != d.mode else "")
        + ")",
    ]
    if d.escalated:
        esc = [v for v in d.trace if v.verdict == "escalate"]
        lines.append("**Needs a person because:** " + "; ".join(v.detail for v in esc))
    if d.fallback_gate:
        failed = next((v for v in reversed(d.trace) if v.rule == d.fallback_gate), None)
        lines.append(
            f"**Not automated:** gate `{d.fallback_gate}` failed"
            + (f" — {failed.detail}" if failed else "")
        )
    if ctx.proposals:
        lines += proposal_lines(ctx)
    checks = [
        f"{_MARK.get(v.verdict, '·')} {v.rule}: {v.detail}" for v in d.trace if v.verdict != "n/a"
    ]
    if checks:
        lines += ["", "**Policy checks:**", *[f"- {c}" for c in checks]]

    e = ctx.enrichment
    lines += ["", "**Customer context:**"]
    if e.agent_order_summaries:
        lines += [f"- {s}" for s in e.agent_order_summaries]
    else:
        lines += [f"- {order_line(o)}" for o in e.orders[:5]]
    if not e.orders:
        lines.append("- no order found for the requester's email")
    if e.hidden_orders:
        lines.append(
            f"- {e.hidden_orders} order(s) matched a number in the ticket but belong to another "
            "email: details withheld"
        )
    if e.customer is not None:
        lines.append(
            f"- customer: {e.customer.order_count} order(s), lifetime "
            f"{e.customer.lifetime_spend.amount} {e.customer.lifetime_spend.currency}"
            + (f", tags {', '.join(e.customer.tags)}" if e.customer.tags else "")
        )
    if e.payments is not None:
        lines += payments_lines(e.payments)
    lines += [f"- _{n}_" for n in e.notes]

    s = ctx.suggested
    if s is not None and s.text and d.outcome != AUTO_REPLY:
        lines += ["", f"**Suggested reply** ({s.source}, {s.language}):"]
        if s.problems:
            lines.append("_Rejected by the promise checker: " + "; ".join(s.problems) + "_")
        else:
            lines += [f"> {line}" if line else ">" for line in s.text.splitlines()]
    engine = f"{r.engine}" + (f"/{r.model}" if r.model else "")
    lines += ["", f"_{engine} · ${r.cost_usd:.4f}_"]
    return "\n".join(lines)
