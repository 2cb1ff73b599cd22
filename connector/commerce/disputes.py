"""Dispute briefs: a Stripe chargeback becomes an internal note agents cannot miss.

The ``stripe.dispute`` job (queued by ``POST /webhooks/stripe/<tenant>`` for
``charge.dispute.created``) runs these small stages in order:

1. ``dispute_facts``: the dispute from the event, plus its charge (for the customer's email;
   the event carries only the charge id);
2. ``related_orders``: the customer's Shopify orders, when the ``shopify`` service finds some
   (a Shopify outage degrades the brief, it does not block it);
3. ``dispute_brief``: the note text (amount, reason, evidence due date, customer, orders);
4. ``deliver_brief``: through ``connector.actions.execute`` (keyed, audited, kill-switch
   checked): an internal note on the customer's most recently updated open ticket, or a new
   high-priority ticket when there is none. The key ``stripe-dispute-<id>-brief`` doubles as the
   comment marker, so after a crash ``reconcile`` finds the note wherever it landed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from adapters.stripe import dispute_from_stripe
from connector import actions, audit, logs
from connector.commerce.events import DisputeBriefDelivered
from connector.commerce.payments import format_minor
from connector.db import transaction
from connector.domain import ZERO_DECIMAL, Charge, Dispute, Order, Ticket
from connector.errors import ConfigError, PermanentError, VendorError

if TYPE_CHECKING:
    from connector.runtime import Runtime

LOG = logs.get("stripe.disputes")
TAGS = ("deskguard", "deskguard_dispute")


@dataclass
class DisputeFacts:
    dispute: Dispute
    charge: Charge | None
    email: str
    orders: list[Order] = field(default_factory=list)
    orders_note: str = ""  # why there are no orders, when there are none


def dispute_facts(runtime: Runtime, tenant_id: str, obj: dict[str, Any]) -> DisputeFacts:
    dispute = dispute_from_stripe(obj)
    payments = runtime.services(tenant_id).require_payments()
    charge = payments.charge(dispute.charge) if dispute.charge else None
    return DisputeFacts(dispute, charge, (charge.email if charge else "").strip().lower())


def _minor(order: Order) -> int | None:
    try:
        exp = 0 if order.total.currency.lower() in ZERO_DECIMAL else 2
        return int(Decimal(order.total.amount).scaleb(exp))
    except (InvalidOperation, ValueError):
        return None


def matches_charge(order: Order, charge: Charge | None) -> bool:
    """The order this charge paid for: named in the charge metadata, or same amount and currency."""
    if charge is None:
        return False
    if charge.metadata.get("order_name") and charge.metadata["order_name"] == order.name:
        return True
    return (
        order.total.currency.lower() == charge.currency.lower() and _minor(order) == charge.amount
    )


def related_orders(runtime: Runtime, tenant_id: str, facts: DisputeFacts) -> DisputeFacts:
    if not facts.email:
        facts.orders_note = "no customer email in Stripe"
    else:
        try:
            orders = runtime.services(tenant_id).require_orders().find_orders(email=facts.email)
        except (VendorError, ConfigError) as exc:
            facts.orders_note = f"Shopify lookup failed ({type(exc).__name__})"
            logs.log(LOG, logging.WARNING, "dispute.shopify_unavailable", error=str(exc)[:200])
        else:
            # The matching order first, then the rest newest first.
            facts.orders = sorted(
                orders,
                key=lambda o: (
                    not matches_charge(o, facts.charge),
                    -(o.created_at.timestamp() if o.created_at else 0),
                ),
            )
            if not facts.orders:
                facts.orders_note = "no Shopify orders for this email"
    return facts


def _date(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "unknown"


def dispute_brief(facts: DisputeFacts, *, now: datetime | None = None) -> str:
    d, charge = facts.dispute, facts.charge
    now = now or datetime.now(UTC)
    due = ""
    if d.due_by:
        days = (d.due_by - now).total_seconds() / 86400
        due = (
            f" (in {days:.0f} days)"
            if days >= 1
            else " (less than a day left)"
            if days > 0
            else " (PAST DUE)"
        )
    lines = [
        "⚠ Stripe dispute (chargeback) opened — respond before the evidence due date.",
        "",
        f"Amount: {format_minor(d.amount, d.currency)}",
        f"Reason: {d.reason.replace('_', ' ') or 'unknown'}",
        f"Status: {d.status.replace('_', ' ')}",
        f"Evidence due: {_date(d.due_by)}{due}",
        f"Customer: {facts.email or 'unknown (no email on the charge or customer)'}",
        f"Dispute: {d.id} · charge {d.charge or '?'}"
        + (f" · payment {d.payment_intent}" if d.payment_intent else ""),
    ]
    if charge:
        lines.append(
            f"Charge: {format_minor(charge.amount, charge.currency)} on {_date(charge.created_at)}"
            + (f" — {charge.description}" if charge.description else "")
        )
    lines += ["", "Related Shopify orders:"]
    if facts.orders:
        for o in facts.orders[:5]:
            status = f"{o.financial_status} / {o.fulfillment_status}".lower()
            delivered = next((f.delivered_at for f in o.fulfillments if f.delivered_at), None)
            extra = f", delivered {_date(delivered)}" if delivered else ""
            match = " ← paid by the disputed charge" if matches_charge(o, charge) else ""
            lines.append(
                f"- {o.name}: {o.total.amount} {o.total.currency}, {status}{extra}, "
                f"ordered {_date(o.created_at)}{match}"
            )
    else:
        lines.append(f"- none ({facts.orders_note or 'not looked up'})")
    lines += [
        "",
        "Next steps: gather evidence (order, delivery confirmation, customer messages) and submit "
        "it "
        "in the Stripe Dashboard before the due date. A disputed charge cannot be refunded.",
    ]
    return "\n".join(lines)


def _subject(facts: DisputeFacts) -> str:
    d = facts.dispute
    return (
        f"Chargeback: {format_minor(d.amount, d.currency)} disputed "
        f"({d.reason.replace('_', ' ')}), "
        f"evidence due {d.due_by.date().isoformat() if d.due_by else 'soon'}"
    )


def _latest(tickets: list[Ticket]) -> Ticket | None:
    floor = datetime.min.replace(tzinfo=UTC)
    return max(tickets, key=lambda t: (t.updated_at or t.created_at or floor, t.id), default=None)


def deliver_brief(
    runtime: Runtime, tenant_id: str, facts: DisputeFacts, brief: str, *, job_id: int | None = None
) -> actions.ActionOutcome:
    zendesk = runtime.services(tenant_id).require_desk()
    key = f"stripe-dispute-{facts.dispute.id}-brief"
    requester = facts.email or runtime.config.stripe_dispute_requester_email
    if not requester:
        raise PermanentError(
            f"dispute {facts.dispute.id}: no customer email in Stripe and "
            "DESKGUARD_STRIPE_DISPUTE_REQUESTER_EMAIL is empty, so there is no ticket to brief",
            vendor="stripe",
        )
    open_tickets = zendesk.find_open_tickets(facts.email) if facts.email else []
    target = _latest(open_tickets)

    def send(k: str) -> dict[str, Any]:
        if target is not None:
            result = zendesk.add_internal_note(
                target.id, brief, marker=k, tags=TAGS, priority="high"
            )
            return {"mode": "note", "ticket_id": target.id, "zendesk": result}
        new_id = zendesk.create_ticket(
            subject=_subject(facts),
            body=brief,
            requester_email=requester,
            priority="high",
            tags=TAGS,
            public=False,
            marker=k,
            external_id=k,
        )
        return {"mode": "new_ticket", "ticket_id": new_id}

    def reconcile(k: str) -> dict[str, Any] | None:
        # A ticket an earlier attempt opened carries the key as its external id: found by the
        # tickets list's external_id filter, which does not wait for the search index.
        if target is None:
            opened = zendesk.find_tickets_by_external_id(k)
            if opened:
                return {"mode": "reconciled", "ticket_id": min(opened)}
        # A note on an existing ticket carries the key as its marker. The chosen ticket is read
        # directly first: Zendesk search lags new tickets.
        candidates = [target.id] if target is not None else []
        candidates += [t.id for t in zendesk.find_open_tickets(requester) if t.id not in candidates]
        for ticket_id in candidates:
            comment = zendesk.find_comment_with_marker(ticket_id, k)
            if comment is not None:
                return {"mode": "reconciled", "ticket_id": ticket_id, "comment_id": comment.id}
        return None

    action = actions.WriteAction(
        "zendesk",
        "zendesk.dispute_brief",
        key,
        {
            "dispute": facts.dispute.id,
            "target_ticket": target.id if target else None,
            "mode": "note" if target else "new_ticket",
        },
        send,
        reconcile,
        ticket_id=target.id if target else None,
        job_id=job_id,
    )
    outcome = actions.execute(runtime.db, tenant_id, action)
    with transaction(runtime.db):
        audit.record(
            runtime.db,
            tenant_id,
            DisputeBriefDelivered(
                dispute_id=facts.dispute.id,
                mode="replayed" if outcome.replayed else str(outcome.result.get("mode")),
                target_ticket=outcome.result.get("ticket_id"),
                related_orders=len(facts.orders),
                ticket_id=outcome.result.get("ticket_id"),
                job_id=job_id,
            ),
        )
    return outcome


def dispute_object(payload: Any) -> dict[str, Any]:
    """The Stripe dispute object of a job; a payload without a usable one fails for good."""
    obj = payload.get("object") if isinstance(payload, dict) else None
    if not isinstance(obj, dict) or not isinstance(obj.get("id"), str) or not obj["id"]:
        raise PermanentError("stripe.dispute job without a dispute object id", vendor="stripe")
    try:
        dispute_from_stripe(obj)
    except (KeyError, ValueError, TypeError, OverflowError) as exc:
        raise PermanentError(
            f"stripe.dispute job with a malformed dispute object: {type(exc).__name__}: {exc}",
            vendor="stripe",
        ) from exc
    return obj


def brief_lookup(
    runtime: Runtime, action: actions.Interrupted
) -> Callable[[str], dict[str, Any] | None] | None:
    """How the reconciler finds an interrupted dispute brief posted as a note: its marker on the
    ticket chosen. A brief that opened a new ticket is left to the job's own re-run."""
    target = action.params.get("target_ticket")
    if action.kind != "zendesk.dispute_brief" or not isinstance(target, int):
        return None
    zendesk = runtime.services(action.tenant_id).require_desk()

    def lookup(key: str) -> dict[str, Any] | None:
        comment = zendesk.find_comment_with_marker(target, key)
        if comment is None:
            return None
        return {"mode": "reconciled", "ticket_id": target, "comment_id": comment.id}

    return lookup


def handle_dispute(runtime: Runtime, job: Any) -> None:
    obj = dispute_object(job.payload)
    facts = related_orders(runtime, job.tenant_id, dispute_facts(runtime, job.tenant_id, obj))
    outcome = deliver_brief(runtime, job.tenant_id, facts, dispute_brief(facts), job_id=job.id)
    logs.log(
        LOG,
        logging.INFO,
        "dispute.briefed",
        dispute=facts.dispute.id,
        mode=outcome.result.get("mode"),
        ticket=outcome.result.get("ticket_id"),
        replayed=outcome.replayed,
    )
