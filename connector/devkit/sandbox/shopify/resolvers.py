"""GraphQL resolvers of the Shopify sandbox: the root value graphql-core executes documents
against. Plain dicts keyed by GraphQL field name; callables receive ``(info, **args)``."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from typing import Any

from connector.devkit.sandbox.shopify.model import (
    ShopFulfillment,
    ShopOrder,
    gid,
    iso,
    parse_gid,
)
from connector.devkit.sandbox.shopify.query import order_matches, parse_search
from connector.devkit.sandbox.shopify.state import ShopifyState


def _money(amount: str, currency: str) -> dict[str, Any]:
    money = {"amount": amount, "currencyCode": currency}
    return {"shopMoney": money, "presentmentMoney": money}


def _page(
    items: list[Any], first: int | None, after: str | None, last: int | None = None
) -> tuple[list, dict]:
    start = 0
    if after:
        try:
            start = int(base64.b64decode(after).decode().split(":")[1]) + 1
        except (ValueError, IndexError, UnicodeDecodeError):
            start = 0
    window = items[start:]
    if first is not None:
        window = window[:first]
    elif last is not None:
        window = window[-last:] if last else []
    end = start + len(window) - 1
    info = {
        "hasNextPage": end + 1 < len(items),
        "hasPreviousPage": start > 0,
        "startCursor": base64.b64encode(f"cursor:{start}".encode()).decode() if window else None,
        "endCursor": base64.b64encode(f"cursor:{end}".encode()).decode() if window else None,
    }
    return window, info


class ShopRoot:
    """The root value for queries (``orders``, ``order``, ``job``) and the ``orderCancel``
    mutation, over one shop's state. Call with the state's lock held."""

    def __init__(self, state: ShopifyState):
        self.state = state

    def customer_view(self, customer_id: int | None) -> dict[str, Any] | None:
        c = self.state.customers.get(customer_id) if customer_id else None
        if c is None:
            return None
        return {
            "id": gid("Customer", c.id),
            "numberOfOrders": str(c.number_of_orders),  # UnsignedInt64 → string
            "amountSpent": {"amount": c.amount_spent, "currencyCode": c.currency},
            "tags": list(c.tags),
            "displayName": f"{c.first_name} {c.last_name}".strip(),
        }

    def order_view(self, o: ShopOrder) -> dict[str, Any]:
        def line_items(info, first=None, after=None, last=None, before=None, reverse=False):
            items = list(reversed(o.line_items)) if reverse else list(o.line_items)
            window, page = _page(items, first, after, last)
            return {
                "nodes": [
                    {
                        "id": gid("LineItem", li.id),
                        "title": li.title,
                        "quantity": li.quantity,
                        "sku": li.sku,
                    }
                    for li in window
                ],
                "pageInfo": page,
            }

        def fulfillments(info, first=None):
            items = o.fulfillments[:first] if first is not None else o.fulfillments
            return [self.fulfillment_view(f) for f in items]

        return {
            "id": gid("Order", o.id),
            "name": o.name,
            "createdAt": iso(o.created_at),
            "email": o.email,
            "cancelledAt": iso(o.cancelled_at),
            "cancelReason": o.cancel_reason,
            "closed": o.closed,
            "displayFinancialStatus": o.financial_status,
            "displayFulfillmentStatus": o.fulfillment_status,
            "totalPriceSet": _money(o.total, o.currency),
            "lineItems": line_items,
            "fulfillments": fulfillments,
            "customer": self.customer_view(o.customer_id),
        }

    @staticmethod
    def fulfillment_view(f: ShopFulfillment) -> dict[str, Any]:
        def tracking(info, first=None):
            items = f.tracking[:first] if first is not None else f.tracking
            return [{"company": t.company, "number": t.number, "url": t.url} for t in items]

        return {
            "id": gid("Fulfillment", f.id),
            "status": f.status,
            "displayStatus": f.display_status,
            "createdAt": iso(f.created_at),
            "estimatedDeliveryAt": iso(f.estimated_delivery_at),
            "deliveredAt": iso(f.delivered_at),
            "trackingInfo": tracking,
        }

    # QueryRoot
    def orders(
        self,
        info,
        first=None,
        after=None,
        last=None,
        before=None,
        reverse=False,
        sortKey="ID",
        query=None,
        savedSearchId=None,
    ):
        from graphql import GraphQLError

        if first is None and last is None:
            raise GraphQLError("you must provide one of first or last")
        if (first or 0) > 250 or (last or 0) > 250:
            raise GraphQLError("The maximum number of items a connection can return is 250")
        terms = parse_search(query)
        found = [o for o in self.state.orders.values() if order_matches(o, terms)]
        keys = {
            "CREATED_AT": lambda o: (o.created_at, o.id),
            "ORDER_NUMBER": lambda o: o.number,
            "UPDATED_AT": lambda o: (o.created_at, o.id),
        }
        found.sort(key=keys.get(sortKey, lambda o: o.id), reverse=bool(reverse))
        window, page = _page(found, first, after, last)
        return {"nodes": [self.order_view(o) for o in window], "pageInfo": page}

    def order(self, info, id):
        number = parse_gid(id, "Order")
        o = self.state.orders.get(number) if number is not None else None
        return self.order_view(o) if o else None

    def job(self, info, id):
        return {"id": id, "done": self.state.jobs[id]} if id in self.state.jobs else None

    # Mutation
    def orderCancel(
        self,
        info,
        orderId,
        restock,
        reason,
        notifyCustomer=False,
        staffNote=None,
        refundMethod=None,
        refund=None,
    ):
        """2026-10: ``refundMethod`` (a oneOf input) says how money goes back; the deprecated
        Boolean ``refund`` is still accepted (the endpoint names it in the deprecation header).
        With neither, the cancellation is refused: Shopify documents ``refundMethod`` as required
        from 2026-07."""
        state = self.state
        number = parse_gid(orderId, "Order")
        o = state.orders.get(number) if number is not None else None

        def error(code: str, message: str, field: str = "orderId"):
            return {
                "job": None,
                "orderCancelUserErrors": [{"code": code, "field": [field], "message": message}],
            }

        method = _refund_method(refundMethod, refund)
        if method is None:
            return error("INVALID", "A refund method is required.", "refundMethod")
        if o is None:
            return error("NOT_FOUND", "Order does not exist.")
        if o.cancelled_at is not None:
            return error("INVALID", "Order has already been cancelled.")
        if o.fulfillment_status in ("FULFILLED", "PARTIALLY_FULFILLED"):
            return error("INVALID", "Cannot cancel an order that has fulfilled items.")
        refunds = method != "none"
        o.cancelled_at = datetime.now(UTC)
        o.cancel_reason = reason
        o.closed = True
        if refunds and o.financial_status in ("PAID", "PARTIALLY_PAID", "PARTIALLY_REFUNDED"):
            o.financial_status = "REFUNDED"
        elif o.financial_status in ("AUTHORIZED", "PENDING"):
            o.financial_status = "VOIDED"
        job_id = gid("Job", uuid.uuid4().int % 10**12)
        state.jobs[job_id] = True  # applied at once; the first answer still says done: false
        state.cancellations.append(
            {
                "order_id": orderId,
                "reason": reason,
                "refund": refunds,
                "refund_method": method,
                "restock": restock,
                "notify_customer": notifyCustomer,
                "staff_note": staffNote,
            }
        )
        return {"job": {"id": job_id, "done": False}, "orderCancelUserErrors": []}


def _refund_method(refund_method: dict[str, Any] | None, refund: bool | None) -> str | None:
    """``original``, ``store_credit`` or ``none`` from the arguments; None when neither was
    given. ``OrderCancelRefundMethodInput`` is a oneOf input: exactly one field, not null."""
    from graphql import GraphQLError

    if refund_method is None:
        return None if refund is None else ("original" if refund else "none")
    given = {k: v for k, v in refund_method.items() if v is not None}
    if len(given) != 1 or len(refund_method) != 1:
        raise GraphQLError(
            'OneOf Input Object "OrderCancelRefundMethodInput" must specify exactly one key.'
        )
    if "storeCreditRefund" in given:
        return "store_credit"
    return "original" if given["originalPaymentMethodsRefund"] else "none"
