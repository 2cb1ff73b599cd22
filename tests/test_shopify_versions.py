"""Shopify API versions over the wire: the version Shopify answered with and its deprecation
header are logged, orderCancel goes through refundMethod, and statuses the code has never seen
are shown, not crashed on. The real ShopifyAPI SDK against the sandbox shop over HTTP."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

import pytest
import requests
import shopify_support
from shopify_support import SHOP, TOKEN

from adapters.shopify import API_VERSION, ShopifyAdmin, order_from_node
from connector.commerce import wismo
from connector.devkit.sandbox.shopify import ShopFulfillment, ShopOrder, ShopTracking
from connector.pipeline.brief import order_line

shop_server = shopify_support.shop_server
shop = shopify_support.shop


class Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def logged():
    """Records of the ``deskguard`` loggers, from a handler on that logger itself
    (logs.configure() may have stopped propagation to the root logger)."""
    root, handler = logging.getLogger("deskguard"), Records()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


def events(logged, name: str) -> list[dict]:
    return [getattr(r, "fields", {}) for r in logged.records if r.getMessage() == name]


def adapter_for(shop, **kwargs) -> ShopifyAdmin:
    return ShopifyAdmin(lambda: (SHOP, TOKEN), admin_url=shop.url, **kwargs)


def raw(shop, query: str, variables: dict | None = None, version: str = API_VERSION):
    return requests.post(
        f"{shop.url}/admin/api/{version}/graphql.json",
        json={"query": query, "variables": variables},
        headers={"X-Shopify-Access-Token": TOKEN},
        timeout=5,
    )


# --- the answered version -----------------------------------------------------------------------
def test_the_default_version_is_requested_and_answered_without_a_warning(shop, logged):
    adapter = adapter_for(shop)
    adapter.find_orders(order_name="#1001")
    assert shop.state.versions_requested == ["2026-10"]
    assert adapter.answered_version == "2026-10"
    assert events(logged, "shopify.query")[-1]["api_version"] == "2026-10"
    assert events(logged, "shopify.api_version_mismatch") == []
    assert events(logged, "shopify.deprecated") == []


def test_an_out_of_support_version_falls_forward_and_is_warned_about_once(shop, logged):
    shop.state.today = lambda: date(2026, 12, 7)
    adapter = adapter_for(shop, api_version="2025-01")
    adapter.find_orders(order_name="#1001")
    adapter.find_orders(order_name="#1002")
    assert shop.state.versions_requested == ["2025-01", "2025-01"]
    assert adapter.answered_version == "2026-01"  # the oldest supported version in Dec 2026
    [warning] = events(logged, "shopify.api_version_mismatch")
    assert warning["requested"] == "2025-01" and warning["answered"] == "2026-01"
    assert "DESKGUARD_SHOPIFY_API_VERSION" in warning["hint"]


def test_whatever_version_shopify_names_is_recorded(shop, logged):
    shop.state.answer_version = "2026-07"
    adapter = adapter_for(shop)
    adapter.get_order("gid://shopify/Order/1")
    assert adapter.answered_version == "2026-07"
    [warning] = events(logged, "shopify.api_version_mismatch")
    assert warning["answered"] == "2026-07"


# --- the deprecation header --------------------------------------------------------------------
def test_the_deprecation_header_is_logged_once_per_reason(shop, logged):
    shop.state.deprecation_reason = "Order.someField, Customer.email"
    adapter = adapter_for(shop)
    adapter.find_orders(order_name="#1001")
    adapter.find_orders(order_name="#1001")
    [warning] = events(logged, "shopify.deprecated")
    assert warning["reason"] == "Order.someField, Customer.email"
    assert list(adapter.deprecations) == ["Order.someField, Customer.email"]
    shop.state.deprecation_reason = "Shop.products"
    adapter.find_orders(order_name="#1001")
    assert [w["reason"] for w in events(logged, "shopify.deprecated")][-1] == "Shop.products"


def test_the_emulator_names_deprecated_parts_a_request_uses(shop):
    old = raw(
        shop,
        "mutation($id: ID!) { orderCancel(orderId: $id, reason: CUSTOMER, refund: false,"
        " restock: false) { job { id } orderCancelUserErrors { message } } }",
        {"id": "gid://shopify/Order/5500001002"},
    )
    assert old.headers["X-Shopify-API-Deprecated-Reason"] == "Mutation.orderCancel.refund"
    assert old.headers["X-Shopify-API-Version"] == API_VERSION
    current = raw(shop, "{ orders(first: 1) { nodes { name } } }")
    assert "X-Shopify-API-Deprecated-Reason" not in current.headers


# --- orderCancel through refundMethod ----------------------------------------------------------
def test_cancel_sends_refund_method_and_nothing_deprecated(shop, logged):
    adapter = adapter_for(shop)
    [order] = adapter.find_orders(order_name="#1002")
    adapter.cancel_order(
        order.id, reason="OTHER", notify_customer=False, restock=False, staff_note="", refund=True
    )
    assert shop.state.requests[-1]["variables"]["refundMethod"] == {
        "originalPaymentMethodsRefund": True
    }
    assert shop.state.cancellations[-1]["refund_method"] == "original"
    assert events(logged, "shopify.deprecated") == []


def test_the_emulator_requires_a_refund_method_and_one_of_its_fields(shop):
    mutation = (
        "mutation($id: ID!, $m: OrderCancelRefundMethodInput) { orderCancel(orderId: $id,"
        " reason: CUSTOMER, refundMethod: $m, restock: false) { job { id }"
        " orderCancelUserErrors { code field message } } }"
    )
    order_id = "gid://shopify/Order/5500001002"
    missing = raw(shop, mutation, {"id": order_id, "m": None}).json()
    [error] = missing["data"]["orderCancel"]["orderCancelUserErrors"]
    assert error["field"] == ["refundMethod"] and error["code"] == "INVALID"
    both = {"originalPaymentMethodsRefund": True, "storeCreditRefund": {}}
    two = raw(shop, mutation, {"id": order_id, "m": both}).json()
    assert "exactly one key" in two["errors"][0]["message"]
    assert shop.state.cancellations == []


# --- statuses the code does not know --------------------------------------------------------------
def test_fulfillment_not_required_comes_through_and_is_worded(shop):
    now = datetime.now(UTC)
    shop.state.add_order(
        ShopOrder(
            id=7700001,
            number=7701,
            email="digital@example.com",
            created_at=now,
            financial_status="PAID",
            fulfillment_status="FULFILLMENT_NOT_REQUIRED",
            total="9.00",
        )
    )
    [order] = adapter_for(shop).find_orders(order_name="#7701")
    assert order.fulfillment_status == "FULFILLMENT_NOT_REQUIRED"
    ready, why = wismo.wismo_ready([order])
    assert not ready and "nothing to ship" in why
    answer = wismo.customer_answer(order, now=now)
    assert "Nothing in this order needs shipping" in answer and "not shipped yet" not in answer
    assert "FULFILLMENT_NOT_REQUIRED" in wismo.agent_summary(order)


def test_a_status_never_seen_before_is_shown_not_crashed_on():
    # values no Shopify version has (yet): the adapter keeps them as strings
    node = {
        "id": "gid://shopify/Order/1",
        "name": "#1",
        "email": "a@example.com",
        "createdAt": "2026-12-01T10:00:00Z",
        "displayFinancialStatus": "PAID_IN_INSTALMENTS_2030",
        "displayFulfillmentStatus": "TELEPORTED",
        "totalPriceSet": {"shopMoney": {"amount": "5.00", "currencyCode": "EUR"}},
        "lineItems": {"nodes": [{"title": "Widget", "quantity": 1, "sku": None}]},
        "fulfillments": [
            {
                "status": "QUANTUM_SUCCESS",
                "displayStatus": "BEAMED_UP",
                "trackingInfo": [{"company": "Acme", "number": "X1", "url": "https://t.example"}],
            }
        ],
        "customer": None,
    }
    order = order_from_node(node)
    assert order.financial_status == "PAID_IN_INSTALMENTS_2030"
    assert order.fulfillment_status == "TELEPORTED"
    assert order.fulfillments[0].status == "BEAMED_UP"
    now = datetime(2026, 12, 7, tzinfo=UTC)
    assert wismo.wismo_ready([order]) == (True, "one order (#1) with tracking information")
    answer = wismo.customer_answer(order, now=now)
    assert "has shipped" in answer and "delivered" not in answer  # no promise beyond the data
    assert "TELEPORTED" in wismo.agent_summary(order) and "BEAMED_UP" in wismo.agent_summary(order)
    assert "teleported" in order_line(order)


def test_an_unknown_shipment_status_from_the_emulator(shop):
    # the emulator only serves values of its schema; a current one the wording has no phrase for
    now = datetime.now(UTC)
    shop.state.add_order(
        ShopOrder(
            id=7700002,
            number=7702,
            email="c@example.com",
            created_at=now,
            financial_status="PAID",
            fulfillment_status="FULFILLED",
            total="9.00",
            fulfillments=[
                ShopFulfillment(
                    id=1,
                    status="SUCCESS",
                    display_status="CARRIER_PICKED_UP",
                    created_at=now,
                    tracking=[ShopTracking("UPS", "1Z", "https://ups.example/1Z")],
                )
            ],
        )
    )
    [order] = adapter_for(shop).find_orders(order_name="#7702")
    assert order.fulfillments[0].status == "CARRIER_PICKED_UP"
    assert "has shipped" in wismo.customer_answer(order, now=now)
