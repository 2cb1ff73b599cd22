"""The one way a ticket change enters the queue, shared by the webhook and the poller.

Job contract with the pipeline: kind ``zendesk.ticket``, payload
``{"ticket_id": int, "updated_at": str, "source": "webhook" | "poll"}``. The dedupe key is the
ticket id plus its normalised ``updated_at`` (the queue makes it unique per tenant), so a webhook
and the poller reporting the same change produce one job, and so do duplicate deliveries. Backlogs
go into ``zendesk.batch`` jobs (``batch.py``) whose ticket versions carry the same keys, so a
webhook for a version already in a batch is a duplicate too.
"""

from __future__ import annotations

from connector.db import lock, transaction
from connector.queue import Queue
from connector.zendesk.service import normalize_updated_at

JOB_KIND = "zendesk.ticket"
SOURCES = ("webhook", "poll")
MAX_TICKET_ID = 2**63 - 1  # SQLite's INTEGER; Zendesk ids are far below it


def dedupe_key(ticket_id: int, updated_at: str) -> str:
    return f"{JOB_KIND}:{int(ticket_id)}:{normalize_updated_at(updated_at)}"


def batch_holding(db, tenant_id: str, key: str) -> int | None:
    """The ``zendesk.batch`` job that holds this ticket version, if any.

    See connector/zendesk/batch.py.
    """
    row = db.conn.execute(
        "SELECT batch_job_id FROM zendesk_batch_tickets WHERE tenant_id = ? AND dedupe_key = ?",
        (tenant_id, key),
    ).fetchone()
    return row[0] if row else None


def enqueue_ticket(
    queue: Queue,
    tenant_id: str,
    ticket_id: int,
    updated_at: str,
    source: str,
    *,
    in_batch_ok: bool = False,
) -> tuple[int, bool]:
    """Enqueue one ticket change; returns (job id, created). Duplicate changes return the first job;
    a change already in a poller batch returns that batch's job id, not created (unless
    ``in_batch_ok``: the batch hands a failed ticket over to its own job)."""
    if source not in SOURCES:
        raise ValueError(f"unknown intake source {source!r}")
    if isinstance(ticket_id, bool) or not 0 < int(ticket_id) <= MAX_TICKET_ID:
        # The webhook validates this at the door (400); a job with an id SQLite cannot hold
        # would fail on every attempt, so nothing else may enqueue one either.
        raise ValueError(f"ticket id {ticket_id!r} is not a positive 64-bit integer")
    version = normalize_updated_at(updated_at)
    key = dedupe_key(ticket_id, version)
    db = queue.ledger.db
    with transaction(db, shared=True):
        # "Not in a batch yet, so enqueue" must not interleave with a batch being filled for the
        # same tenant (SQLite: the write lock; PostgreSQL: the tenant's intake lock).
        lock(db, intake_lock(tenant_id))
        if not in_batch_ok:
            batch_id = batch_holding(db, tenant_id, key)
            if batch_id is not None:
                return batch_id, False
        payload = {"ticket_id": int(ticket_id), "updated_at": version, "source": source}
        return queue.enqueue(tenant_id, JOB_KIND, payload, key)


def intake_lock(tenant_id: str) -> str:
    """The named lock every enqueue of a tenant's ticket versions holds (single or batched)."""
    return f"intake:{tenant_id}"
