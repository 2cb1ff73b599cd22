"""Replays started from the console: a row per request and a background job that runs
``connector.pipeline.replay.replay`` (the same code as ``deskguard replay``) over the last N days
and stores its per-category report for the console to show.

Job kind ``console.replay``, payload ``{"replay_id"}`` (``connector/jobs.py``). A replay writes
nothing but its own row and the ``replay.completed`` audit event, so it runs while the kill switch
is on. Zendesk being unreachable retries the job with backoff (the row says so); a replay that
cannot run at all (no Zendesk connection) is marked failed with the reason.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from connector import audit, logs
from connector.audit import now_iso
from connector.console.events import ReplayRequested
from connector.db import transaction
from connector.errors import BadRequest, DeskguardError, NotFound, TransientError
from connector.pipeline import replay as pipeline_replay

if TYPE_CHECKING:
    from connector.queue import Job
    from connector.runtime import Runtime

LOG = logs.get("console.replay")
JOB_KIND = "console.replay"
MAX_DAYS = 90
PROGRESS_EVERY = 10  # tickets between progress writes
_COLUMNS = (
    "id",
    "tenant_id",
    "days",
    "since",
    "requested_by",
    "state",
    "job_id",
    "tickets_seen",
    "report",
    "error",
    "created_at",
    "finished_at",
)


def parse_days(text: Any) -> int:
    try:
        days = int(str(text).strip())
    except ValueError:
        raise BadRequest(f"days must be a whole number from 1 to {MAX_DAYS}") from None
    if not 1 <= days <= MAX_DAYS:
        raise BadRequest(f"days must be a whole number from 1 to {MAX_DAYS}")
    return days


def request_replay(runtime: Runtime, tenant_id: str, days: int, *, requested_by: str) -> int:
    """Record the request and enqueue its job; returns the replay id."""
    since = (datetime.now(UTC) - timedelta(days=days)).replace(microsecond=0).isoformat()
    db = runtime.db
    with transaction(db):
        replay_id = int(
            db.conn.execute(
                "INSERT INTO console_replays (tenant_id, days, since, requested_by, created_at)"
                " VALUES (?, ?, ?, ?, ?) RETURNING id",
                (tenant_id, days, since, requested_by, now_iso()),
            ).fetchone()[0]
        )
        audit.record(
            db,
            tenant_id,
            ReplayRequested(replay_id=replay_id, days=days, requested_by=requested_by),
        )
    job_id, _ = runtime.queue.enqueue(
        tenant_id, JOB_KIND, {"replay_id": replay_id}, f"console-replay:{replay_id}"
    )
    _update(runtime, replay_id, job_id=job_id)
    return replay_id


def get(runtime: Runtime, tenant_id: str, replay_id: int) -> dict[str, Any]:
    row = runtime.db.conn.execute(
        f"SELECT {', '.join(_COLUMNS)} FROM console_replays WHERE id = ? AND tenant_id = ?",
        (replay_id, tenant_id),
    ).fetchone()
    if row is None:
        raise NotFound(f"no replay {replay_id}")
    data = dict(zip(_COLUMNS, row, strict=True))
    data["report"] = json.loads(data["report"]) if data["report"] else None
    return data


def recent(runtime: Runtime, tenant_id: str, limit: int = 5) -> list[dict[str, Any]]:
    ids = [
        r[0]
        for r in runtime.db.conn.execute(
            "SELECT id FROM console_replays WHERE tenant_id = ? ORDER BY id DESC LIMIT ?",
            (tenant_id, limit),
        )
    ]
    return [get(runtime, tenant_id, i) for i in ids]


def _update(runtime: Runtime, replay_id: int, **fields: Any) -> None:
    sets = ", ".join(f"{k} = ?" for k in fields)
    with transaction(runtime.db):
        runtime.db.conn.execute(
            f"UPDATE console_replays SET {sets} WHERE id = ?", (*fields.values(), replay_id)
        )


def handle_replay(runtime: Runtime, job: Job) -> None:
    """The ``console.replay`` job."""
    replay_id = int(job.payload["replay_id"])
    row = get(runtime, job.tenant_id, replay_id)
    if row["state"] in ("done", "failed"):
        return
    _update(runtime, replay_id, state="running", tickets_seen=0, error=None)
    seen = 0

    def progress(_ticket: Any) -> None:
        nonlocal seen
        seen += 1
        if seen % PROGRESS_EVERY == 0:
            _update(runtime, replay_id, tickets_seen=seen)

    try:
        report = pipeline_replay.replay(runtime, job.tenant_id, row["since"], on_ticket=progress)
    except TransientError as exc:
        _update(runtime, replay_id, state="queued", error=f"retrying: {exc.message}")
        raise
    except DeskguardError as exc:
        _update(runtime, replay_id, state="failed", error=exc.message, finished_at=now_iso())
        logs.log(LOG, logging.WARNING, "console.replay_failed", tenant=job.tenant_id, error=exc)
        return
    _update(
        runtime,
        replay_id,
        state="done",
        tickets_seen=int(report["tickets"]),
        report=json.dumps(report, sort_keys=True),
        finished_at=now_iso(),
    )
