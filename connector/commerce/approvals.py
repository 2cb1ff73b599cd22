"""Collaborative actions: refunds and order cancellations proposed by the policy, executed only
after an agent approves.

Life of an approval (table ``approvals``)::

    proposed ──approve──▶ approved ──▶ executing ──▶ done
        │                    ▲  │           │
        └──reject──▶ rejected│  │           └──▶ failed (1)
                             └──┘ (2)

    (1) a permanent vendor error; approve again to retry
    (2) kill switch on, or a transient error: it stays approved, execution deferred

- ``propose(db, tenant_id, ticket_id, kind, params, proposed_by, reason)`` validates the
  params per kind (``refund``: payment_intent|charge, amount in minor units, currency, reason;
  ``cancel_order``: order_id, order_name, reason, restock, notify_customer). The same open
  proposal proposed twice (a retried pipeline job) returns the first one.
- ``approve(runtime, tenant_id, approval_id, agent_id, agent_name=...)`` records the decision
  (who, and their name when the caller knows it: the side panel's verified agent), then executes
  through ``connector.actions.execute`` with the key ``approval-<id>-<kind>``. Stripe receives it
  as ``Idempotency-Key``; Shopify's ``orderCancel`` has no such key, so reconciliation reads the
  order back.
- Executing ONCE: a completed key replays its stored result (no vendor call); a second click
  while an execution is in flight sees the lease (``approval_lease_seconds``) and does nothing;
  after a crash between send and record, the next attempt (once the lease has lapsed) asks the
  vendor (``reconcile``: the refund carrying our key in its metadata / the order's
  ``cancelled_at``) before sending anything.
- Kill switch: approval stays recorded (state ``approved``, ``deferred_reason = kill_switch``) and
  an ``approvals.execute`` job is queued; the worker re-checks every few seconds without spending
  attempts and executes once the switch is off. Approving again retries at once.
- Every proposal, decision, execution start and outcome is a typed audit event, written in the
  same transaction as the state change.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlite_utils

from connector import actions, audit
from connector.audit import now_iso
from connector.commerce.approval_params import validate_params
from connector.commerce.events import (
    ApprovalApproved,
    ApprovalDeferred,
    ApprovalExecuted,
    ApprovalExecuting,
    ApprovalFailed,
    ApprovalProposed,
    ApprovalRejected,
)
from connector.commerce.payments import format_minor
from connector.db import transaction
from connector.domain import to_dict
from connector.errors import (
    BadRequest,
    DeskguardError,
    KillSwitchEngaged,
    NotFound,
    TransientError,
    VendorError,
)

if TYPE_CHECKING:
    from connector.runtime import Runtime

STATES = ("proposed", "approved", "executing", "done", "failed", "rejected")
OPEN_STATES = ("proposed", "approved", "executing", "failed")
EXECUTE_JOB = "approvals.execute"


class ApprovalConflict(DeskguardError):
    http_status = 409
    code = "approval_conflict"


@dataclass
class Approval:
    id: int
    tenant_id: str
    ticket_id: int
    kind: str
    params: dict[str, Any]
    state: str
    proposed_by: str
    reason: str
    idempotency_key: str
    created_at: str
    updated_at: str
    decided_by: str | None = None
    decision_note: str = ""
    decided_at: str | None = None
    executed_at: str | None = None
    attempts: int = 0
    deferred_reason: str | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    # Derived for display (side panel, CLI):
    summary: str = ""
    amount: int | None = None
    currency: str = ""
    lease_until: float | None = field(default=None, repr=False)
    # The decider's name as known when they decided (the panel's verified agent); None when the
    # deciding path knew none (CLI, admin API, rows older than the column).
    decided_by_name: str | None = None

    @property
    def open(self) -> bool:
        return self.state in OPEN_STATES


_COLUMNS = (
    "id, tenant_id, ticket_id, kind, params, state, proposed_by, reason, idempotency_key, "
    "created_at,"
    " updated_at, decided_by, decision_note, decided_at, executed_at, attempts, deferred_reason, "
    "result,"
    " error, lease_until, decided_by_name"
)


def _from_row(row) -> Approval:
    (
        id_,
        tenant_id,
        ticket_id,
        kind,
        params,
        state,
        proposed_by,
        reason,
        key,
        created_at,
        updated_at,
        decided_by,
        note,
        decided_at,
        executed_at,
        attempts,
        deferred,
        result,
        error,
        lease_until,
        decided_by_name,
    ) = row
    params = json.loads(params)
    return Approval(
        id_,
        tenant_id,
        ticket_id,
        kind,
        params,
        state,
        proposed_by,
        reason,
        key,
        created_at,
        updated_at,
        decided_by,
        note or "",
        decided_at,
        executed_at,
        attempts,
        deferred,
        json.loads(result) if result else None,
        error,
        summarize(kind, params),
        params.get("amount") if kind == "refund" else None,
        params.get("currency", ""),
        lease_until,
        decided_by_name,
    )


def summarize(kind: str, params: dict[str, Any]) -> str:
    if kind == "refund":
        target = params.get("payment_intent") or params.get("charge")
        return (
            f"Refund {format_minor(params['amount'], params['currency'])} on {target}"
            f" ({params['reason'].replace('_', ' ')})"
        )
    flags = [
        w
        for w, on in (
            ("restock", params.get("restock")),
            ("notify customer", params.get("notify_customer")),
        )
        if on
    ]
    return (
        f"Cancel order {params['order_name']} ({params['reason'].lower()}"
        + "".join(f", {f}" for f in flags)
        + ")"
    )


# --- reading -------------------------------------------------------------------------------
def get(db: sqlite_utils.Database, tenant_id: str, approval_id: int) -> Approval:
    row = db.conn.execute(
        f"SELECT {_COLUMNS} FROM approvals WHERE tenant_id = ? AND id = ?",
        (tenant_id, int(approval_id)),
    ).fetchone()
    if row is None:
        raise NotFound(f"no approval {approval_id} for tenant {tenant_id!r}")
    return _from_row(row)


def list_approvals(
    db: sqlite_utils.Database,
    tenant_id: str,
    *,
    ticket_id: int | None = None,
    states: tuple[str, ...] | None = None,
    limit: int = 200,
) -> list[Approval]:
    where = ["tenant_id = ?"]
    params: list[str | int] = [tenant_id]
    if ticket_id is not None:
        where.append("ticket_id = ?")
        params.append(int(ticket_id))
    if states:
        where.append(f"state IN ({', '.join('?' * len(states))})")
        params.extend(states)
    rows = db.conn.execute(
        f"SELECT {_COLUMNS} FROM approvals WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
        (*params, int(limit)),
    ).fetchall()
    return [_from_row(r) for r in rows]


def list_pending(
    db: sqlite_utils.Database, tenant_id: str, *, ticket_id: int | None = None
) -> list[Approval]:
    """Approvals still waiting for an agent (the side panel's list)."""
    return list_approvals(db, tenant_id, ticket_id=ticket_id, states=("proposed",))


# --- proposing and deciding ----------------------------------------------------------------
def propose(
    db: sqlite_utils.Database,
    tenant_id: str,
    ticket_id: int,
    kind: str,
    params: dict[str, Any],
    proposed_by: str,
    reason: str = "",
    *,
    job_id: int | None = None,
) -> Approval:
    """Record a proposed action for an agent to approve. Joins the caller's transaction."""
    clean = validate_params(kind, params)
    if not proposed_by:
        raise BadRequest("proposed_by is required (e.g. policy:refund_rule)")
    canonical = audit.canonical_json(clean)
    now = now_iso()
    with transaction(db):
        existing = db.conn.execute(
            f"SELECT {_COLUMNS} FROM approvals WHERE tenant_id = ? AND ticket_id = ? AND kind = ? "
            f"AND params = ?"
            f" AND state IN ('proposed', 'approved', 'executing') ORDER BY id LIMIT 1",
            (tenant_id, int(ticket_id), kind, canonical),
        ).fetchone()
        if existing:
            return _from_row(existing)
        approval_id = db.conn.execute(
            "INSERT INTO approvals (tenant_id, ticket_id, kind, params, state, proposed_by, "
            "reason, idempotency_key,"
            " created_at, updated_at) VALUES (?,?,?,?,'proposed',?,?,'',?,?) RETURNING id",
            (tenant_id, int(ticket_id), kind, canonical, proposed_by, reason, now, now),
        ).fetchone()[0]
        db.conn.execute(
            "UPDATE approvals SET idempotency_key = ? WHERE id = ?",
            (f"approval-{approval_id}-{kind}", approval_id),
        )
        audit.record(
            db,
            tenant_id,
            ApprovalProposed(
                approval_id=approval_id,
                action=kind,
                params=clean,
                proposed_by=proposed_by,
                reason=reason,
                ticket_id=int(ticket_id),
                job_id=job_id,
            ),
        )
    return get(db, tenant_id, approval_id)


def _agent(agent_id: str | None, actor: str | None) -> str:
    agent = str(agent_id or actor or "").strip()
    if not agent:
        raise BadRequest("the deciding agent is required")
    return agent


def _name(agent_name: str | None) -> str | None:
    """The decider's name as stored: trimmed, bounded, None when unknown."""
    name = " ".join(str(agent_name or "").split())[:200]
    return name or None


def reject(
    runtime: Runtime,
    tenant_id: str,
    approval_id: int,
    agent_id: str | None = None,
    *,
    actor: str | None = None,
    note: str = "",
    agent_name: str | None = None,
) -> Approval:
    """Reject a proposal. Rejecting an already-rejected one is a no-op; anything decided is a
    conflict. ``agent_name`` is stored as the decider's name when the caller knows it."""
    agent = _agent(agent_id, actor)
    name = _name(agent_name)
    db = runtime.db
    with transaction(db):
        approval = get(db, tenant_id, approval_id)
        if approval.state == "rejected":
            return approval
        if approval.state != "proposed":
            raise ApprovalConflict(
                f"approval {approval_id} is {approval.state}: only a proposed action can be "
                f"rejected"
            )
        now = now_iso()
        db.conn.execute(
            "UPDATE approvals SET state = 'rejected', decided_by = ?, decided_by_name = ?,"
            " decision_note = ?, decided_at = ?, updated_at = ? WHERE id = ?",
            (agent, name, note, now, now, approval.id),
        )
        audit.record(
            db,
            tenant_id,
            ApprovalRejected(
                approval_id=approval.id,
                action=approval.kind,
                agent=agent,
                note=note,
                ticket_id=approval.ticket_id,
            ),
        )
    return get(db, tenant_id, approval_id)


def approve(
    runtime: Runtime,
    tenant_id: str,
    approval_id: int,
    agent_id: str | None = None,
    *,
    actor: str | None = None,
    note: str = "",
    agent_name: str | None = None,
) -> Approval:
    """Approve (once) and execute. Safe to call again: double clicks and retries execute once.

    Returns the approval after the attempt: ``done`` with its result, ``executing`` when another
    attempt holds it, ``approved`` with ``deferred_reason`` when the kill switch (or a transient
    vendor error) deferred it, or ``failed`` with the vendor's error. ``agent_name`` is stored
    as the decider's name when the caller knows it (a retry keeps the first decider's).
    """
    agent = _agent(agent_id, actor)
    name = _name(agent_name)
    db = runtime.db
    with transaction(db):
        approval = get(db, tenant_id, approval_id)
        if approval.state == "rejected":
            raise ApprovalConflict(f"approval {approval_id} was rejected by {approval.decided_by}")
        if approval.state == "proposed":
            now = now_iso()
            db.conn.execute(
                "UPDATE approvals SET state = 'approved', decided_by = ?, decided_by_name = ?,"
                " decision_note = ?, decided_at = ?, updated_at = ? WHERE id = ?",
                (agent, name, note, now, now, approval.id),
            )
            audit.record(
                db,
                tenant_id,
                ApprovalApproved(
                    approval_id=approval.id,
                    action=approval.kind,
                    agent=agent,
                    note=note,
                    ticket_id=approval.ticket_id,
                ),
            )
    return execute(runtime, tenant_id, approval_id)


# --- executing -----------------------------------------------------------------------------
def _write_action(runtime: Runtime, approval: Approval, job_id: int | None) -> actions.WriteAction:
    p = approval.params
    if approval.kind == "refund":
        stripe = runtime.services(approval.tenant_id).require_payments()
        target = {"payment_intent": p.get("payment_intent"), "charge": p.get("charge")}
        metadata = {
            "deskguard_tenant": approval.tenant_id,
            "deskguard_ticket": str(approval.ticket_id),
            "deskguard_approval": str(approval.id),
        }

        def send_refund(key: str) -> dict[str, Any]:
            return {
                "refund": to_dict(
                    stripe.refund(
                        **target,
                        amount=p["amount"],
                        reason=p["reason"],
                        metadata=metadata,
                        idempotency_key=key,
                    )
                )
            }

        def reconcile_refund(key: str) -> dict[str, Any] | None:
            found = stripe.find_refund(**target, idempotency_key=key)
            return {"refund": to_dict(found)} if found else None

        return actions.WriteAction(
            "stripe",
            "stripe.refund",
            approval.idempotency_key,
            {**p, "approval_id": approval.id},
            send_refund,
            reconcile_refund,
            ticket_id=approval.ticket_id,
            job_id=job_id,
        )

    shop = runtime.services(approval.tenant_id).require_orders()
    staff_note = (
        f"Cancelled by Deskguard approval {approval.id} (ticket {approval.ticket_id}), approved by "
        f"{approval.decided_by}"
    )

    def send_cancel(key: str) -> dict[str, Any]:
        # refund=False: money only moves through its own approved Stripe refund.
        result = shop.cancel_order(
            p["order_id"],
            reason=p["reason"],
            notify_customer=p["notify_customer"],
            restock=p["restock"],
            staff_note=staff_note,
            refund=False,
        )
        return {"cancel": to_dict(result)}

    def reconcile_cancel(key: str) -> dict[str, Any] | None:
        # orderCancel takes no idempotency key: read the order back instead.
        if hasattr(shop, "reconcile_cancel"):  # the Shopify adapter's own read-back
            found = shop.reconcile_cancel(p["order_id"])
            return {"cancel": found} if found else None
        for order in shop.find_orders(order_name=p["order_name"]):
            if order.id == p["order_id"] and order.cancelled_at is not None:
                return {
                    "cancel": {"order_id": order.id, "cancelled_at": order.cancelled_at.isoformat()}
                }
        return None

    return actions.WriteAction(
        "shopify",
        "shopify.cancel_order",
        approval.idempotency_key,
        {**p, "approval_id": approval.id},
        send_cancel,
        reconcile_cancel,
        ticket_id=approval.ticket_id,
        job_id=job_id,
    )


def _claim(runtime: Runtime, tenant_id: str, approval_id: int, clock) -> tuple[Approval, bool]:
    """Take the approval for one execution. Returns (approval, claimed)."""
    db = runtime.db
    now = clock()
    with transaction(db):
        approval = get(db, tenant_id, approval_id)
        if approval.state in ("proposed", "rejected"):
            raise ApprovalConflict(
                f"approval {approval_id} is {approval.state}: it must be approved first"
            )
        if approval.state == "done":
            return approval, False
        if approval.state == "executing" and (approval.lease_until or 0) > now:
            return approval, False  # another attempt is in flight (double click, concurrent retry)
        took_over = approval.state == "executing"
        db.conn.execute(
            "UPDATE approvals SET state = 'executing', lease_until = ?, attempts = attempts + 1,"
            " updated_at = ? WHERE id = ?",
            (now + runtime.config.approval_lease_seconds, now_iso(), approval.id),
        )
        audit.record(
            db,
            tenant_id,
            ApprovalExecuting(
                approval_id=approval.id,
                action=approval.kind,
                idempotency_key=approval.idempotency_key,
                attempt=approval.attempts + 1,
                took_over=took_over,
                ticket_id=approval.ticket_id,
            ),
        )
    return get(db, tenant_id, approval_id), True


def _defer(
    runtime: Runtime,
    approval: Approval,
    reason: str,
    *,
    error: str | None = None,
    enqueue: bool,
    delay: float = 0.0,
    event: audit.Event | None = None,
) -> None:
    """Back to 'approved' with the reason execution waits; optionally queue the retry job."""
    db = runtime.db
    with transaction(db):
        db.conn.execute(
            "UPDATE approvals SET state = 'approved', lease_until = NULL, deferred_reason = ?, "
            "error = ?,"
            " updated_at = ? WHERE id = ?",
            (reason, error, now_iso(), approval.id),
        )
        if event is not None:
            audit.record(db, approval.tenant_id, event)
        if approval.deferred_reason != reason:  # once per reason, not on every kill-switch re-check
            audit.record(
                db,
                approval.tenant_id,
                ApprovalDeferred(
                    approval_id=approval.id,
                    action=approval.kind,
                    reason=reason,
                    ticket_id=approval.ticket_id,
                ),
            )
        if enqueue:
            runtime.queue.enqueue(
                approval.tenant_id,
                EXECUTE_JOB,
                {"approval_id": approval.id, "ticket_id": approval.ticket_id},
                f"{approval.idempotency_key}-execute-{approval.attempts}",
                delay=delay,
            )


def execute(
    runtime: Runtime,
    tenant_id: str,
    approval_id: int,
    *,
    job_id: int | None = None,
    clock=time.time,
) -> Approval:
    """Run an approved action through ``actions.execute``. Called by ``approve`` and the worker.

    From the worker (``job_id`` set) a kill switch or transient error is re-raised so the worker
    defers / backs off the job; called inline, it queues such a job instead.
    """
    approval, claimed = _claim(runtime, tenant_id, approval_id, clock)
    if not claimed:
        return approval
    db = runtime.db
    inline = job_id is None
    try:
        outcome = actions.execute(
            db, tenant_id, _write_action(runtime, approval, job_id), clock=clock
        )
    except KillSwitchEngaged:
        _defer(runtime, approval, "kill_switch", enqueue=inline)
        if not inline:
            raise
        return get(db, tenant_id, approval_id)
    except VendorError as exc:
        failed = ApprovalFailed(
            approval_id=approval.id,
            action=approval.kind,
            idempotency_key=approval.idempotency_key,
            error=str(exc)[:500],
            will_retry=exc.should_retry,
            ticket_id=approval.ticket_id,
            job_id=job_id,
        )
        if exc.should_retry:
            _defer(
                runtime,
                approval,
                "vendor_unavailable",
                error=str(exc)[:2000],
                enqueue=inline,
                delay=max(runtime.queue.backoff(1), exc.retry_after or 0.0),
                event=failed,
            )
            if not inline:
                raise
        else:
            with transaction(db):
                db.conn.execute(
                    "UPDATE approvals SET state = 'failed', lease_until = NULL, error = ?, "
                    "updated_at = ?"
                    " WHERE id = ?",
                    (str(exc)[:2000], now_iso(), approval.id),
                )
                audit.record(db, tenant_id, failed)
        return get(db, tenant_id, approval_id)
    # Any other exception (a crash) leaves the approval 'executing' under its lease: once the
    # lease lapses the next attempt takes over, and actions.execute reconciles before sending.
    with transaction(db):
        now = now_iso()
        db.conn.execute(
            "UPDATE approvals SET state = 'done', result = ?, error = NULL, deferred_reason = NULL,"
            " lease_until = NULL, executed_at = ?, updated_at = ? WHERE id = ?",
            (audit.canonical_json(outcome.result), now, now, approval.id),
        )
        audit.record(
            db,
            tenant_id,
            ApprovalExecuted(
                approval_id=approval.id,
                action=approval.kind,
                idempotency_key=approval.idempotency_key,
                result=outcome.result,
                replayed=outcome.replayed,
                reconciled=outcome.reconciled,
                ticket_id=approval.ticket_id,
                job_id=job_id,
            ),
        )
    return get(db, tenant_id, approval_id)


def execute_job(runtime: Runtime, job) -> None:
    approval = execute(runtime, job.tenant_id, int(job.payload["approval_id"]), job_id=job.id)
    if approval.state == "executing":
        wait = max(1.0, (approval.lease_until or 0) - time.time())
        raise TransientError(
            f"approval {approval.id} is being executed by another attempt", retry_after=wait
        )
