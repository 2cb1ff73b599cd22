"""Shopify Admin GraphQL emulator (sandbox): the real ShopifyAPI SDK talks to it over HTTP.

- ``POST /admin/api/<version>/graphql.json`` with ``X-Shopify-Access-Token`` (401 otherwise, with
  Shopify's error body). Requests are parsed, validated and executed by graphql-core against a
  slice of the real 2025-01 schema (see shopify_schema.py), so invalid documents fail like they
  would in a shop. Supported: ``orders(first, after, query, sortKey, reverse)``, ``order(id)``,
  ``job(id)`` and the ``orderCancel`` mutation.
- Every answer carries ``extensions.cost`` with a leaky-bucket ``throttleStatus``; a query costing
  more than the bucket holds gets Shopify's ``THROTTLED`` error (HTTP 200). Tests can drain the
  bucket, force THROTTLED answers, delay answers (to exercise client timeouts) or fail them with an
  HTTP status (5xx, 429, 402, ...).
- ``send_webhook`` delivers a signed Shopify webhook (base64 HMAC-SHA256 of the raw body) to the
  sidecar, with the real header set.

Orders, customers and fulfillments live in memory in a thread-safe ``ShopifyState``;
``seed_demo`` loads the demo shop (see shopify_demo.py). Imports no vendor SDK.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import Flask, jsonify, request

from connector.sandbox.shopify_query import order_matches, parse_search, query_cost

API_VERSION_RE = re.compile(r"^(\d{4}-(01|04|07|10)|unstable)$")
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"


def gid(kind: str, number: int) -> str:
    return f"gid://shopify/{kind}/{number}"


def parse_gid(value: str, kind: str) -> int | None:
    m = re.fullmatch(rf"gid://shopify/{kind}/(\d+)", str(value or ""))
    return int(m.group(1)) if m else None


def iso(dt: datetime | None) -> str | None:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if dt else None


# --- data -----------------------------------------------------------------------------------
@dataclass
class ShopCustomer:
    id: int
    email: str
    first_name: str
    last_name: str
    number_of_orders: int  # lifetime, including orders older than the 60-day read window
    amount_spent: str  # lifetime, decimal string
    currency: str = "USD"
    tags: list[str] = field(default_factory=list)


@dataclass
class ShopTracking:
    company: str
    number: str
    url: str


@dataclass
class ShopFulfillment:
    id: int
    status: str  # FulfillmentStatus: SUCCESS, CANCELLED, ...
    display_status: str | None  # FulfillmentDisplayStatus: IN_TRANSIT, DELIVERED, ...
    created_at: datetime
    tracking: list[ShopTracking] = field(default_factory=list)
    estimated_delivery_at: datetime | None = None
    delivered_at: datetime | None = None


@dataclass
class ShopLineItem:
    id: int
    title: str
    quantity: int
    sku: str | None = None
    unit_price: str = "0.00"


@dataclass
class ShopOrder:
    id: int
    number: int
    email: str | None
    created_at: datetime
    financial_status: str | None  # OrderDisplayFinancialStatus
    fulfillment_status: str  # OrderDisplayFulfillmentStatus
    total: str
    currency: str = "USD"
    customer_id: int | None = None
    line_items: list[ShopLineItem] = field(default_factory=list)
    fulfillments: list[ShopFulfillment] = field(default_factory=list)
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    closed: bool = False

    @property
    def name(self) -> str:
        return f"#{self.number}"


class ShopifyState:
    """One shop's data plus the knobs tests turn (throttling, delays, request log)."""

    def __init__(
        self,
        *,
        shop_domain: str = "deskguard-demo.myshopify.com",
        access_token: str = "shpat_sandbox_token",
        api_secret: str = "shpss_sandbox_secret",
        maximum_available: float = 2000.0,
        restore_rate: float = 100.0,
        clock=time.monotonic,
    ):
        self.lock = threading.RLock()
        self.shop_domain = shop_domain
        self.access_tokens = {access_token}
        self.api_secret = api_secret
        self.customers: dict[int, ShopCustomer] = {}
        self.orders: dict[int, ShopOrder] = {}
        self.jobs: dict[str, bool] = {}
        self.cancellations: list[dict[str, Any]] = []  # what orderCancel was asked (for tests)
        self.requests: list[dict[str, Any]] = []  # operation name, variables, cost, outcome
        self.maximum_available = maximum_available
        self.restore_rate = restore_rate
        self._available = maximum_available
        self._clock = clock
        self._refilled_at = clock()
        self._forced_throttles = 0
        self._delays: list[float] = []
        self._failures: list[tuple[int, float | None]] = []
        self._ids = iter(range(9_000_000, 10**12))

    @property
    def access_token(self) -> str:
        return next(iter(self.access_tokens))

    def next_id(self) -> int:
        with self.lock:
            return next(self._ids)

    # -- seeding ---------------------------------------------------------------------------
    def add_customer(self, customer: ShopCustomer) -> ShopCustomer:
        with self.lock:
            self.customers[customer.id] = customer
        return customer

    def add_order(self, order: ShopOrder) -> ShopOrder:
        with self.lock:
            self.orders[order.id] = order
        return order

    def order_by_name(self, name: str) -> ShopOrder | None:
        with self.lock:
            return next((o for o in self.orders.values() if o.name == name), None)

    def seed_demo(self, now: datetime | None = None) -> ShopifyState:
        from connector.sandbox.shopify_demo import seed

        seed(self, now or datetime.now(UTC))
        return self

    # -- test knobs ------------------------------------------------------------------------
    def throttle_next(self, count: int = 1) -> None:
        """Answer the next ``count`` requests with THROTTLED regardless of the bucket."""
        with self.lock:
            self._forced_throttles += count

    def drain_bucket(self, to: float = 0.0) -> None:
        with self.lock:
            self._refill()
            self._available = max(0.0, min(self.maximum_available, to))

    def delay_next(self, seconds: float, count: int = 1) -> None:
        """Sleep ``seconds`` before answering each of the next ``count`` requests."""
        with self.lock:
            self._delays.extend([seconds] * count)

    def fail_next(self, status: int, count: int = 1, retry_after: float | None = None) -> None:
        """Answer the next ``count`` requests with HTTP ``status`` (e.g. 502, 503, 429, 402)."""
        with self.lock:
            self._failures.extend([(status, retry_after)] * count)

    def take_failure(self) -> tuple[int, float | None] | None:
        with self.lock:
            return self._failures.pop(0) if self._failures else None

    def take_delay(self) -> float:
        with self.lock:
            return self._delays.pop(0) if self._delays else 0.0

    # -- leaky bucket ----------------------------------------------------------------------
    def _refill(self) -> None:
        now = self._clock()
        self._available = min(
            self.maximum_available, self._available + (now - self._refilled_at) * self.restore_rate
        )
        self._refilled_at = now

    def spend(self, cost: int) -> tuple[bool, dict[str, float]]:
        """Take ``cost`` points if the bucket holds them. Returns (allowed, throttleStatus)."""
        with self.lock:
            self._refill()
            allowed = cost <= self._available and self._forced_throttles == 0
            if self._forced_throttles:
                self._forced_throttles -= 1
            if allowed:
                self._available -= cost
            return allowed, {
                "maximumAvailable": self.maximum_available,
                "currentlyAvailable": int(self._available),
                "restoreRate": self.restore_rate,
            }


# --- resolvers: plain dicts keyed by GraphQL field name; callables receive (info, **args) --------
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


class _Root:
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
        self, info, orderId, refund, restock, reason, notifyCustomer=False, staffNote=None
    ):
        state = self.state
        number = parse_gid(orderId, "Order")
        o = state.orders.get(number) if number is not None else None

        def error(code: str, message: str):
            return {
                "job": None,
                "orderCancelUserErrors": [{"code": code, "field": ["orderId"], "message": message}],
            }

        if o is None:
            return error("NOT_FOUND", "Order does not exist.")
        if o.cancelled_at is not None:
            return error("INVALID", "Order has already been cancelled.")
        if o.fulfillment_status in ("FULFILLED", "PARTIALLY_FULFILLED"):
            return error("INVALID", "Cannot cancel an order that has fulfilled items.")
        o.cancelled_at = datetime.now(UTC)
        o.cancel_reason = reason
        o.closed = True
        if refund and o.financial_status in ("PAID", "PARTIALLY_PAID", "PARTIALLY_REFUNDED"):
            o.financial_status = "REFUNDED"
        elif o.financial_status in ("AUTHORIZED", "PENDING"):
            o.financial_status = "VOIDED"
        job_id = gid("Job", uuid.uuid4().int % 10**12)
        state.jobs[job_id] = True  # applied at once; the first answer still says done: false
        state.cancellations.append(
            {
                "order_id": orderId,
                "reason": reason,
                "refund": refund,
                "restock": restock,
                "notify_customer": notifyCustomer,
                "staff_note": staffNote,
            }
        )
        return {"job": {"id": job_id, "done": False}, "orderCancelUserErrors": []}


# --- the WSGI app ---------------------------------------------------------------------------
def create_app(state: ShopifyState | None = None) -> Flask:
    from graphql import GraphQLError, execute, parse, validate

    from connector.sandbox.shopify_schema import load_schema

    state = state or ShopifyState().seed_demo()
    schema = load_schema()
    app = Flask("shopify-sandbox")
    app.extensions["shopify_state"] = state

    @app.post("/admin/api/<version>/graphql.json")
    def graphql_endpoint(version: str):
        state = app.extensions[
            "shopify_state"
        ]  # looked up per request: tests may swap in a fresh shop
        if request.headers.get("X-Shopify-Access-Token") not in state.access_tokens:
            return jsonify({"errors": INVALID_TOKEN}), 401
        if not API_VERSION_RE.match(version):
            return jsonify({"errors": "Not Found"}), 404
        delay = state.take_delay()
        if delay:
            time.sleep(delay)
        failure = state.take_failure()
        if failure:
            status, retry_after = failure
            extra = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
            texts = {
                402: "Unavailable Shop",
                423: "Locked",
                429: "Exceeded 2 calls per second for api client.",
            }
            return (
                jsonify(
                    {
                        "errors": texts.get(
                            status, "Internal Server Error" if status >= 500 else "Error"
                        )
                    }
                ),
                status,
                extra,
            )
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return jsonify({"errors": {"query": "Required parameter missing or invalid"}}), 400
        variables = body.get("variables") or {}
        op_name = body.get("operationName")
        headers = {"X-Shopify-API-Version": version}
        try:
            document = parse(body["query"])
        except GraphQLError as exc:
            return jsonify({"errors": [exc.formatted]}), 200, headers
        errors = validate(schema, document)
        if errors:
            return jsonify({"errors": [e.formatted for e in errors]}), 200, headers
        cost = query_cost(schema, document, op_name, variables)
        allowed, throttle = state.spend(cost)
        extensions = {
            "cost": {
                "requestedQueryCost": cost,
                "actualQueryCost": cost if allowed else None,
                "throttleStatus": throttle,
            }
        }
        with state.lock:
            state.requests.append(
                {
                    "operation": op_name,
                    "variables": variables,
                    "cost": cost,
                    "throttled": not allowed,
                }
            )
        if not allowed:
            return (
                jsonify(
                    {
                        "errors": [
                            {
                                "message": "Throttled",
                                "extensions": {
                                    "code": "THROTTLED",
                                    "documentation": "https://shopify.dev/api/usage/rate-limits",
                                },
                            }
                        ],
                        "extensions": extensions,
                    }
                ),
                200,
                headers,
            )
        with state.lock:  # resolvers read and mutate shared state
            result = execute(
                schema,
                document,
                root_value=_Root(state),
                variable_values=variables,
                operation_name=op_name,
            )
        out: dict[str, Any] = {"data": result.data}
        if result.errors:
            out["errors"] = [e.formatted for e in result.errors]
        out["extensions"] = extensions
        return jsonify(out), 200, headers

    return app


# --- webhooks -------------------------------------------------------------------------------
def sign_webhook(body: bytes, secret: str) -> str:
    """``X-Shopify-Hmac-Sha256``: base64 of the HMAC-SHA256 of the raw body, keyed with the app secret."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def webhook_headers(
    topic: str,
    body: bytes,
    *,
    secret: str,
    shop_domain: str,
    webhook_id: str | None = None,
    event_id: str | None = None,
    api_version: str = "2025-01",
    triggered_at: datetime | None = None,
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign_webhook(body, secret),
        "X-Shopify-Shop-Domain": shop_domain,
        "X-Shopify-API-Version": api_version,
        "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Shopify-Event-Id": event_id or str(uuid.uuid4()),
        "X-Shopify-Triggered-At": iso(triggered_at or datetime.now(UTC)) or "",
    }


def send_webhook(
    url: str,
    topic: str,
    payload: dict[str, Any],
    *,
    secret: str,
    shop_domain: str,
    webhook_id: str | None = None,
    event_id: str | None = None,
    timeout: float = 5.0,
    api_version: str = "2025-01",
):
    """POST a signed webhook to ``url`` (e.g. the sidecar's /webhooks/shopify/<tenant>)."""
    import requests

    body = json.dumps(payload).encode()
    headers = webhook_headers(
        topic,
        body,
        secret=secret,
        shop_domain=shop_domain,
        webhook_id=webhook_id,
        event_id=event_id,
        api_version=api_version,
    )
    return requests.post(url, data=body, headers=headers, timeout=timeout)


def send_state_webhook(
    state: ShopifyState, url: str, topic: str, payload: dict[str, Any], **kwargs
):
    """``send_webhook`` signed with this shop's app secret and domain."""
    return send_webhook(
        url, topic, payload, secret=state.api_secret, shop_domain=state.shop_domain, **kwargs
    )


def sidecar_settings(state: ShopifyState, url: str) -> dict[str, Any]:
    """The Deskguard settings that point the real adapter at this emulator (for the demo and tests)."""
    return {
        "shopify_shop": state.shop_domain,
        "shopify_access_token": state.access_token,
        "shopify_api_secret": state.api_secret,
        "shopify_admin_url": url,
    }


def main(argv: list[str] | None = None) -> None:
    """``python -m connector.sandbox.shopify --port 8765``: serve the demo shop until Ctrl-C."""
    import argparse

    from connector.sandbox import serve_in_thread

    parser = argparse.ArgumentParser(description="Shopify Admin GraphQL sandbox with the demo shop")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args(argv)
    state = ShopifyState().seed_demo()
    server = serve_in_thread(create_app(state), port=args.port)
    from connector.settings import setting

    for name, value in sidecar_settings(state, server.url).items():
        print(f"{setting(name).env}={value}")
    try:
        server.thread.join()
    except KeyboardInterrupt:
        server.stop()


__all__ = [
    "ShopCustomer",
    "ShopFulfillment",
    "ShopLineItem",
    "ShopOrder",
    "ShopTracking",
    "ShopifyState",
    "create_app",
    "gid",
    "main",
    "parse_gid",
    "send_state_webhook",
    "send_webhook",
    "sidecar_settings",
    "sign_webhook",
    "webhook_headers",
]


if __name__ == "__main__":
    main()
