"""Deskguard's own data types.

Everything that crosses a module boundary is one of these dataclasses. Adapters translate
vendor objects (zenpy, ShopifyAPI, stripe, anthropic) into them; nothing outside ``adapters/``
imports a vendor SDK. The ``Protocol`` classes at the end are the seams the pipeline depends
on, so unit tests can pass small in-memory fakes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

# --- Taxonomy ----------------------------------------------------------------------------
# The default 14 categories. Ids are fixed (stored in decisions and models); tenants may add or
# rename labels later.
CATEGORIES: tuple[str, ...] = (
    "order_status",
    "shipping_problem",
    "shipping_info",
    "change_address",
    "cancel_order",
    "order_change",
    "return_exchange",
    "refund",
    "payment_billing",
    "promo_pricing",
    "product_question",
    "account",
    "complaint_feedback",
    "other",
)

CATEGORY_DESCRIPTIONS: dict[str, str] = {
    "order_status": "where is my order, tracking, when will it arrive",
    "shipping_problem": "late, lost, damaged in transit, missing item, delivered-but-not-received",
    "shipping_info": (
        "shipping options, costs, countries/postcodes served, delivery times in general"
    ),
    "change_address": "change or set the shipping address",
    "cancel_order": "cancel an order",
    "order_change": "change items, quantity, size or shipping speed of an existing order",
    "return_exchange": "return, exchange or replace an item",
    "refund": "ask for a refund, refund status, refund policy",
    "payment_billing": (
        "payment failed, methods, double or unknown charge, invoice, subscription billing"
    ),
    "promo_pricing": "discount codes, offers, price match, price drops",
    "product_question": "product details, sizing, stock, ingredients, warranty, recommendations",
    "account": "login, password, registration, profile, delete account, newsletter",
    "complaint_feedback": "complaints about service or experience, reviews, praise",
    "other": "anything else: greetings, off-topic, ask for a human, spam, unclear",
}

SENTIMENTS = ("negative", "neutral", "positive")
URGENCIES = ("low", "normal", "high", "urgent")
RISK_FLAGS = ("legal_threat", "chargeback_fraud", "safety", "abuse")
MODES = ("off", "shadow", "assist", "auto")


def to_dict(obj: Any) -> Any:
    """JSON-ready dict of a dataclass (datetimes as ISO-8601 strings)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): to_dict(v) for k, v in obj.items()}
    if isinstance(obj, datetime):
        return obj.isoformat()
    return obj


# --- Zendesk -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Person:
    id: int | None
    name: str = ""
    email: str = ""


@dataclass(frozen=True)
class DeskUser:
    """A Zendesk user as the Zendesk API reports it (``GET /api/v2/users/{id}.json``), for
    permission checks: the role comes from Zendesk, never from what a browser claims.
    ``role`` is ``end-user``, ``agent`` or ``admin``; custom agent roles (Enterprise) are
    ``custom_role_id`` plus, when Zendesk lets the API user read it, ``custom_role_name``."""

    id: int
    role: str
    name: str = ""
    active: bool = True
    suspended: bool = False
    custom_role_id: int | None = None
    custom_role_name: str = ""
    role_type: int | None = None

    @property
    def is_staff(self) -> bool:
        """An active, unsuspended agent or admin (end-users and light/chat roles still say
        agent)."""
        return self.active and not self.suspended and self.role in ("agent", "admin")


@dataclass(frozen=True)
class Comment:
    id: int
    author_id: int | None
    public: bool
    body: str
    created_at: datetime | None = None
    via_channel: str = ""
    # True when Deskguard wrote it (matched by author id and/or the brief marker); see
    # connector/zendesk for how loop safety decides this.
    by_deskguard: bool = False


@dataclass(frozen=True)
class Ticket:
    id: int
    subject: str
    requester: Person
    status: str
    tags: tuple[str, ...] = ()
    custom_fields: dict[int, Any] = field(default_factory=dict)
    channel: str = ""
    priority: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    comments: tuple[Comment, ...] = ()
    # False when ``comments`` holds only the latest comment(s), not the whole thread: the
    # one-request read (the ticket's last audit) and the export. Read the thread in full when the
    # earlier comments matter (the Zendesk adapter: ``get_ticket(id, full=True)``).
    comments_complete: bool = True

    @property
    def latest_person_comment(self) -> Comment | None:
        for c in reversed(self.comments):
            if not c.by_deskguard:
                return c
        return None


# --- Ticket reading (classification) -------------------------------------------------------
@dataclass(frozen=True)
class Entities:
    order_numbers: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    tracking_numbers: tuple[str, ...] = ()
    amounts: tuple[str, ...] = ()  # as written, e.g. "€49.90"


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0


@dataclass(frozen=True)
class Reading:
    """One structured reading of a ticket; the same schema for every engine."""

    category: str
    confidence: float  # calibrated probability of `category`
    alternatives: tuple[tuple[str, float], ...]  # top-3 (category, score), best first
    sentiment: str  # negative | neutral | positive
    sentiment_score: float  # -1.0 .. 1.0
    urgency: str  # low | normal | high | urgent
    language: str  # ISO 639-1
    entities: Entities = field(default_factory=Entities)
    reasons: tuple[str, ...] = ()
    risk_flags: tuple[str, ...] = ()  # subset of RISK_FLAGS
    engine: str = "local"  # local | claude
    model: str = ""
    latency_ms: float = 0.0
    usage: Usage | None = None
    cost_usd: float = 0.0
    fallback_reason: str | None = None  # set when Claude failed and the local engine answered


@dataclass(frozen=True)
class TicketText:
    """What a classifier sees: already redacted when it leaves the machine."""

    subject: str
    body: str
    id: str = ""


class Classifier(Protocol):
    def classify(self, text: TicketText) -> Reading: ...


# --- Money -------------------------------------------------------------------------------
# Currencies whose amounts have no minor unit (Stripe's zero-decimal currencies; still marked
# unconfirmed in docs/vendors/stripe.md). Used to show amounts and to turn order totals into
# minor units when matching orders with payments.
ZERO_DECIMAL = frozenset(
    [
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    ]
)


# --- Shopify -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Money:
    amount: str  # decimal string as the vendor gives it, e.g. "49.90"
    currency: str


@dataclass(frozen=True)
class LineItem:
    title: str
    quantity: int
    sku: str = ""


@dataclass(frozen=True)
class Fulfillment:
    status: str
    tracking_company: str = ""
    tracking_number: str = ""
    tracking_url: str = ""
    estimated_delivery_at: datetime | None = None
    delivered_at: datetime | None = None


@dataclass(frozen=True)
class CustomerSummary:
    email: str
    order_count: int
    lifetime_spend: Money
    tags: tuple[str, ...] = ()
    id: str = ""  # Shopify customer GID (privacy requests name customers by id)


@dataclass(frozen=True)
class Order:
    id: str  # Shopify GID
    name: str  # "#1001"
    email: str
    created_at: datetime | None
    financial_status: str  # PAID, REFUNDED, ...
    fulfillment_status: str  # UNFULFILLED, FULFILLED, ...
    total: Money
    line_items: tuple[LineItem, ...] = ()
    fulfillments: tuple[Fulfillment, ...] = ()
    customer: CustomerSummary | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None  # OrderCancelReason: CUSTOMER, FRAUD, ...


class OrderSource(Protocol):
    def find_orders(
        self, *, email: str | None = None, order_name: str | None = None
    ) -> list[Order]: ...


# --- Stripe ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Charge:
    id: str
    amount: int  # minor units
    currency: str
    status: str
    created_at: datetime | None
    payment_intent: str | None = None
    amount_refunded: int = 0
    disputed: bool = False
    description: str = ""
    customer_id: str | None = None
    email: str = ""  # billing/receipt email, else the customer's
    metadata: dict[str, str] = field(default_factory=dict)  # e.g. {"order_name": "#1001"}


@dataclass(frozen=True)
class Refund:
    id: str
    amount: int
    currency: str
    status: str
    charge: str | None = None
    payment_intent: str | None = None
    reason: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class Dispute:
    id: str
    amount: int
    currency: str
    reason: str
    status: str
    charge: str | None = None
    due_by: datetime | None = None
    payment_intent: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class PaymentIntent:
    id: str
    amount: int  # minor units
    currency: str
    status: str  # succeeded, requires_payment_method (failed), processing, canceled, ...
    created_at: datetime | None = None
    latest_charge: str | None = None
    description: str = ""


@dataclass(frozen=True)
class PaymentContext:
    customer_id: str | None
    email: str
    charges: tuple[Charge, ...] = ()
    refunds: tuple[Refund, ...] = ()
    disputes: tuple[Dispute, ...] = ()
    payment_intents: tuple[PaymentIntent, ...] = ()
    customer_ids: tuple[str, ...] = ()  # every Stripe customer with this email (duplicates happen)


class PaymentSource(Protocol):
    def payment_context(self, email: str) -> PaymentContext: ...


# --- Ports: what the pipeline needs from each vendor adapter -------------------------------
# Service names in the runtime registry: "zendesk" (TicketDesk), "classifier" (Classifier),
# "shopify" (OrderSource), "stripe" (PaymentSource). Writes are only ever called from inside an
# ``actions.WriteAction.send`` / ``reconcile`` so they are keyed, audited and kill-switch checked.

# Every comment Deskguard writes ends with this marker line plus the action's idempotency key.
# Loop safety and crash reconciliation both look for it. Convention: every ``marker=`` argument
# below is the bare idempotency key; the adapter appends the line ``f"{DESKGUARD_MARKER} {key}"``
# (a marker that already starts with DESKGUARD_MARKER is refused, so the line is never doubled).
DESKGUARD_MARKER = "deskguard-ref:"


class TicketDesk(Protocol):
    api_calls: int  # Zendesk API requests made by this client (for calls-per-ticket figures)

    def get_ticket(self, ticket_id: int) -> Ticket: ...

    def add_internal_note(
        self,
        ticket_id: int,
        body: str,
        *,
        marker: str,
        tags: tuple[str, ...] = (),
        priority: str | None = None,
    ) -> dict[str, Any]: ...

    def public_reply(
        self,
        ticket_id: int,
        body: str,
        *,
        marker: str,
        solve: bool = True,
        tags: tuple[str, ...] = (),
    ) -> dict[str, Any]: ...

    def add_tags(self, ticket_id: int, tags: tuple[str, ...]) -> list[str]: ...

    def set_custom_fields(self, ticket_id: int, fields: dict[int, Any]) -> None: ...

    def find_comment_with_marker(self, ticket_id: int, marker: str) -> Comment | None: ...

    def find_open_tickets(self, requester_email: str) -> list[Ticket]: ...

    def create_ticket(
        self,
        *,
        subject: str,
        body: str,
        requester_email: str,
        priority: str = "normal",
        tags: tuple[str, ...] = (),
        public: bool = False,
        marker: str = "",
        external_id: str = "",
    ) -> int: ...

    def find_tickets_by_external_id(self, external_id: str) -> list[int]: ...

    def app_installation_settings(self, app_id: int | None = None) -> dict[str, Any]: ...


class AgentDirectory(Protocol):
    """Who a Zendesk user is (the side panel's permission checks;
    ``adapters.zendesk.ZendeskDesk``)."""

    def get_user(self, user_id: int) -> DeskUser: ...


class OrderActions(Protocol):
    def cancel_order(
        self,
        order_id: str,
        *,
        reason: str,
        notify_customer: bool,
        restock: bool,
        staff_note: str,
        refund: bool = False,
    ) -> dict[str, Any]: ...


class PaymentActions(Protocol):
    def refund(
        self,
        *,
        payment_intent: str | None,
        charge: str | None,
        amount: int,
        reason: str,
        metadata: dict[str, str],
        idempotency_key: str,
    ) -> Refund: ...
