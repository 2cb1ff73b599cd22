"""Backlogs in batches: the ``zendesk.batch`` job reads up to 100 changed tickets in one request.

When one page of the incremental export brings many changed tickets (a first poll, a sidecar that
was down, a burst), one ``zendesk.ticket`` job per ticket would cost one read request per ticket.
Instead the poller enqueues ``zendesk.batch`` jobs of ≤ 100 ticket versions each
(``DESKGUARD_ZENDESK_BATCH_THRESHOLD``), and the handler:

1. skips the versions Deskguard itself produced (its own echoes, no request);
2. reads the others with ONE request:
   ``GET /tickets/show_many.json?ids=…&include=users,last_audits`` (the requester and each
   ticket's latest audit, whose comment is what loop safety and the classifier need; a ticket
   whose latest audit has no comment costs one more request);
3. runs the pipeline per ticket with the preloaded ticket
   (``connector.pipeline.engine.process_ticket(..., ticket=...)``; the handler is
   ``handle_batch`` in connector/zendesk/handlers.py). Writes stay per ticket, through
   ``connector.actions`` (idempotent); in shadow mode there are none.

Deduplication with the webhook: each ticket version in a batch is a row of
``zendesk_batch_tickets`` keyed by the same dedupe key a ``zendesk.ticket`` job would have
(``intake.dedupe_key``). The poller leaves out versions already queued, and
``intake.enqueue_ticket`` treats a version already in a batch as a duplicate.

Failure handling, per ticket version: a processed version is marked done, so a retried batch
continues where it stopped. The kill switch defers the whole batch (the worker's usual rule; done
versions stay done). A retryable vendor error (429, 5xx, timeout) fails the batch for the worker's
backoff, honouring ``Retry-After``. Anything else (a permanent Zendesk error, a bug) hands that one
version to its own ``zendesk.ticket`` job, which then has its own attempts and dead-letter entry,
and the batch goes on. The batch extends its lease after every ticket, and stops if it lost it.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from connector import audit, logs
from connector.db import lock, transaction
from connector.queue import Job
from connector.zendesk.events import BatchTicketHandedOff
from connector.zendesk.intake import (
    JOB_KIND,
    batch_holding,
    dedupe_key,
    enqueue_ticket,
    intake_lock,
)
from connector.zendesk.service import normalize_updated_at

if TYPE_CHECKING:
    from connector.runtime import Runtime

LOG = logs.get("zendesk.batch")
BATCH_KIND = "zendesk.batch"
BATCH_SIZE = 100  # show_many's limit (and update_many's)


@dataclass(frozen=True)
class Member:
    ticket_id: int
    updated_at: str
    dedupe_key: str


def queued_elsewhere(db, tenant_id: str, key: str) -> bool:
    """A ``zendesk.ticket`` job or a batch already holds this ticket version."""
    return (
        db.conn.execute(
            "SELECT 1 FROM jobs WHERE tenant_id = ? AND dedupe_key = ?", (tenant_id, key)
        ).fetchone()
        is not None
        or batch_holding(db, tenant_id, key) is not None
    )


def enqueue_batches(
    runtime: Runtime, tenant_id: str, versions: Sequence[tuple[int, str]], *, source: str = "poll"
) -> tuple[list[int], int]:
    """Enqueue ``zendesk.batch`` jobs (≤ 100 ticket versions each) for ``(ticket id, updated_at)``
    pairs, leaving out versions already queued (as a single job or in a batch) and repeats.

    Call it inside the caller's transaction to make it atomic with, e.g., the poller's cursor.
    Returns (new batch job ids, versions left out as duplicates).
    """
    db = runtime.db
    members: list[Member] = []
    seen: set[str] = set()
    duplicates = 0
    with transaction(db):
        lock(db, intake_lock(tenant_id))  # see intake.enqueue_ticket
        for ticket_id, updated_at in versions:
            version = normalize_updated_at(updated_at)
            key = dedupe_key(ticket_id, version)
            if key in seen or queued_elsewhere(db, tenant_id, key):
                duplicates += 1
                continue
            seen.add(key)
            members.append(Member(int(ticket_id), version, key))
        job_ids = []
        for start in range(0, len(members), BATCH_SIZE):
            chunk = members[start : start + BATCH_SIZE]
            digest = hashlib.sha256("\n".join(m.dedupe_key for m in chunk).encode()).hexdigest()[
                :24
            ]
            payload = {
                "tickets": [{"ticket_id": m.ticket_id, "updated_at": m.updated_at} for m in chunk],
                "source": source,
            }
            job_id, created = runtime.queue.enqueue(
                tenant_id, BATCH_KIND, payload, f"{BATCH_KIND}:{digest}"
            )
            if not created:  # the same chunk was enqueued before: its rows exist (left out above)
                continue
            db.conn.executemany(
                "INSERT INTO zendesk_batch_tickets"
                " (tenant_id, dedupe_key, batch_job_id, ticket_id, updated_at, position)"
                " VALUES (?,?,?,?,?,?)",
                [
                    (tenant_id, m.dedupe_key, job_id, m.ticket_id, m.updated_at, i)
                    for i, m in enumerate(chunk)
                ],
            )
            job_ids.append(job_id)
    return job_ids, duplicates


def pending_members(db, tenant_id: str, job_id: int) -> list[Member]:
    rows = db.conn.execute(
        "SELECT ticket_id, updated_at, dedupe_key FROM zendesk_batch_tickets WHERE tenant_id = ?"
        " AND batch_job_id = ? AND done_at IS NULL ORDER BY position",
        (tenant_id, job_id),
    )
    return [Member(*row) for row in rows]


def batch_outcomes(db, tenant_id: str, job_id: int) -> dict[int, str | None]:
    """Ticket id → outcome of each version in a batch (None while pending)."""
    rows = db.conn.execute(
        "SELECT ticket_id, outcome FROM zendesk_batch_tickets WHERE tenant_id = ?"
        " AND batch_job_id = ? ORDER BY position",
        (tenant_id, job_id),
    )
    return dict(rows.fetchall())


def mark_done(
    db, tenant_id: str, member: Member, outcome: str, handed_off: int | None = None
) -> None:
    with transaction(db):
        db.conn.execute(
            "UPDATE zendesk_batch_tickets SET done_at = ?, outcome = ?, handed_off_job_id = ?"
            " WHERE tenant_id = ? AND dedupe_key = ?",
            (time.time(), outcome, handed_off, tenant_id, member.dedupe_key),
        )


def hand_off(runtime: Runtime, job: Job, member: Member, exc: Exception) -> None:
    """Give one ticket version its own ``zendesk.ticket`` job.

    The job has its own attempts and, if it keeps failing, its own dead-letter entry.
    """
    db = runtime.db
    error = f"{type(exc).__name__}: {exc}"[:500]
    with transaction(db):
        single_id, _ = enqueue_ticket(
            runtime.queue,
            job.tenant_id,
            member.ticket_id,
            member.updated_at,
            job.payload.get("source", "poll"),
            in_batch_ok=True,
        )
        audit.record(
            db,
            job.tenant_id,
            BatchTicketHandedOff(
                updated_at=member.updated_at,
                error=error,
                single_job_id=single_id,
                ticket_id=member.ticket_id,
                job_id=job.id,
            ),
        )
        mark_done(db, job.tenant_id, member, "handed_off", single_id)
    logs.log(
        LOG,
        logging.WARNING,
        "zendesk.batch_ticket_handed_off",
        ticket=member.ticket_id,
        error=error,
    )


__all__ = [
    "BATCH_KIND",
    "BATCH_SIZE",
    "JOB_KIND",
    "batch_outcomes",
    "enqueue_batches",
]
