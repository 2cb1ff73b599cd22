"""Durable job queue in the ledger (SQLite or PostgreSQL), between intake and processing.

- ``enqueue`` is idempotent on ``(tenant_id, dedupe_key)``: a webhook and the poller reporting
  the same ticket change produce one job.
- ``claim`` leases one ready job to a worker in a single ``UPDATE … RETURNING``, so many
  threads and processes can claim concurrently without two of them getting the same job: on
  SQLite under ``BEGIN IMMEDIATE``, on PostgreSQL with ``FOR UPDATE SKIP LOCKED`` in the
  subquery that picks the job (a row another claimer is taking is passed over, not waited for).
  A job whose lease expires (its worker died) becomes claimable again.
- ``ack`` / ``fail`` only succeed for the current lease holder; a worker that lost its lease
  cannot overwrite the new holder's outcome.
- ``fail`` retries with exponential backoff and jitter (jitter is injectable for tests); after
  ``max_attempts`` the job goes to the ``dead`` state, where ``retry_dead`` can revive it.
- ``defer`` puts a job back without spending an attempt.
- ``park`` holds a job the tenant's kill switch blocked (``queued`` with ``held_by =
  'kill_switch'``, no attempt spent): it is not claimed again while the switch is on, and
  ``claim`` takes it again as soon as the switch is off, oldest first (it keeps its place in the
  ``run_at`` order). Held work is neither lost nor re-run every few seconds.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from connector import audit
from connector.db import Ledger, skip_locked, transaction
from connector.logs import mask_cards
from connector.tenants import KILL_SWITCH

if TYPE_CHECKING:
    from connector.settings import Config

_JOB_COLUMNS = (
    "id, tenant_id, kind, payload, dedupe_key, state, attempts, max_attempts, run_at,"
    " lease_owner, lease_expires_at, last_error"
)


@dataclass
class Job:
    id: int
    tenant_id: str
    kind: str
    payload: dict[str, Any]
    dedupe_key: str
    state: str
    attempts: int
    max_attempts: int
    run_at: float
    lease_owner: str | None
    lease_expires_at: float | None
    last_error: str | None

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Job:
        return cls(row[0], row[1], row[2], json.loads(row[3]), *row[4:])


# The job's tenant has its kill switch off (the value is stored as JSON: ``true`` when on).
_SWITCH_OFF = (
    "NOT EXISTS (SELECT 1 FROM tenant_settings s WHERE s.tenant_id = jobs.tenant_id"
    " AND s.name = ? AND s.value = 'true')"
)


class Queue:
    def __init__(
        self,
        ledger: Ledger,
        *,
        lease_seconds: float = 120.0,
        max_attempts: int = 8,
        backoff_base: float = 2.0,
        backoff_max: float = 3600.0,
        jitter: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.time,
    ):
        self.ledger = ledger
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.jitter = jitter
        self.clock = clock

    @classmethod
    def from_config(cls, ledger: Ledger, config: Config, **kwargs: Any) -> Queue:
        return cls(
            ledger,
            lease_seconds=config.queue_lease_seconds,
            max_attempts=config.queue_max_attempts,
            backoff_base=config.queue_backoff_base,
            backoff_max=config.queue_backoff_max,
            **kwargs,
        )

    # --- producing ---------------------------------------------------------------------
    def enqueue(
        self,
        tenant_id: str,
        kind: str,
        payload: dict[str, Any],
        dedupe_key: str,
        *,
        delay: float = 0.0,
    ) -> tuple[int, bool]:
        """Add a job unless one with the same dedupe key exists. Returns (job id, created)."""
        db = self.ledger.db
        now = self.clock()
        with transaction(db, shared=True):
            cur = db.conn.execute(
                "INSERT INTO jobs (tenant_id, kind, payload, dedupe_key, max_attempts, run_at,"
                " created_at, updated_at) VALUES (?,?,?,?,?,?,?,?)"
                " ON CONFLICT (tenant_id, dedupe_key) DO NOTHING RETURNING id",
                (
                    tenant_id,
                    kind,
                    json.dumps(payload, sort_keys=True),
                    dedupe_key,
                    self.max_attempts,
                    now + delay,
                    now,
                    now,
                ),
            )
            row = cur.fetchone()
            if row:
                return row[0], True
            existing = db.conn.execute(
                "SELECT id FROM jobs WHERE tenant_id = ? AND dedupe_key = ?",
                (tenant_id, dedupe_key),
            ).fetchone()
            return existing[0], False

    # --- consuming ---------------------------------------------------------------------
    def claim(self, owner: str, *, kinds: tuple[str, ...] | None = None) -> Job | None:
        db = self.ledger.db
        now = self.clock()
        kind_sql = ""
        kind_params: tuple[str, ...] = ()
        if kinds:
            kind_sql = f" AND kind IN ({', '.join('?' * len(kinds))})"
            kind_params = tuple(kinds)
        with transaction(db, shared=True):
            # A job whose worker died after its last allowed attempt is dead, not re-run.
            dead = db.conn.execute(
                "UPDATE jobs SET state = 'dead', lease_owner = NULL, finished_at = ?,"
                " updated_at = ?, last_error = COALESCE(last_error, 'lease expired')"
                " WHERE state = 'running'"
                " AND lease_expires_at <= ? AND attempts >= max_attempts"
                " RETURNING id, tenant_id, kind, attempts, last_error",
                (now, now, now),
            ).fetchall()
            for job_id, tenant_id, kind, attempts, error in dead:
                audit.record(
                    db,
                    tenant_id,
                    audit.JobDeadLettered(
                        job_kind=kind, attempts=attempts, error=error or "", job_id=job_id
                    ),
                )
            row = db.conn.execute(
                f"UPDATE jobs SET state = 'running', lease_owner = ?, lease_expires_at = ?,"
                f" attempts = attempts + 1, updated_at = ?, held_by = NULL"
                f" WHERE id = (SELECT id FROM jobs WHERE"
                f" ((state = 'queued' AND held_by IS NULL AND run_at <= ?)"
                f" OR (state = 'running' AND lease_expires_at <= ?)"
                f" OR (state = 'queued' AND held_by = 'kill_switch' AND {_SWITCH_OFF})){kind_sql}"
                f" ORDER BY run_at, id LIMIT 1{skip_locked(db)}) RETURNING {_JOB_COLUMNS}",
                (owner, now + self.lease_seconds, now, now, now, KILL_SWITCH, *kind_params),
            ).fetchone()
        return Job.from_row(row) if row else None

    def extend_lease(self, job: Job) -> bool:
        db = self.ledger.db
        expires = self.clock() + self.lease_seconds
        with transaction(db, shared=True):
            cur = db.conn.execute(
                "UPDATE jobs SET lease_expires_at = ?"
                " WHERE id = ? AND lease_owner = ? AND state = 'running'",
                (expires, job.id, job.lease_owner),
            )
        if cur.rowcount:
            job.lease_expires_at = expires
        return cur.rowcount > 0

    def ack(self, job: Job) -> bool:
        """Mark done. False when this worker no longer holds the lease."""
        db = self.ledger.db
        now = self.clock()
        with transaction(db, shared=True):
            cur = db.conn.execute(
                "UPDATE jobs SET state = 'done', lease_owner = NULL, lease_expires_at = NULL,"
                " finished_at = ?, updated_at = ?"
                " WHERE id = ? AND lease_owner = ? AND state = 'running'",
                (now, now, job.id, job.lease_owner),
            )
        return cur.rowcount > 0

    def backoff(self, attempts: int) -> float:
        """Delay before the next attempt: base·2^(n-1), capped, scaled by jitter in [0.5, 1.5)."""
        factor: int = 2 ** max(0, attempts - 1)  # int ** int is typed Any (it can be a float)
        delay = min(self.backoff_max, self.backoff_base * factor)
        return delay * (0.5 + self.jitter())

    def fail(
        self, job: Job, error: str, *, retry_after: float | None = None, permanent: bool = False
    ) -> str | None:
        """Record a failure. Returns the new state ('queued' or 'dead'), None if the lease was
        lost. The error text is stored with card numbers masked (an exception may quote ticket
        text)."""
        error = mask_cards(error)
        db = self.ledger.db
        now = self.clock()
        dead = permanent or job.attempts >= job.max_attempts
        with transaction(db, shared=True):
            if dead:
                cur = db.conn.execute(
                    "UPDATE jobs SET state = 'dead', lease_owner = NULL, lease_expires_at = NULL,"
                    " last_error = ?, finished_at = ?, updated_at = ?"
                    " WHERE id = ? AND lease_owner = ? AND state = 'running'",
                    (error[:2000], now, now, job.id, job.lease_owner),
                )
                if cur.rowcount:
                    audit.record(
                        db,
                        job.tenant_id,
                        audit.JobDeadLettered(
                            job_kind=job.kind,
                            attempts=job.attempts,
                            error=error[:500],
                            job_id=job.id,
                        ),
                    )
            else:
                delay = max(self.backoff(job.attempts), retry_after or 0.0)
                cur = db.conn.execute(
                    "UPDATE jobs SET state = 'queued', lease_owner = NULL, lease_expires_at = NULL,"
                    " last_error = ?, run_at = ?, updated_at = ? WHERE id = ? AND lease_owner = ?"
                    " AND state = 'running'",
                    (error[:2000], now + delay, now, job.id, job.lease_owner),
                )
        if not cur.rowcount:
            return None
        return "dead" if dead else "queued"

    def defer(self, job: Job, delay: float, reason: str) -> bool:
        """Put the job back for later without spending an attempt."""
        db = self.ledger.db
        now = self.clock()
        with transaction(db, shared=True):
            cur = db.conn.execute(
                "UPDATE jobs SET state = 'queued',"
                " attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END,"
                " lease_owner = NULL, lease_expires_at = NULL, last_error = ?, run_at = ?,"
                " updated_at = ?"
                " WHERE id = ? AND lease_owner = ? AND state = 'running'",
                (reason, now + delay, now, job.id, job.lease_owner),
            )
        return cur.rowcount > 0

    def park(self, job: Job, reason: str) -> bool:
        """Hold a job the kill switch blocked until the switch is off (no attempt spent)."""
        reason = mask_cards(reason)
        db = self.ledger.db
        now = self.clock()
        with transaction(db, shared=True):
            cur = db.conn.execute(
                "UPDATE jobs SET state = 'queued', held_by = 'kill_switch',"
                " attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END,"
                " lease_owner = NULL, lease_expires_at = NULL, last_error = ?, updated_at = ?"
                " WHERE id = ? AND lease_owner = ? AND state = 'running'",
                (reason, now, job.id, job.lease_owner),
            )
        return cur.rowcount > 0

    def parked(self, tenant_id: str | None = None) -> int:
        where, params = ("AND tenant_id = ?", (tenant_id,)) if tenant_id else ("", ())
        row = self.ledger.db.conn.execute(
            f"SELECT COUNT(*) FROM jobs WHERE state = 'queued' AND held_by IS NOT NULL {where}",
            params,
        ).fetchone()
        return int(row[0])

    # --- operating ---------------------------------------------------------------------
    def status(self, tenant_id: str | None = None) -> dict[str, Any]:
        db = self.ledger.db
        where, params = ("WHERE tenant_id = ?", (tenant_id,)) if tenant_id else ("", ())
        counts = {s: 0 for s in ("queued", "running", "done", "dead")}
        for state, n in db.conn.execute(
            f"SELECT state, COUNT(*) FROM jobs {where} GROUP BY state", params
        ):
            counts[state] = n
        now = self.clock()
        ready = db.conn.execute(
            "SELECT COUNT(*), MIN(run_at) FROM jobs WHERE state = 'queued' AND held_by IS NULL"
            + (" AND tenant_id = ?" if tenant_id else ""),
            params,
        ).fetchone()
        dead = [
            {"id": r[0], "tenant_id": r[1], "kind": r[2], "attempts": r[3], "error": r[4]}
            for r in db.conn.execute(
                "SELECT id, tenant_id, kind, attempts, last_error FROM jobs WHERE state = 'dead'"
                + (" AND tenant_id = ?" if tenant_id else "")
                + " ORDER BY id DESC LIMIT 20",
                params,
            )
        ]
        oldest = ready[1]
        return {
            "counts": counts,
            "depth": counts["queued"] + counts["running"],
            "held": self.parked(tenant_id),
            "oldest_queued_age_s": round(max(0.0, now - oldest), 3) if oldest else 0.0,
            "dead_recent": dead,
        }

    def retry_dead(self, tenant_id: str | None = None, job_ids: list[int] | None = None) -> int:
        db = self.ledger.db
        now = self.clock()
        where: list[str] = ["state = 'dead'"]
        params: list[float | str] = [now, now]
        if tenant_id:
            where.append("tenant_id = ?")
            params.append(tenant_id)
        if job_ids:
            where.append(f"id IN ({', '.join('?' * len(job_ids))})")
            params.extend(job_ids)
        with transaction(db):
            cur = db.conn.execute(
                "UPDATE jobs SET state = 'queued', attempts = 0, run_at = ?, updated_at = ?,"
                " finished_at = NULL WHERE " + " AND ".join(where),
                params,
            )
        return cur.rowcount
