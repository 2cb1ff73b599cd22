"""Typed audit events of the commerce area: one dataclass per thing that happens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from connector import audit


# --- privacy -----------------------------------------------------------------------------------
@audit.event
@dataclass(frozen=True)
class DataExported(audit.Event):
    kind: ClassVar[str] = "privacy.data_exported"
    subject: str
    path: str
    counts: dict[str, int]
    request: str = ""


# --- approvals ----------------------------------------------------------------------------
@audit.event
@dataclass(frozen=True)
class ApprovalProposed(audit.Event):
    kind: ClassVar[str] = "approval.proposed"
    approval_id: int
    action: str
    params: dict[str, Any]
    proposed_by: str
    reason: str


@audit.event
@dataclass(frozen=True)
class ApprovalApproved(audit.Event):
    kind: ClassVar[str] = "approval.approved"
    approval_id: int
    action: str
    agent: str
    note: str = ""


@audit.event
@dataclass(frozen=True)
class ApprovalRejected(audit.Event):
    kind: ClassVar[str] = "approval.rejected"
    approval_id: int
    action: str
    agent: str
    note: str = ""


@audit.event
@dataclass(frozen=True)
class ApprovalExecuting(audit.Event):
    kind: ClassVar[str] = "approval.executing"
    approval_id: int
    action: str
    idempotency_key: str
    attempt: int
    took_over: bool = False  # an earlier execution's lease had lapsed (crash): reconcile first


@audit.event
@dataclass(frozen=True)
class ApprovalExecuted(audit.Event):
    kind: ClassVar[str] = "approval.executed"
    approval_id: int
    action: str
    idempotency_key: str
    result: dict[str, Any]
    replayed: bool = False
    reconciled: bool = False


@audit.event
@dataclass(frozen=True)
class ApprovalFailed(audit.Event):
    kind: ClassVar[str] = "approval.failed"
    approval_id: int
    action: str
    idempotency_key: str
    error: str
    will_retry: bool


@audit.event
@dataclass(frozen=True)
class ApprovalDeferred(audit.Event):
    kind: ClassVar[str] = "approval.deferred"
    approval_id: int
    action: str
    reason: str


# --- stripe webhooks ---------------------------------------------------------------------------
@audit.event
@dataclass(frozen=True)
class StripeEventReceived(audit.Event):
    kind: ClassVar[str] = "stripe.event_received"
    event_id: str
    type: str
    object_id: str
    enqueued: bool


# --- shopify webhooks --------------------------------------------------------------------------
@audit.event
@dataclass(frozen=True)
class ShopifyWebhookReceived(audit.Event):
    kind: ClassVar[str] = "shopify.webhook_received"
    topic: str
    shop: str
    webhook_id: str
    event_id: str
    outcome: str


@audit.event
@dataclass(frozen=True)
class ShopifyTokenPurged(audit.Event):
    kind: ClassVar[str] = "shopify.token_purged"
    shop: str
    reason: str
    secrets_deleted: int


# --- disputes ----------------------------------------------------------------------------------
@audit.event
@dataclass(frozen=True)
class DisputeBriefDelivered(audit.Event):
    kind: ClassVar[str] = "stripe.dispute_brief"
    dispute_id: str
    mode: str  # note | new_ticket | replayed
    target_ticket: int | None
    related_orders: int
