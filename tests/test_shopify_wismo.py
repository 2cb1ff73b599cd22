"""The privacy rule and the WISMO (order status) answer, on our dataclasses and on sandbox
orders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import shopify_support
from shopify_support import shop_settings

from connector.commerce.privacy import visible_orders
from connector.commerce.wismo import agent_summary, customer_answer, wismo_ready
from connector.domain import CustomerSummary, Fulfillment, LineItem, Money, Order

shop_server = (
    shopify_support.shop_server
)  # fixtures: one sandbox server per process, a fresh shop per test
shop = shopify_support.shop

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def config(config, shop):  # the conftest config plus the sandbox shop
    return {**config, **shop_settings(shop)}


def make_order(
    name="#1001", email="jane.doe@example.com", fulfillments=(), status="FULFILLED", **kw
) -> Order:
    return Order(
        id=f"gid://shopify/Order/{name[1:]}",
        name=name,
        email=email,
        created_at=NOW - timedelta(days=3),
        financial_status="PAID",
        fulfillment_status=status,
        total=Money("84.50", "USD"),
        line_items=(LineItem("Merino Wool Beanie", 1, "B-1"), LineItem("Cotton Socks", 2, "S-2")),
        fulfillments=tuple(fulfillments),
        customer=CustomerSummary(email, 23, Money("4318.75", "USD"), ("VIP",)),
        **kw,
    )


def ups(status="IN_TRANSIT", eta_days=2, delivered=None) -> Fulfillment:
    return Fulfillment(
        status=status,
        tracking_company="UPS",
        tracking_number="1Z999AA10123456784",
        tracking_url="https://www.ups.com/track?tracknum=1Z999AA10123456784",
        estimated_delivery_at=NOW + timedelta(days=eta_days) if eta_days is not None else None,
        delivered_at=delivered,
    )


# --- privacy rule ---------------------------------------------------------------------------------
def test_visible_orders_match_the_requester_case_insensitively():
    mine, theirs = make_order("#1001"), make_order("#1002", email="someone@example.com")
    assert visible_orders([mine, theirs], " Jane.Doe@EXAMPLE.com ") == ([mine], 1)


def test_agent_confirmed_emails_are_visible_and_no_requester_sees_nothing():
    mine, theirs = make_order("#1001"), make_order("#1002", email="someone@example.com")
    assert visible_orders([mine, theirs], "jane.doe@example.com", ["SOMEONE@example.com"]) == (
        [mine, theirs],
        0,
    )
    assert visible_orders([mine, theirs], None) == ([], 2)
    assert visible_orders([make_order(email="")], "") == ([], 1)


def test_an_order_named_in_someone_elses_ticket_reveals_nothing(runtime):
    # Li writes "where is order 1001?" — that is Jane's order: the lookup finds it, the rule
    # withholds it.
    found = runtime.services("acme").require_orders().find_orders(order_name="order 1001")
    visible, withheld = visible_orders(found, "li.wei@example.com")
    assert [o.name for o in found] == ["#1001"] and visible == [] and withheld == 1
    assert wismo_ready(visible) == (False, "no order found for the requester")


# --- readiness ------------------------------------------------------------------------------------
def test_wismo_ready_needs_exactly_one_tracked_order():
    assert wismo_ready([make_order(fulfillments=[ups()])]) == (
        True,
        "one order (#1001) with tracking information",
    )
    assert wismo_ready([])[0] is False
    ready, why = wismo_ready(
        [make_order(fulfillments=[ups()]), make_order("#1006", fulfillments=[ups()])]
    )
    assert not ready and "2 orders" in why
    ready, why = wismo_ready([make_order(status="UNFULFILLED")])
    assert not ready and "no tracking" in why
    ready, why = wismo_ready([make_order(fulfillments=[ups()], cancelled_at=NOW)])
    assert not ready and "cancelled" in why
    ready, why = wismo_ready([make_order(fulfillments=[ups(status="FAILURE")])])
    assert not ready and "problem" in why


# --- the customer's answer ----------------------------------------------------------------------
def test_in_transit_answer_has_status_carrier_link_and_expected_delivery():
    text = customer_answer(make_order(fulfillments=[ups()]), customer_name="Jane Doe", now=NOW)
    assert text.startswith("Hi Jane,\n")
    assert "order #1001" in text and "on its way" in text
    assert "Carrier: UPS" in text and "Tracking number: 1Z999AA10123456784" in text
    assert "Track your parcel: https://www.ups.com/track?tracknum=1Z999AA10123456784" in text
    assert "Expected delivery: Wednesday 12 March" in text
    assert "2 × Cotton Socks" in text
    # nothing internal reaches the customer
    for internal in ("VIP", "4318.75", "PAID", "IN_TRANSIT", "gid://"):
        assert internal not in text


def test_delivered_answer_and_no_stale_eta():
    delivered = customer_answer(
        make_order(fulfillments=[ups("DELIVERED", delivered=NOW - timedelta(days=1))]), now=NOW
    )
    assert delivered.startswith("Hi there,") and "delivered on Sunday 9 March" in delivered
    assert "Expected delivery" not in delivered
    late = customer_answer(make_order(fulfillments=[ups(eta_days=-2)]), now=NOW)
    assert "Expected delivery" not in late


def test_several_parcels_unshipped_and_cancelled_answers():
    two = customer_answer(make_order(fulfillments=[ups(), ups("OUT_FOR_DELIVERY")]), now=NOW)
    assert (
        "ships in 2 parcels" in two and "Parcel 2: Good news: it is out for delivery today." in two
    )
    unshipped = customer_answer(make_order(status="UNFULFILLED"), now=NOW)
    assert "has not shipped yet" in unshipped and "Tracking number" not in unshipped
    cancelled = customer_answer(make_order(status="UNFULFILLED", cancelled_at=NOW), now=NOW)
    assert "was cancelled on Monday 10 March" in cancelled
    delayed = customer_answer(make_order(fulfillments=[ups("DELAYED")]), now=NOW)
    assert "carrier reports a delay" in delayed and "Good news" not in delayed


def test_agent_summary_is_one_line_with_what_an_agent_needs():
    line = agent_summary(make_order(fulfillments=[ups()]))
    assert "\n" not in line
    for part in (
        "#1001",
        "PAID / FULFILLED",
        "84.50 USD",
        "3 items",
        "UPS 1Z999AA10123456784 IN_TRANSIT",
        "ETA 2025-03-12",
        "23 orders",
        "4318.75 USD lifetime",
        "tags VIP",
    ):
        assert part in line


def test_answers_for_the_demo_orders(runtime):
    adapter = runtime.services("acme").require_orders()
    [jane] = adapter.find_orders(email="jane.doe@example.com")
    assert wismo_ready([jane])[0]
    text = customer_answer(jane, customer_name="Jane Doe")
    assert "UPS" in text and "https://www.ups.com/track?tracknum=1Z999AA10123456784" in text
    assert "Expected delivery:" in text
    [marco] = adapter.find_orders(email="marco.rossi@example.com")
    assert not wismo_ready([marco])[0] and "has not shipped yet" in customer_answer(marco)
    [li] = adapter.find_orders(email="li.wei@example.com")
    assert wismo_ready([li])[0] and "delivered on" in customer_answer(li)
