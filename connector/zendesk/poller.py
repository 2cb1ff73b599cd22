"""Polling Zendesk's cursor ticket export (docs/vendors/zendesk.md), one APScheduler job per tenant.

Each poll walks pages from the stored ``after_cursor`` (the first ever poll starts at
``now - DESKGUARD_ZENDESK_POLL_LOOKBACK_SECONDS`` by ``start_time``), enqueues every changed
ticket with the same dedupe key the webhook uses, and stores the new cursor **in the same
transaction** as the enqueues: a crash between pages re-reads at most one page, whose tickets
deduplicate. It stops at ``end_of_stream`` (caught up; the cursor is kept for the next poll) or
when the export's own limit would be exceeded: at most
``DESKGUARD_ZENDESK_EXPORT_REQUESTS_PER_MINUTE`` requests in any 60 s, counted in the ledger so a
restart does not reset the window.

Backlogs: when a page brings at least ``DESKGUARD_ZENDESK_BATCH_THRESHOLD`` changed tickets, they
go into ``zendesk.batch`` jobs of up to 100 (``batch.py``: one read request per batch instead of
one per ticket), in the same transaction as the cursor.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from connector import audit, logs
from connector.db import transaction
from connector.errors import VendorError
from connector.tenants import list_tenants
from connector.zendesk.batch import enqueue_batches
from connector.zendesk.events import PollCursorReset
from connector.zendesk.intake import enqueue_ticket
from connector.zendesk.service import (
    OWN_UPDATES_KEEP_SECONDS,
    is_own_update,
    prune,
    zendesk_configured,
)

if TYPE_CHECKING:
    from connector.runtime import Runtime

LOG = logs.get("zendesk.poller")
SKIP_STATUSES = ("deleted", "closed")  # closed tickets cannot be updated; deleted ones are gone


@dataclass
class PollResult:
    tenant_id: str
    requests: int = 0
    tickets_seen: int = 0
    enqueued: int = 0  # ticket versions queued, one job each or in batches
    batches: int = 0  # zendesk.batch jobs among job_ids
    duplicates: int = 0
    skipped: int = 0
    caught_up: bool = False
    rate_limited: bool = False  # stopped because the export's per-minute allowance was used up
    cursor: str | None = None
    error: str | None = None
    job_ids: list[int] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _load(db, tenant_id: str, start_time: int) -> dict:
    with transaction(db):
        db.conn.execute(
            "INSERT INTO zendesk_poll_state (tenant_id, start_time) VALUES (?, ?)"
            " ON CONFLICT (tenant_id) DO NOTHING",
            (tenant_id, start_time),
        )
        row = db.conn.execute(
            "SELECT cursor, start_time, recent_calls, tickets_enqueued FROM zendesk_poll_state"
            " WHERE tenant_id = ?",
            (tenant_id,),
        ).fetchone()
    return {
        "cursor": row[0],
        "start_time": row[1],
        "recent_calls": json.loads(row[2] or "[]"),
        "tickets_enqueued": row[3],
    }


def poll_state(db, tenant_id: str) -> dict | None:
    row = db.conn.execute(
        "SELECT cursor, start_time, recent_calls, last_poll_at, caught_up, tickets_enqueued,"
        " last_error FROM zendesk_poll_state WHERE tenant_id = ?",
        (tenant_id,),
    ).fetchone()
    if row is None:
        return None
    keys = (
        "cursor",
        "start_time",
        "recent_calls",
        "last_poll_at",
        "caught_up",
        "tickets_enqueued",
        "last_error",
    )
    out = dict(zip(keys, row, strict=True))
    out["recent_calls"] = json.loads(out["recent_calls"] or "[]")
    out["caught_up"] = bool(out["caught_up"])
    return out


def reset_cursor(runtime: Runtime, tenant_id: str, *, start_time: int, actor: str) -> None:
    """Forget the cursor: the next poll starts again at ``start_time``.

    Tickets read again are deduplicated.
    """
    db = runtime.db
    with transaction(db):
        db.conn.execute(
            "INSERT INTO zendesk_poll_state (tenant_id, start_time) VALUES (?, ?)"
            " ON CONFLICT (tenant_id)"
            " DO UPDATE SET cursor = NULL, start_time = excluded.start_time, caught_up = 0",
            (tenant_id, int(start_time)),
        )
        audit.record(db, tenant_id, PollCursorReset(start_time=int(start_time), actor=actor))


def poll_tenant(
    runtime: Runtime,
    tenant_id: str,
    *,
    max_requests: int | None = None,
    per_page: int = 1000,
    clock: Callable[[], float] = time.time,
) -> PollResult:
    """Walk the export from the stored cursor until caught up, rate-limited or ``max_requests``."""
    config = runtime.config
    db = runtime.db
    per_minute = int(config.get("zendesk_export_requests_per_minute", 10))
    batch_threshold = int(config.get("zendesk_batch_threshold", 10))
    lookback = int(config.get("zendesk_poll_lookback_seconds", 3600))
    # Zendesk wants start_time at least a minute in the past (docs/vendors/zendesk.md).
    state = _load(db, tenant_id, int(clock()) - max(lookback, 60))
    desk = runtime.services(tenant_id).require_desk()
    result = PollResult(tenant_id, cursor=state["cursor"])
    recent = [t for t in state["recent_calls"] if t > clock() - 60]
    while max_requests is None or result.requests < max_requests:
        recent = [t for t in recent if t > clock() - 60]
        if len(recent) >= per_minute:
            result.rate_limited = True
            break
        recent.append(round(clock(), 3))
        result.requests += 1
        try:
            if result.cursor:
                page = desk.export_page(cursor=result.cursor, per_page=per_page)
            else:
                page = desk.export_page(start_time=int(state["start_time"]), per_page=per_page)
        except VendorError as exc:
            result.error = str(exc)
            _save(db, tenant_id, result, recent, clock(), enqueued=0)
            logs.log(LOG, logging.WARNING, "zendesk.poll_failed", tenant=tenant_id, error=str(exc))
            if not exc.should_retry:
                raise
            return result
        enqueued = 0
        with transaction(db):
            changed: list[tuple[int, str]] = []
            for ticket in page.tickets:
                result.tickets_seen += 1
                version = ticket.updated_at.isoformat() if ticket.updated_at else None
                if (
                    ticket.status in SKIP_STATUSES
                    or version is None
                    or is_own_update(db, tenant_id, ticket.id, version)
                ):
                    result.skipped += 1
                    continue
                changed.append((ticket.id, version))
            if batch_threshold and len(changed) >= batch_threshold:
                batch_ids, duplicates = enqueue_batches(runtime, tenant_id, changed, source="poll")
                enqueued += len(changed) - duplicates
                result.duplicates += duplicates
                result.batches += len(batch_ids)
                result.job_ids.extend(batch_ids)
                changed = []
            for ticket_id, version in changed:
                job_id, created = enqueue_ticket(
                    runtime.queue, tenant_id, ticket_id, version, "poll"
                )
                if created:
                    enqueued += 1
                    result.job_ids.append(job_id)
                else:
                    result.duplicates += 1
            result.cursor = page.after_cursor or result.cursor
            result.caught_up = page.end_of_stream
            result.enqueued += enqueued
            _save(db, tenant_id, result, recent, clock(), enqueued=enqueued)
        if page.end_of_stream:
            break
    logs.log(
        LOG,
        logging.INFO,
        "zendesk.poll_done",
        tenant=tenant_id,
        requests=result.requests,
        enqueued=result.enqueued,
        caught_up=result.caught_up,
        rate_limited=result.rate_limited,
    )
    return result


def _save(
    db, tenant_id: str, result: PollResult, recent: list[float], now: float, *, enqueued: int
) -> None:
    with transaction(db):
        db.conn.execute(
            "UPDATE zendesk_poll_state SET cursor = ?, recent_calls = ?, last_poll_at = ?,"
            " caught_up = ?, tickets_enqueued = tickets_enqueued + ?, last_error = ?"
            " WHERE tenant_id = ?",
            (
                result.cursor,
                json.dumps(recent),
                now,
                int(result.caught_up),
                enqueued,
                result.error,
                tenant_id,
            ),
        )


# --- scheduling ----------------------------------------------------------------------------------
SYNC_JOB_ID = "zendesk.poll.sync"
PRUNE_JOB_ID = "zendesk.prune"


def poll_job_id(tenant_id: str) -> str:
    return f"zendesk.poll.{tenant_id}"


def run_scheduled_poll(runtime: Runtime, tenant_id: str) -> None:
    try:
        poll_tenant(runtime, tenant_id)
    except Exception:  # one tenant's failure must not stop the scheduler; logged with context
        LOG.exception("zendesk.poll_error", extra={"fields": {"tenant": tenant_id}})


def sync_poll_jobs(scheduler, runtime: Runtime) -> list[str]:
    """One interval job per tenant with Zendesk configured.

    New tenants get one, removed ones lose it.
    """
    interval = float(runtime.config.get("zendesk_poll_interval_seconds", 60))
    wanted = {poll_job_id(t): t for t in list_tenants(runtime.db) if zendesk_configured(runtime, t)}
    for job in scheduler.get_jobs():
        if (
            job.id.startswith("zendesk.poll.")
            and job.id not in (SYNC_JOB_ID,)
            and job.id not in wanted
        ):
            job.remove()
    for job_id, tenant_id in wanted.items():
        if scheduler.get_job(job_id) is None:
            scheduler.add_job(
                run_scheduled_poll,
                "interval",
                seconds=interval,
                args=[runtime, tenant_id],
                id=job_id,
                replace_existing=True,
                next_run_time=_now(),
            )
    return sorted(wanted.values())


def run_prune(runtime: Runtime) -> None:
    tolerance = float(runtime.config.get("zendesk_webhook_tolerance_seconds", 300))
    now = time.time()
    prune(
        runtime.db,
        webhook_seen_before=now - 2 * tolerance,
        own_updates_before=now - OWN_UPDATES_KEEP_SECONDS,
    )


def register_schedules(scheduler, runtime: Runtime) -> None:
    scheduler.add_job(
        run_prune, "interval", minutes=10, args=[runtime], id=PRUNE_JOB_ID, replace_existing=True
    )
    if not runtime.config.get("zendesk_poll", True):
        return
    scheduler.add_job(
        sync_poll_jobs,
        "interval",
        minutes=5,
        args=[scheduler, runtime],
        id=SYNC_JOB_ID,
        replace_existing=True,
        next_run_time=_now(),
    )


def _now():
    from datetime import UTC, datetime

    return datetime.now(UTC)
