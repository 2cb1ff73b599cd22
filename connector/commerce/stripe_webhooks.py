"""Stripe webhooks (``POST /webhooks/stripe/<tenant>``, connector/commerce/web.py): signed events
in, jobs out.

Order of work (the signature is verified on the raw body before anything is parsed):

1. the tenant must exist and have a webhook signing secret (else 404 / 503, nothing stored);
2. ``verify_event`` checks ``Stripe-Signature`` on the raw body against *each* of the tenant's
   secrets (several during a rotation; any one passing is enough) with
   ``adapters.stripe.verify_webhook`` (missing → 400 ``missing_signature``, wrong or stale → 401
   ``bad_signature``), then refuses a ``t=`` further than the tolerance *ahead* of our clock too:
   the SDK only refuses old ones, and a signature dated in the future would stay replayable
   until that date (Stripe, "Check the webhook signatures" / "Preventing replay attacks":
   https://docs.stripe.com/webhooks#verify-events);
3. ``check_event`` validates the documented shape: an Event with ``id``, ``type``, ``created``
   and ``data.object`` an object ("The Event object": https://docs.stripe.com/api/events/object);
   for a dispute event the object must be a Dispute whose ``id``, ``amount``, ``created``,
   ``charge`` and ``evidence_details.due_by`` our job reads ("The Dispute object":
   https://docs.stripe.com/api/disputes/object). Else 400 ``invalid_payload``, nothing stored,
   so a bad body can never become a job that fails on every attempt;
4. the event id is recorded in ``stripe_events`` (Stripe redelivers for days and does not keep
   order, so a repeat answers 200 ``duplicate`` and does nothing);
5. ``charge.dispute.created`` enqueues a ``stripe.dispute`` job (dedupe key = event id) in the
   same transaction; other event types are recorded and acknowledged.

The answer is fast and the work happens in the worker (connector/commerce/disputes.py).
"""

from __future__ import annotations

import time
from typing import Any

from adapters.stripe import BadWebhookSignature, verify_webhook
from connector import audit, logs
from connector.audit import now_iso
from connector.commerce.events import StripeEventReceived
from connector.db import transaction
from connector.webhook_shapes import (
    InvalidJson,
    InvalidPayload,
    non_empty_text,
    obj,
    positive_id,
    text,
    unix_seconds,
)

LOG = logs.get("stripe.webhooks")
DISPUTE_JOB = "stripe.dispute"
# Event types that start work; everything else is recorded (deduped) and acknowledged.
HANDLED_EVENTS = {"charge.dispute.created": DISPUTE_JOB}


# --- signature --------------------------------------------------------------------------------
def signed_timestamp(header: str) -> int | None:
    """The ``t=`` of a ``Stripe-Signature`` header (the first, as the SDK reads it)."""
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            value = value.strip()
            return int(value) if value.isascii() and value.isdigit() and len(value) < 16 else None
    return None


def verify_event(
    raw: bytes,
    header: str | None,
    secrets: list[str],
    *,
    tolerance: int,
    now: float | None = None,
) -> dict[str, Any]:
    """The event, once ``Stripe-Signature`` checks out under one of ``secrets`` and its timestamp
    is within ``tolerance`` seconds of now in either direction. Raises MissingWebhookSignature
    (400), BadWebhookSignature (401) or BadRequest / InvalidJson (400)."""
    event: dict[str, Any] | None = None
    failure: BadWebhookSignature | None = None
    try:
        for secret in secrets:  # during a rotation Stripe signs with each live secret
            try:
                event = verify_webhook(raw, header, secret, tolerance=tolerance)
                break
            except BadWebhookSignature as exc:
                failure = exc
    except RecursionError:  # JSON nested deeper than the parser allows
        raise InvalidJson("webhook body is not valid JSON") from None
    if event is None:
        raise failure or BadWebhookSignature("no Stripe webhook secret matched")
    signed_at = signed_timestamp(header or "")
    now = time.time() if now is None else now
    if signed_at is None or signed_at > now + tolerance:
        raise BadWebhookSignature(
            f"Stripe-Signature timestamp is more than {tolerance} s in the future"
        )
    return event


# --- shape ------------------------------------------------------------------------------------
def _expandable_id(value: Any, name: str) -> None:
    """A Stripe expandable field: an id string, the expanded object (with an id), or null."""
    if value is None or (isinstance(value, str) and len(value) <= 255):
        return
    if isinstance(value, dict):
        non_empty_text(value.get("id"), f"{name}.id")
        return
    raise InvalidPayload(f"{name} must be an id, an object or null")


def check_dispute(dispute: dict[str, Any]) -> None:
    """The fields of a Dispute that the ``stripe.dispute`` job reads, with their documented
    types (https://docs.stripe.com/api/disputes/object)."""
    non_empty_text(dispute.get("id"), "data.object.id")
    if dispute.get("object", "dispute") != "dispute":
        raise InvalidPayload("data.object is not a dispute")
    amount = dispute.get("amount", 0)
    if amount != 0:
        positive_id(amount, "data.object.amount", digits_ok=False)
    for key in ("currency", "reason", "status"):
        text(dispute.get(key), f"data.object.{key}", max_len=255, optional=True)
    if dispute.get("created") is not None:
        unix_seconds(dispute["created"], "data.object.created")
    _expandable_id(dispute.get("charge"), "data.object.charge")
    _expandable_id(dispute.get("payment_intent"), "data.object.payment_intent")
    details = dispute.get("evidence_details")
    if details is not None:
        details = obj(dispute, "evidence_details", "data.object.")
        if details.get("due_by") is not None:
            unix_seconds(details["due_by"], "data.object.evidence_details.due_by")


def check_event(event: dict[str, Any]) -> dict[str, Any]:
    """The event's ``data.object`` once the event is the documented shape (InvalidPayload, 400)."""
    non_empty_text(event.get("id"), "id")
    type_ = non_empty_text(event.get("type"), "type")
    if event.get("created") is not None:
        unix_seconds(event["created"], "created")
    data = obj(event, "data")
    target = obj(data, "object", "data.")
    if type_ in HANDLED_EVENTS:
        check_dispute(target)
    return target


def record_event(db, queue, tenant_id: str, event: dict[str, Any]) -> dict[str, Any]:
    """Dedupe on the event id and enqueue its job, atomically. Returns what happened.

    ``event`` must have passed ``check_event`` (the route calls it first)."""
    target = check_event(event)
    event_id, type_ = str(event["id"]), str(event["type"])
    object_id = str(target.get("id") or "")
    job_kind = HANDLED_EVENTS.get(type_)
    with transaction(db):
        cur = db.conn.execute(
            "INSERT INTO stripe_events (tenant_id, event_id, type, object_id, created, received_at)"
            " VALUES (?,?,?,?,?,?) ON CONFLICT (tenant_id, event_id) DO NOTHING",
            (tenant_id, event_id, type_, object_id, event.get("created"), now_iso()),
        )
        if cur.rowcount == 0:
            return {"received": True, "duplicate": True, "event_id": event_id}
        job_id = None
        if job_kind:
            # The queue's own transaction nests as a savepoint inside this one.
            job_id, _ = queue.enqueue(
                tenant_id,
                job_kind,
                {"event_id": event_id, "type": type_, "object": target},
                f"stripe-event-{event_id}",
            )
            db.conn.execute(
                "UPDATE stripe_events SET job_id = ? WHERE tenant_id = ? AND event_id = ?",
                (job_id, tenant_id, event_id),
            )
        audit.record(
            db,
            tenant_id,
            StripeEventReceived(
                event_id=event_id,
                type=type_,
                object_id=object_id,
                enqueued=job_id is not None,
                job_id=job_id,
            ),
        )
    return {
        "received": True,
        "duplicate": False,
        "event_id": event_id,
        "job_id": job_id,
        "ignored": job_kind is None,
    }
