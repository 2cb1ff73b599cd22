"""The Shopify sandbox's data: customers, orders, line items and fulfillments as plain
dataclasses, and Shopify's global ids and timestamps."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime


def gid(kind: str, number: int) -> str:
    return f"gid://shopify/{kind}/{number}"


def parse_gid(value: str, kind: str) -> int | None:
    m = re.fullmatch(rf"gid://shopify/{kind}/(\d+)", str(value or ""))
    return int(m.group(1)) if m else None


def iso(dt: datetime | None) -> str | None:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if dt else None


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
