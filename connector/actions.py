"""The one path for every write to a vendor (Zendesk, Shopify, Stripe).

``execute(db, tenant_id, action)``:

1. Checks the tenant's kill switch. On: audits ``action.blocked`` and raises
   ``KillSwitchEngaged`` (the worker defers the job; nothing is lost).
2. Records the action with its idempotency key *before* sending (state ``sending``), with its
   audit event in the same transaction.
3. If an earlier attempt with the same key got as far as sending (a crash or a timeout left the
   outcome unknown), asks ``reconcile(key)`` whether the vendor already applied it, and if so
   records that result instead of sending again. Vendors with native idempotency (Stripe's
   ``Idempotency-Key``) can simply re-send with the same key.
4. Checks the kill switch again immediately before the call, then calls ``send(key)``.
5. Records the result (or the error) with its audit event in one transaction.

A key that already completed returns the stored result without any vendor call, so retries,
duplicate deliveries and crash-restarts never double-post.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from connector import audit
from connector.audit import now_iso
from connector.db import transaction
from connector.errors import KillSwitchEngaged, VendorError
from connector.tenants import kill_switch_on

VENDORS = ("zendesk", "shopify", "stripe")


@dataclass
class WriteAction:
    vendor: str
    kind: str  # e.g. "zendesk.internal_note", "stripe.refund"
    idempotency_key: str
    params: dict[str, Any]  # recorded in the ledger and audit: no secrets here
    send: Callable[[str], dict[str, Any]]
    reconcile: Callable[[str], dict[str, Any] | None] | None = None
    ticket_id: int | None = None
    job_id: int | None = None


@dataclass
class ActionOutcome:
    action_id: int
    state: str
    result: dict[str, Any] = field(default_factory=dict)
    replayed: bool = False  # True when the key had already completed: no vendor call was made
    reconciled: bool = False


def _blocked(db: sqlite_utils.Database, tenant_id: str, action: WriteAction, reason: str) -> KillSwitchEngaged:
    with transaction(db):
        audit.record(db, tenant_id, audit.ActionBlocked(
            vendor=action.vendor, action=action.kind, idempotency_key=action.idempotency_key,
            reason=reason, ticket_id=action.ticket_id, job_id=action.job_id))
        db.conn.execute(
            "UPDATE actions SET state = 'blocked', updated_at = ? WHERE tenant_id = ? AND idempotency_key = ?"
            " AND state IN ('pending', 'blocked')", (now_iso(), tenant_id, action.idempotency_key))
    return KillSwitchEngaged(f"kill switch is on for tenant {tenant_id}: {action.kind} deferred")


def execute(db: sqlite_utils.Database, tenant_id: str, action: WriteAction) -> ActionOutcome:
    if action.vendor not in VENDORS:
        raise ValueError(f"unknown vendor {action.vendor!r}")
    if kill_switch_on(db, tenant_id):
        raise _blocked(db, tenant_id, action, "kill_switch")

    now = now_iso()
    with transaction(db):
        row = db.conn.execute(
            "SELECT id, state, result FROM actions WHERE tenant_id = ? AND idempotency_key = ?",
            (tenant_id, action.idempotency_key)).fetchone()
        if row and row[1] == "done":
            return ActionOutcome(row[0], "done", json.loads(row[2] or "{}"), replayed=True)
        previous_state = row[1] if row else None
        if row is None:
            action_id = db.conn.execute(
                "INSERT INTO actions (tenant_id, idempotency_key, vendor, kind, ticket_id, params, state,"
                " attempts, created_at, updated_at) VALUES (?,?,?,?,?,?,'sending',1,?,?) RETURNING id",
                (tenant_id, action.idempotency_key, action.vendor, action.kind, action.ticket_id,
                 audit.canonical_json(action.params), now, now)).fetchone()[0]
            audit.record(db, tenant_id, audit.ActionRequested(
                action_id=action_id, vendor=action.vendor, action=action.kind,
                idempotency_key=action.idempotency_key, params=action.params,
                ticket_id=action.ticket_id, job_id=action.job_id))
        else:
            action_id = row[0]
            db.conn.execute("UPDATE actions SET state = 'sending', attempts = attempts + 1, updated_at = ?"
                            " WHERE id = ?", (now, action_id))

    reconciled = False
    result: dict[str, Any] | None = None
    try:
        # An earlier attempt may have reached the vendor before we could record the outcome.
        if previous_state in ("sending", "failed") and action.reconcile is not None:
            result = action.reconcile(action.idempotency_key)
            reconciled = result is not None
        if result is None:
            # Checked again immediately before the write, so an in-flight job cannot slip through.
            if kill_switch_on(db, tenant_id):
                raise _blocked(db, tenant_id, action, "kill_switch")
            result = action.send(action.idempotency_key) or {}
    except KillSwitchEngaged:
        raise
    except VendorError as exc:
        with transaction(db):
            db.conn.execute("UPDATE actions SET state = 'failed', error = ?, updated_at = ? WHERE id = ?",
                            (str(exc)[:2000], now_iso(), action_id))
            audit.record(db, tenant_id, audit.ActionFailed(
                action_id=action_id, vendor=action.vendor, action=action.kind,
                idempotency_key=action.idempotency_key, error=str(exc)[:500],
                will_retry=exc.should_retry, ticket_id=action.ticket_id, job_id=action.job_id))
        raise

    with transaction(db):
        db.conn.execute("UPDATE actions SET state = 'done', result = ?, error = NULL, updated_at = ? WHERE id = ?",
                        (audit.canonical_json(result), now_iso(), action_id))
        audit.record(db, tenant_id, audit.ActionSucceeded(
            action_id=action_id, vendor=action.vendor, action=action.kind,
            idempotency_key=action.idempotency_key, result=result, reconciled=reconciled,
            ticket_id=action.ticket_id, job_id=action.job_id))
    return ActionOutcome(action_id, "done", result, reconciled=reconciled)
