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
duplicate deliveries and crash-restarts never double-post. While one caller is sending a key it
holds a short lease on it (``lease_seconds``); a second caller arriving meanwhile gets a
``TransientError`` (retry later → replay) instead of sending too. A crashed sender's lease runs
out, and the next attempt reconciles. Keep ``lease_seconds`` at or below the queue's job lease.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from connector import audit
from connector.audit import now_iso
from connector.db import for_update, lock, transaction
from connector.errors import KillSwitchEngaged, TransientError, VendorError
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
    lease_seconds: float = 60.0


@dataclass
class ActionOutcome:
    action_id: int
    state: str
    result: dict[str, Any] = field(default_factory=dict)
    replayed: bool = False  # True when the key had already completed: no vendor call was made
    reconciled: bool = False


def _blocked(
    db: sqlite_utils.Database,
    tenant_id: str,
    action: WriteAction,
    reason: str,
    *,
    before_send: bool = False,
) -> KillSwitchEngaged:
    """Audit the block. ``before_send``: this attempt holds the lease and has not sent, so the row
    may leave 'sending' (otherwise a 'sending' row may be a crashed attempt: leave it for
    reconcile)."""
    states = "('pending', 'blocked', 'sending')" if before_send else "('pending', 'blocked')"
    with transaction(db, shared=True):  # one conditional UPDATE and an audit append
        audit.record(
            db,
            tenant_id,
            audit.ActionBlocked(
                vendor=action.vendor,
                action=action.kind,
                idempotency_key=action.idempotency_key,
                reason=reason,
                ticket_id=action.ticket_id,
                job_id=action.job_id,
            ),
        )
        db.conn.execute(
            "UPDATE actions SET state = 'blocked', updated_at = ?, lease_owner = NULL,"
            " lease_expires_at = NULL"
            f" WHERE tenant_id = ? AND idempotency_key = ? AND state IN {states}",
            (now_iso(), tenant_id, action.idempotency_key),
        )
    return KillSwitchEngaged(f"kill switch is on for tenant {tenant_id}: {action.kind} deferred")


def execute(
    db: sqlite_utils.Database,
    tenant_id: str,
    action: WriteAction,
    *,
    clock: Callable[[], float] = time.time,
) -> ActionOutcome:
    if action.vendor not in VENDORS:
        raise ValueError(f"unknown vendor {action.vendor!r}")
    if kill_switch_on(db, tenant_id):
        raise _blocked(db, tenant_id, action, "kill_switch")

    now = now_iso()
    owner = uuid.uuid4().hex
    started = clock()
    # Claiming the key reads then writes. Shared with other writers: the key's own lock keeps two
    # senders of the same key apart (also when the row does not exist yet), and the row lock keeps
    # the reconciler's single-statement claim out until COMMIT (SQLite: its write lock does both).
    with transaction(db, shared=True):
        lock(db, f"action:{tenant_id}:{action.idempotency_key}")
        row = db.conn.execute(
            "SELECT id, state, result, lease_owner, lease_expires_at FROM actions"
            " WHERE tenant_id = ? AND idempotency_key = ?" + for_update(db),
            (tenant_id, action.idempotency_key),
        ).fetchone()
        if row and row[1] == "done":
            return ActionOutcome(row[0], "done", json.loads(row[2] or "{}"), replayed=True)
        if row and row[1] == "sending" and row[4] is not None and row[4] > started:
            raise TransientError(
                f"{action.kind} {action.idempotency_key} is being sent by another worker",
                vendor="deskguard",
                retry_after=max(1.0, row[4] - started),
            )
        previous_state = row[1] if row else None
        if row is None:
            action_id = db.conn.execute(
                "INSERT INTO actions (tenant_id, idempotency_key, vendor, kind, ticket_id, params,"
                " state, attempts, created_at, updated_at, lease_owner, lease_expires_at)"
                " VALUES (?,?,?,?,?,?,'sending',1,?,?,?,?) RETURNING id",
                (
                    tenant_id,
                    action.idempotency_key,
                    action.vendor,
                    action.kind,
                    action.ticket_id,
                    audit.canonical_json(action.params),
                    now,
                    now,
                    owner,
                    started + action.lease_seconds,
                ),
            ).fetchone()[0]
            audit.record(
                db,
                tenant_id,
                audit.ActionRequested(
                    action_id=action_id,
                    vendor=action.vendor,
                    action=action.kind,
                    idempotency_key=action.idempotency_key,
                    params=action.params,
                    ticket_id=action.ticket_id,
                    job_id=action.job_id,
                ),
            )
        else:
            action_id = row[0]
            db.conn.execute(
                "UPDATE actions SET state = 'sending', attempts = attempts + 1, updated_at = ?,"
                " lease_owner = ?, lease_expires_at = ? WHERE id = ?",
                (now, owner, started + action.lease_seconds, action_id),
            )

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
                raise _blocked(db, tenant_id, action, "kill_switch", before_send=True)
            result = action.send(action.idempotency_key) or {}
    except KillSwitchEngaged:
        raise
    except VendorError as exc:
        _fail(db, tenant_id, action, action_id, exc)
        raise
    except BaseException:
        # The outcome is unknown (the vendor may have applied it): keep 'sending' so the next
        # attempt reconciles, but end this attempt's lease so that attempt need not wait for it.
        with transaction(db, shared=True):
            db.conn.execute(
                "UPDATE actions SET lease_owner = NULL, lease_expires_at = NULL, updated_at = ?"
                " WHERE id = ? AND lease_owner = ?",
                (now_iso(), action_id, owner),
            )
        raise

    with transaction(db, shared=True):  # an UPDATE of this row and an audit append
        _record_done(db, _Row(action_id, tenant_id, action), result, reconciled=reconciled)
    return ActionOutcome(action_id, "done", result, reconciled=reconciled)


def _fail(
    db: sqlite_utils.Database, tenant_id: str, action: WriteAction, action_id: int, exc: VendorError
) -> None:
    with transaction(db, shared=True):  # an UPDATE of this row and an audit append
        _record_failed(
            db, _Row(action_id, tenant_id, action), str(exc), will_retry=exc.should_retry
        )


@dataclass(frozen=True)
class _Row:
    """Which ``actions`` row an outcome is recorded on, and what its audit event names."""

    id: int
    tenant_id: str
    action: WriteAction | Interrupted
    owner: str | None = None  # set: only while this owner still holds the row's lease

    @property
    def job_id(self) -> int | None:
        return self.action.job_id if isinstance(self.action, WriteAction) else None


def _where(row: _Row) -> tuple[str, tuple[Any, ...]]:
    if row.owner is None:
        return " WHERE id = ?", (row.id,)
    return " WHERE id = ? AND lease_owner = ?", (row.id, row.owner)


def _record_done(
    db: sqlite_utils.Database, row: _Row, result: dict[str, Any], *, reconciled: bool
) -> None:
    """The row is done, with its result and its audit event (call inside a transaction)."""
    where, params = _where(row)
    db.conn.execute(
        "UPDATE actions SET state = 'done', result = ?, error = NULL, updated_at = ?,"
        " lease_owner = NULL, lease_expires_at = NULL" + where,
        (audit.canonical_json(result), now_iso(), *params),
    )
    audit.record(
        db,
        row.tenant_id,
        audit.ActionSucceeded(
            action_id=row.id,
            vendor=row.action.vendor,
            action=row.action.kind,
            idempotency_key=row.action.idempotency_key,
            result=result,
            reconciled=reconciled,
            ticket_id=row.action.ticket_id,
            job_id=row.job_id,
        ),
    )


def _record_failed(db: sqlite_utils.Database, row: _Row, error: str, *, will_retry: bool) -> None:
    """The row failed, with its error and its audit event (call inside a transaction)."""
    where, params = _where(row)
    db.conn.execute(
        "UPDATE actions SET state = 'failed', error = ?, updated_at = ?,"
        " lease_owner = NULL, lease_expires_at = NULL" + where,
        (error[:2000], now_iso(), *params),
    )
    audit.record(
        db,
        row.tenant_id,
        audit.ActionFailed(
            action_id=row.id,
            vendor=row.action.vendor,
            action=row.action.kind,
            idempotency_key=row.action.idempotency_key,
            error=error[:500],
            will_retry=will_retry,
            ticket_id=row.action.ticket_id,
            job_id=row.job_id,
        ),
    )


# --- repairing writes a crash interrupted ------------------------------------------------------
@dataclass
class Interrupted:
    """An action left ``sending`` whose lease ran out: its sender died mid-write."""

    id: int
    tenant_id: str
    idempotency_key: str
    vendor: str
    kind: str
    ticket_id: int | None
    params: dict[str, Any]


def interrupted(db: sqlite_utils.Database, *, now: float | None = None) -> list[Interrupted]:
    """Actions in ``sending`` with no live lease (oldest first)."""
    now = time.time() if now is None else now
    return [
        Interrupted(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6] or "{}"))
        for r in db.conn.execute(
            "SELECT id, tenant_id, idempotency_key, vendor, kind, ticket_id, params FROM actions"
            " WHERE state = 'sending' AND (lease_expires_at IS NULL OR lease_expires_at <= ?)"
            " ORDER BY id",
            (now,),
        )
    ]


def finish_interrupted(
    db: sqlite_utils.Database,
    action: Interrupted,
    lookup: Callable[[str], dict[str, Any] | None],
    *,
    lease_seconds: float = 60.0,
    clock: Callable[[], float] = time.time,
) -> str | None:
    """Ask the vendor (``lookup``, the action's reconcile) whether an interrupted write landed.

    Found: the action is ``done`` with the vendor's result (audited as reconciled). Not found: the
    action is ``failed`` (not applied), so the next attempt sends it. Returns the new state, or None
    when another process holds the action now. The action is leased while we look, so two
    reconcilers (or a reconciler and a re-run job) never both decide it.
    """
    owner = uuid.uuid4().hex
    started = clock()
    with transaction(db):
        cur = db.conn.execute(
            "UPDATE actions SET lease_owner = ?, lease_expires_at = ? WHERE id = ?"
            " AND state = 'sending' AND (lease_expires_at IS NULL OR lease_expires_at <= ?)",
            (owner, started + lease_seconds, action.id, started),
        )
    if not cur.rowcount:
        return None
    try:
        result = lookup(action.idempotency_key)
    except BaseException:
        with transaction(db):
            db.conn.execute(
                "UPDATE actions SET lease_owner = NULL, lease_expires_at = NULL"
                " WHERE id = ? AND lease_owner = ?",
                (action.id, owner),
            )
        raise
    row = _Row(action.id, action.tenant_id, action, owner=owner)
    with transaction(db):
        if result is not None:
            _record_done(db, row, result, reconciled=True)
            return "done"
        error = "interrupted before the vendor applied it (reconciled: not found)"
        _record_failed(db, row, error, will_retry=True)
        return "failed"
