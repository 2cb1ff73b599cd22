"""“Where is my order?”: the customer-facing order-status answer and the agent's one-liner.

- ``wismo_ready(orders)``: the policy's prerequisite for an automatic answer. Exactly one order
  found for the requester (pass the orders *after* the privacy rule, ``privacy.visible_orders``),
  not cancelled, with tracking information, and no carrier-reported problem (those need a person).
- ``customer_answer(order)``: status, carrier, tracking link and expected delivery in plain,
  friendly English. The pipeline appends the "written automatically" line.
- ``agent_summary(order)``: one line per order for the decision brief.

Dates are shown as the shop reported them (UTC); the wording never promises more than the
carrier data says. Statuses are Shopify's enum values as strings: a value added in a later API
version (``FULFILLMENT_NOT_REQUIRED`` in 2026-10, "OrderDisplayFulfillmentStatus",
https://shopify.dev/docs/api/admin-graphql/2026-10/enums/OrderDisplayFulfillmentStatus) or one
this module has never seen is shown as it comes and never treated as a delivery or a problem.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from connector.domain import Fulfillment, Order

DELIVERED = {"DELIVERED", "PICKED_UP"}
PROBLEMS = {"FAILURE", "NOT_DELIVERED", "CANCELED", "LABEL_VOIDED"}
# OrderDisplayFulfillmentStatus values meaning the order has no items to fulfil (digital goods).
NOTHING_TO_SHIP = {"FULFILLMENT_NOT_REQUIRED"}
_PHRASES = {
    "OUT_FOR_DELIVERY": "is out for delivery today",
    "ATTEMPTED_DELIVERY": "had a delivery attempt, but the carrier could not hand it over yet; "
    "they usually try again or leave a note on where to collect it",
    "DELAYED": "is on its way, but the carrier reports a delay",
    "READY_FOR_PICKUP": "is ready for you to pick up",
    "IN_TRANSIT": "is on its way",
    "CONFIRMED": "has been handed to the carrier",
    "LABEL_PRINTED": "is packed and waiting for the carrier to collect it",
    "LABEL_PURCHASED": "is packed and waiting for the carrier to collect it",
    "SUBMITTED": "is packed and waiting for the carrier to collect it",
}


def _day(dt: datetime) -> str:
    return f"{dt:%A} {dt.day} {dt:%B}"


def _tracked(order: Order) -> list[Fulfillment]:
    return [f for f in order.fulfillments if f.tracking_number or f.tracking_url]


def wismo_ready(orders: Sequence[Order]) -> tuple[bool, str]:
    """(True, why) when an automatic order-status answer is safe; else (False, why not)."""
    if not orders:
        return False, "no order found for the requester"
    if len(orders) > 1:
        return (
            False,
            f"{len(orders)} orders found for the requester; an agent should pick the right one",
        )
    order = orders[0]
    if order.cancelled_at is not None:
        return False, f"order {order.name} was cancelled"
    tracked = _tracked(order)
    if not tracked and order.fulfillment_status in NOTHING_TO_SHIP:
        return False, f"order {order.name} has nothing to ship ({order.fulfillment_status})"
    if not tracked:
        return False, f"order {order.name} has no tracking information yet"
    problems = sorted({f.status for f in tracked if f.status in PROBLEMS})
    if problems:
        return (
            False,
            f"the carrier reports a problem with order {order.name} ({', '.join(problems)})",
        )
    return True, f"one order ({order.name}) with tracking information"


def _delivered(f: Fulfillment) -> bool:
    return f.status in DELIVERED or f.delivered_at is not None


def _status_sentence(f: Fulfillment) -> str:
    if _delivered(f):
        return "The carrier reports it was delivered" + (
            f" on {_day(f.delivered_at)}." if f.delivered_at else "."
        )
    phrase = _PHRASES.get(f.status, "has shipped")
    good = f.status not in ("DELAYED", "ATTEMPTED_DELIVERY")
    return f"{'Good news: it' if good else 'It'} {phrase}."


def _shipment_lines(f: Fulfillment, now: datetime, *, label: str = "") -> list[str]:
    lines = [f"{label}{_status_sentence(f)}"]
    if f.tracking_company:
        lines.append(f"Carrier: {f.tracking_company}")
    if f.tracking_number:
        lines.append(f"Tracking number: {f.tracking_number}")
    if f.tracking_url:
        lines.append(f"Track your parcel: {f.tracking_url}")
    eta = f.estimated_delivery_at
    if eta and not _delivered(f) and eta.date() >= now.date():
        lines.append(f"Expected delivery: {_day(eta)}")
    return lines


def customer_answer(order: Order, *, customer_name: str = "", now: datetime | None = None) -> str:
    """The reply to a customer asking where their order is."""
    now = now or datetime.now(UTC)
    first = (customer_name or "").strip().split(" ")[0]
    placed = f" (placed on {_day(order.created_at)})" if order.created_at else ""
    out = [
        f"Hi {first}," if first else "Hi there,",
        "",
        f"Thanks for getting in touch about your order {order.name}{placed}.",
    ]
    if order.line_items:
        titles = [
            li.title if li.quantity == 1 else f"{li.quantity} × {li.title}"
            for li in order.line_items[:3]
        ]
        more = f" and {len(order.line_items) - 3} more" if len(order.line_items) > 3 else ""
        out.append(f"It contains: {', '.join(titles)}{more}.")
    out.append("")
    tracked = _tracked(order)
    if order.cancelled_at is not None:
        out.append(f"This order was cancelled on {_day(order.cancelled_at)}, so it will not ship.")
    elif not tracked and order.fulfillment_status in NOTHING_TO_SHIP:
        out.append("Nothing in this order needs shipping, so there is no parcel to track.")
    elif not tracked:
        if order.fulfillment_status in ("FULFILLED", "PARTIALLY_FULFILLED") or order.fulfillments:
            out.append(
                "It has left our warehouse; the carrier has not shared a tracking number with us "
                "yet."
            )
        else:
            out.append(
                "It has not shipped yet. We will email you the tracking details as soon as it does."
            )
    elif len(tracked) == 1:
        out += _shipment_lines(tracked[0], now)
    else:
        out.append(f"Your order ships in {len(tracked)} parcels:")
        for i, f in enumerate(tracked, start=1):
            out.append("")
            out += _shipment_lines(f, now, label=f"Parcel {i}: ")
    if order.fulfillment_status == "PARTIALLY_FULFILLED" and not order.cancelled_at:
        out += [
            "",
            "The rest of your order has not shipped yet; you will get tracking details when it "
            "does.",
        ]
    out += [
        "",
        "If anything looks wrong, just reply to this message and one of our team will help.",
    ]
    return "\n".join(out)


def agent_summary(order: Order) -> str:
    """One line for the decision brief, e.g. ``#1001 · 2025-11-18 · PAID / FULFILLED · 84.50 USD ·
    2 items · UPS 1Z… IN_TRANSIT, ETA 2025-11-25``."""
    parts = [order.name]
    if order.created_at:
        parts.append(order.created_at.date().isoformat())
    parts.append(f"{order.financial_status or '?'} / {order.fulfillment_status or '?'}")
    if order.cancelled_at:
        parts.append(
            f"CANCELLED {order.cancelled_at.date().isoformat()}"
            + (f" ({order.cancel_reason})" if order.cancel_reason else "")
        )
    parts.append(f"{order.total.amount} {order.total.currency}".strip())
    items = sum(li.quantity for li in order.line_items)
    parts.append(f"{items} item{'s' if items != 1 else ''}")
    for f in _tracked(order)[:2]:
        text = " ".join(p for p in (f.tracking_company, f.tracking_number, f.status) if p)
        if f.delivered_at:
            text += f", delivered {f.delivered_at.date().isoformat()}"
        elif f.estimated_delivery_at:
            text += f", ETA {f.estimated_delivery_at.date().isoformat()}"
        parts.append(text)
    if not _tracked(order) and order.fulfillments:
        parts.append("shipped, no tracking")
    if order.customer:
        c = order.customer
        tags = f", tags {', '.join(c.tags)}" if c.tags else ""
        parts.append(
            f"customer: {c.order_count} order{'s' if c.order_count != 1 else ''}, "
            f"{c.lifetime_spend.amount} {c.lifetime_spend.currency} "
            f"lifetime{tags}"
        )
    return " · ".join(parts)


__all__ = ["agent_summary", "customer_answer", "wismo_ready"]
