"""The Zendesk job handlers: ``zendesk.ticket`` hands one ticket change to the decision pipeline;
``zendesk.batch`` reads up to 100 changed tickets in one request (connector/zendesk/batch.py)
and runs the pipeline on each.

Before any Zendesk call, a job for a ticket version Deskguard itself produced (its own note or
reply coming back through the trigger) is acknowledged and audited as an echo: zero API calls.
Everything else goes to ``connector.pipeline.process_ticket``, which reads the ticket through
the adapter and applies ``connector.zendesk.loop_safety.needs_processing``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from connector import actions, audit, logs
from connector.db import transaction
from connector.errors import KillSwitchEngaged, PermanentError
from connector.pipeline.engine import process_ticket
from connector.queue import Job
from connector.zendesk import batch
from connector.zendesk.events import OwnEchoSkipped
from connector.zendesk.service import is_own_update

if TYPE_CHECKING:
    from connector.runtime import Runtime

LOG = logs.get("zendesk.handler")
BATCH_LOG = logs.get("zendesk.batch")


# Zendesk ticket ids are positive 64-bit integers (they are stored as SQLite INTEGERs too).
MAX_TICKET_ID = 2**63 - 1
COMMENT_WRITES = ("zendesk.internal_note", "zendesk.public_reply")


def ticket_id_of(payload: Any) -> int:
    """The job's ticket id; a payload without a valid one fails for good (nothing to retry)."""
    raw = payload.get("ticket_id") if isinstance(payload, dict) else None
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise PermanentError(f"job payload has no valid ticket_id: {raw!r}")
    text = str(raw)
    if not (text.isascii() and text.isdecimal()) or not 0 < int(text) <= MAX_TICKET_ID:
        raise PermanentError(
            f"job payload has no valid ticket_id: {text[:40]!r}", vendor="deskguard"
        )
    return int(text)


def handle_ticket(runtime: Runtime, job: Job) -> None:
    ticket_id = ticket_id_of(job.payload)
    updated_at = job.payload.get("updated_at")
    if updated_at is not None and not isinstance(updated_at, str):
        raise PermanentError(f"job payload updated_at is not a string: {updated_at!r}")
    db = runtime.db
    if updated_at and is_own_update(db, job.tenant_id, ticket_id, updated_at):
        with transaction(db):
            audit.record(
                db,
                job.tenant_id,
                OwnEchoSkipped(
                    updated_at=updated_at,
                    source=job.payload.get("source", ""),
                    ticket_id=ticket_id,
                    job_id=job.id,
                ),
            )
        logs.log(LOG, logging.INFO, "zendesk.own_echo_skipped", api_calls=0)
        return
    desk = runtime.services(job.tenant_id).require_desk()
    before = getattr(desk, "thread_api_calls", 0)
    result = process_ticket(runtime, job.tenant_id, ticket_id, job=job)
    logs.log(
        LOG,
        logging.INFO,
        "zendesk.ticket_processed",
        outcome=getattr(result, "outcome", None),
        reason=getattr(result, "reason", None),
        api_calls=getattr(desk, "thread_api_calls", 0) - before,
    )


def handle_batch(runtime: Runtime, job: Job) -> None:
    db = runtime.db
    tenant_id = job.tenant_id
    members = batch.pending_members(db, tenant_id, job.id)
    source = job.payload.get("source", "poll")
    to_read: list[batch.Member] = []
    for m in members:
        if is_own_update(db, tenant_id, m.ticket_id, m.updated_at):
            with transaction(db):
                audit.record(
                    db,
                    tenant_id,
                    OwnEchoSkipped(
                        updated_at=m.updated_at, source=source, ticket_id=m.ticket_id, job_id=job.id
                    ),
                )
            batch.mark_done(db, tenant_id, m, "own_echo")
        else:
            to_read.append(m)
    if not to_read:
        return
    desk = runtime.services(tenant_id).require_desk()
    before = getattr(desk, "thread_api_calls", 0)
    tickets = {t.id: t for t in desk.get_tickets([m.ticket_id for m in to_read])}
    read_calls = getattr(desk, "thread_api_calls", 0) - before
    processed = 0
    for m in to_read:
        ticket = tickets.get(m.ticket_id)
        if ticket is None:  # deleted (or merged away) since the export saw it
            batch.mark_done(db, tenant_id, m, "missing")
            continue
        try:
            result = process_ticket(runtime, tenant_id, m.ticket_id, job=job, ticket=ticket)
        except KillSwitchEngaged:
            raise  # the worker defers the whole batch; what is done stays done
        except Exception as exc:
            if getattr(exc, "should_retry", False):
                raise  # 429/5xx/timeout: the batch is retried with backoff and resumes here
            batch.hand_off(runtime, job, m, exc)
        else:
            batch.mark_done(db, tenant_id, m, str(getattr(result, "outcome", "done")))
        processed += 1
        if not runtime.queue.extend_lease(job):
            logs.log(BATCH_LOG, logging.WARNING, "zendesk.batch_lease_lost", processed=processed)
            return
    logs.log(
        BATCH_LOG,
        logging.INFO,
        "zendesk.batch_processed",
        tickets=len(members),
        processed=processed,
        read_calls=read_calls,
        api_calls=getattr(desk, "thread_api_calls", 0) - before,
    )


def comment_lookup(
    runtime: Runtime, action: actions.Interrupted
) -> Callable[[str], dict[str, Any] | None] | None:
    """How the reconciler finds an interrupted note or reply: our marker in the ticket's comments
    (the same check the write path's own reconcile makes)."""
    if action.kind not in COMMENT_WRITES or not action.ticket_id:
        return None
    desk = runtime.services(action.tenant_id).require_desk()
    ticket_id = int(action.ticket_id)

    def lookup(key: str) -> dict[str, Any] | None:
        found = desk.find_comment_with_marker(ticket_id, key)
        return {"comment_id": found.id, "reconciled": True} if found is not None else None

    return lookup
