"""The demo shop: realistic customers, orders and fulfillments for the sandbox Shopify.

The integrator's demo tickets (and the Stripe sandbox's charges) use these customers and order
numbers, so they are listed here once. Dates are relative to ``now`` so every order stays inside
Shopify's default 60-day read window (older orders need the ``read_all_orders`` scope), while
``number_of_orders`` / ``amount_spent`` are lifetime figures, as Shopify reports them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from connector.devkit.sandbox.shopify.model import (
    ShopCustomer,
    ShopFulfillment,
    ShopLineItem,
    ShopOrder,
    ShopTracking,
)

DAY = timedelta(days=1)

# email → (order names) the demo relies on
DEMO_CUSTOMERS: dict[str, tuple[str, ...]] = {
    "jane.doe@example.com": ("#1001",),
    "marco.rossi@example.com": ("#1002",),
    "li.wei@example.com": ("#1003",),
    "sam.vip@example.com": ("#1004", "#1009"),
    "pat.chargeback@example.com": ("#1005",),
    "ana.garcia@example.com": ("#1006", "#1008"),
    "tom.becker@example.com": ("#1007", "#1010", "#1011"),
}


def _ups(number: str) -> ShopTracking:
    return ShopTracking("UPS", number, f"https://www.ups.com/track?tracknum={number}")


def _usps(number: str) -> ShopTracking:
    return ShopTracking(
        "USPS", number, f"https://tools.usps.com/go/TrackConfirmAction?tLabels={number}"
    )


def _fedex(number: str) -> ShopTracking:
    return ShopTracking("FedEx", number, f"https://www.fedex.com/fedextrack/?trknbr={number}")


def _dhl(number: str) -> ShopTracking:
    return ShopTracking(
        "DHL Express",
        number,
        f"https://www.dhl.com/us-en/home/tracking/tracking-express.html?tracking-id={number}",
    )


def _customers() -> list[ShopCustomer]:
    return [
        ShopCustomer(7001, "jane.doe@example.com", "Jane", "Doe", 2, "164.35"),
        ShopCustomer(7002, "marco.rossi@example.com", "Marco", "Rossi", 1, "129.00"),
        ShopCustomer(7003, "li.wei@example.com", "Li", "Wei", 4, "231.60"),
        ShopCustomer(
            7004,
            "sam.vip@example.com",
            "Sam",
            "Okafor",
            23,
            "4318.75",
            tags=["VIP", "wholesale-interest"],
        ),
        ShopCustomer(7005, "pat.chargeback@example.com", "Pat", "Morgan", 1, "249.00"),
        ShopCustomer(7006, "ana.garcia@example.com", "Ana", "García", 2, "97.80"),
        ShopCustomer(7007, "tom.becker@example.com", "Tom", "Becker", 3, "310.45"),
    ]


@dataclass(frozen=True)
class _Shipment:
    """One fulfillment of a demo order, in days relative to ``now``."""

    days_ago: int
    tracking: ShopTracking
    display: str = "IN_TRANSIT"
    eta_days: int | None = None
    delivered_days_ago: int | None = None


@dataclass(frozen=True)
class _DemoOrder:
    number: int
    email: str
    days_ago: int
    financial: str
    fulfillment: str
    total: str
    items: tuple[tuple[str, int, str, str], ...]  # (title, quantity, sku, unit price)
    shipment: _Shipment | None = None


DEMO_ORDERS: tuple[_DemoOrder, ...] = (
    # Jane: shipped with UPS, on its way, two items.
    _DemoOrder(
        1001,
        "jane.doe@example.com",
        4,
        "PAID",
        "FULFILLED",
        "84.50",
        (
            ("Merino Wool Beanie – Charcoal", 1, "BEANIE-MER-CH", "39.00"),
            ("Organic Cotton Socks (3-pack)", 1, "SOCK-ORG-3P", "38.00"),
        ),
        _Shipment(2, _ups("1Z999AA10123456784"), eta_days=2),
    ),
    # Marco: paid, not shipped yet (cancellable).
    _DemoOrder(
        1002,
        "marco.rossi@example.com",
        1,
        "PAID",
        "UNFULFILLED",
        "129.00",
        (("Waxed Canvas Weekender Bag – Olive", 1, "BAG-WKD-OL", "129.00"),),
    ),
    # Li: delivered three days ago.
    _DemoOrder(
        1003,
        "li.wei@example.com",
        9,
        "PAID",
        "FULFILLED",
        "58.90",
        (("Ceramic Pour-Over Coffee Set", 1, "COF-POUR-SET", "52.00"),),
        _Shipment(7, _usps("9400111899223197428490"), "DELIVERED", delivered_days_ago=3),
    ),
    # Sam: VIP, 23 lifetime orders; the latest ships with FedEx.
    _DemoOrder(
        1004,
        "sam.vip@example.com",
        3,
        "PAID",
        "FULFILLED",
        "412.00",
        (
            ("Cashmere Crew Sweater – Navy", 2, "SWT-CSH-NV-M", "179.00"),
            ("Leather Card Holder – Tan", 1, "ACC-CARD-TN", "48.00"),
        ),
        _Shipment(1, _fedex("771234567890"), eta_days=3),
    ),
    _DemoOrder(
        1009,
        "sam.vip@example.com",
        20,
        "PAID",
        "FULFILLED",
        "96.00",
        (("Silk Pocket Square – Burgundy", 2, "ACC-SQ-BG", "48.00"),),
        _Shipment(18, _fedex("771234560011"), "DELIVERED", delivered_days_ago=15),
    ),
    # Pat: delivered per the carrier; the payment is disputed in Stripe.
    _DemoOrder(
        1005,
        "pat.chargeback@example.com",
        25,
        "PAID",
        "FULFILLED",
        "249.00",
        (("Noise-Cancelling Headphones – Black", 1, "AUD-NC-BLK", "249.00"),),
        _Shipment(23, _ups("1Z999AA10123450005"), "DELIVERED", delivered_days_ago=19),
    ),
    # Ana: one delivered, one waiting to ship.
    _DemoOrder(
        1006,
        "ana.garcia@example.com",
        30,
        "PAID",
        "FULFILLED",
        "42.80",
        (("Linen Tea Towels (2-pack)", 1, "HOME-LIN-2P", "34.00"),),
        _Shipment(28, _dhl("1234567890"), "DELIVERED", delivered_days_ago=24),
    ),
    _DemoOrder(
        1008,
        "ana.garcia@example.com",
        2,
        "PAID",
        "UNFULFILLED",
        "55.00",
        (("Beeswax Candle – Large", 1, "HOME-CND-L", "55.00"),),
    ),
    # Tom: three orders, one partly refunded, one in transit without an ETA.
    _DemoOrder(
        1007,
        "tom.becker@example.com",
        45,
        "PARTIALLY_REFUNDED",
        "FULFILLED",
        "148.00",
        (
            ("Trail Running Shoes – Size 44", 1, "SHO-TRL-44", "120.00"),
            ("Performance Insoles", 1, "SHO-INS", "28.00"),
        ),
        _Shipment(43, _ups("1Z999AA10123450007"), "DELIVERED", delivered_days_ago=40),
    ),
    _DemoOrder(
        1010,
        "tom.becker@example.com",
        12,
        "PAID",
        "FULFILLED",
        "89.95",
        (
            ("Insulated Water Bottle 1L", 1, "BTL-INS-1L", "34.95"),
            ("Running Cap – Grey", 1, "CAP-RUN-GR", "55.00"),
        ),
        _Shipment(10, _usps("9400111899223197420011"), "IN_TRANSIT"),
    ),
    _DemoOrder(
        1011,
        "tom.becker@example.com",
        0,
        "AUTHORIZED",
        "UNFULFILLED",
        "72.50",
        (("Merino Running Tee – M", 1, "TEE-MER-M", "72.50"),),
    ),
)


def _fulfillment(number: int, shipment: _Shipment, now: datetime) -> ShopFulfillment:
    eta = None
    if shipment.eta_days is not None:
        eta = (now + shipment.eta_days * DAY).replace(hour=18, minute=0, second=0, microsecond=0)
    delivered = None
    if shipment.delivered_days_ago is not None:
        delivered = now - shipment.delivered_days_ago * DAY
    return ShopFulfillment(
        id=4_400_000_000 + number,
        status="SUCCESS",
        display_status=shipment.display,
        created_at=now - shipment.days_ago * DAY,
        tracking=[replace(shipment.tracking)],
        estimated_delivery_at=eta,
        delivered_at=delivered,
    )


def _order(spec: _DemoOrder, customer: ShopCustomer, now: datetime) -> ShopOrder:
    oid = 5_500_000_000 + spec.number
    return ShopOrder(
        id=oid,
        number=spec.number,
        email=customer.email,
        created_at=now - spec.days_ago * DAY,
        financial_status=spec.financial,
        fulfillment_status=spec.fulfillment,
        total=spec.total,
        customer_id=customer.id,
        line_items=[
            ShopLineItem(oid * 10 + i, title, qty, sku, price)
            for i, (title, qty, sku, price) in enumerate(spec.items, start=1)
        ],
        fulfillments=[_fulfillment(spec.number, spec.shipment, now)] if spec.shipment else [],
    )


def demo_shop(now: datetime) -> tuple[list[ShopCustomer], list[ShopOrder]]:
    """Fresh customers and orders of the demo shop, dated relative to ``now``."""
    customers = _customers()
    by_email: dict[str, ShopCustomer] = {c.email: c for c in customers}
    orders = [_order(spec, by_email[spec.email], now) for spec in DEMO_ORDERS]
    return customers, orders
