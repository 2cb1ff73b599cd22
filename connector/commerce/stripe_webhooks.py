"""Stripe webhooks (``POST /webhooks/stripe/<tenant>``, connector/commerce/web.py): signed events
in, jobs out.

Order of work (the signature is verified on the raw body before anything is parsed):

1. the tenant must exist and have a webhook signing secret (else 404 / 503, nothing stored);
2. ``adapters.stripe.verify_webhook`` checks ``Stripe-Signature`` on the raw body
   (missing → 400 ``missing_signature``, wrong or stale → 401 ``bad_signature``);
3. the event id is recorded in ``stripe_events`` (Stripe redelivers for days and does not keep
   order, so a repeat answers 200 ``duplicate`` and does nothing);
4. ``charge.dispute.created`` enqueues a ``stripe.dispute`` job (dedupe key = event id) in the
   same transaction; other event types are recorded and acknowledged.

The answer is fast and the work happens in the worker (connector/commerce/disputes.py).
"""

from __future__ import annotations

from typing import Any

from connector import audit, logs
from connector.audit import now_iso
from connector.commerce.events import StripeEventReceived
from connector.db import transaction

LOG = logs.get("stripe.webhooks")
DISPUTE_JOB = "stripe.dispute"
# Event types that start work; everything else is recorded (deduped) and acknowledged.
HANDLED_EVENTS = {"charge.dispute.created": DISPUTE_JOB}


def record_event(db, queue, tenant_id: str, event: dict[str, Any]) -> dict[str, Any]:
    """Dedupe on the event id and enqueue its job, atomically. Returns what happened."""
    event_id, type_ = str(event["id"]), str(event["type"])
    obj = (event.get("data") or {}).get("object") or {}
    object_id = str(obj.get("id", "")) if isinstance(obj, dict) else ""
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
                {"event_id": event_id, "type": type_, "object": obj},
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
