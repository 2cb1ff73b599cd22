"""Append-only, hash-chained audit log of typed events.

Every thing that happens is one ``Event`` dataclass (one class per kind, registered by
``@event``). ``record(db, tenant_id, ev)`` appends it inside the caller's transaction, so the
audit row commits or rolls back together with the state change it describes.

Chain: ``hash = sha256(prev_hash + canonical_json(header))`` where the header holds the row's
id, tenant, time, kind, ticket, job and ``data_digest = sha256(canonical_json(event))``.
Hashing the digest rather than the data lets a privacy erasure replace ``data`` with a
tombstone (``redact``) while ``verify`` still passes; every other change breaks the chain, and
SQLite triggers reject UPDATE/DELETE outright (see migrations/m001_foundation.py).
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, TextIO, TypeVar

import sqlite_utils

from connector.db import transaction
from connector.domain import to_dict

GENESIS = "0" * 64
EVENT_TYPES: dict[str, type[Event]] = {}


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class Event:
    """Base class; subclasses set ``kind`` and their own fields."""

    kind: ClassVar[str] = ""
    ticket_id: int | None = field(default=None, kw_only=True)
    job_id: int | None = field(default=None, kw_only=True)

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = to_dict(self)
        data.pop("ticket_id", None)
        data.pop("job_id", None)
        return data


_E = TypeVar("_E", bound=Event)


def event(cls: type[_E]) -> type[_E]:
    """Register an event class by its ``kind`` (class decorator)."""
    if not cls.kind:
        raise TypeError(f"{cls.__name__} needs a kind")
    if cls.kind in EVENT_TYPES and EVENT_TYPES[cls.kind] is not cls:
        raise TypeError(f"event kind {cls.kind!r} registered twice")
    EVENT_TYPES[cls.kind] = cls
    return cls


# --- core events; areas define their own next to the code that emits them ---------------
@event
@dataclass(frozen=True)
class TenantConfigured(Event):
    kind: ClassVar[str] = "tenant.configured"
    tenant: str
    source: str


@event
@dataclass(frozen=True)
class SettingChanged(Event):
    kind: ClassVar[str] = "setting.changed"
    name: str
    old: Any
    new: Any
    actor: str
    reason: str = ""


@event
@dataclass(frozen=True)
class SecretStored(Event):
    kind: ClassVar[str] = "secret.stored"
    name: str


@event
@dataclass(frozen=True)
class SecretsRotated(Event):
    kind: ClassVar[str] = "secrets.rotated"
    count: int


@event
@dataclass(frozen=True)
class JobDeadLettered(Event):
    kind: ClassVar[str] = "job.dead_lettered"
    job_kind: str
    attempts: int
    error: str


@event
@dataclass(frozen=True)
class ActionRequested(Event):
    kind: ClassVar[str] = "action.requested"
    action_id: int
    vendor: str
    action: str
    idempotency_key: str
    params: dict[str, Any]


@event
@dataclass(frozen=True)
class ActionSucceeded(Event):
    kind: ClassVar[str] = "action.succeeded"
    action_id: int
    vendor: str
    action: str
    idempotency_key: str
    result: dict[str, Any]
    reconciled: bool = False


@event
@dataclass(frozen=True)
class ActionFailed(Event):
    kind: ClassVar[str] = "action.failed"
    action_id: int
    vendor: str
    action: str
    idempotency_key: str
    error: str
    will_retry: bool


@event
@dataclass(frozen=True)
class ActionBlocked(Event):
    kind: ClassVar[str] = "action.blocked"
    vendor: str
    action: str
    idempotency_key: str
    reason: str


@event
@dataclass(frozen=True)
class DataRedacted(Event):
    """A privacy erasure; names the audit rows whose data became tombstones."""

    kind: ClassVar[str] = "data.redacted"
    subject: str  # e.g. "customer:jane@example.com" or "shop:acme.myshopify.com"
    audit_ids: tuple[int, ...]
    tables: dict[str, int]  # rows removed per table
    request: str = ""


# --- writing --------------------------------------------------------------------------
def _row_hash(prev_hash: str, header: dict[str, Any]) -> str:
    return sha256(prev_hash + canonical_json(header))


def _header(
    row_id: int,
    tenant_id: str,
    ts: str,
    kind: str,
    ticket_id: int | None,
    job_id: int | None,
    data_digest: str,
) -> dict[str, Any]:
    return {
        "id": row_id,
        "tenant_id": tenant_id,
        "ts": ts,
        "kind": kind,
        "ticket_id": ticket_id,
        "job_id": job_id,
        "data_digest": data_digest,
    }


def record(db: sqlite_utils.Database, tenant_id: str, ev: Event) -> int:
    """Append ``ev``; returns the audit row id. Joins the caller's transaction if one is open."""
    if type(ev).kind not in EVENT_TYPES:
        raise TypeError(f"unregistered event {type(ev).__name__}")
    data = canonical_json(ev.payload())
    digest = sha256(data)
    ts = now_iso()
    with transaction(db):
        last = db.conn.execute("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
        prev_id, prev_hash = (last[0], last[1]) if last else (0, GENESIS)
        row_id = prev_id + 1
        header = _header(row_id, tenant_id, ts, ev.kind, ev.ticket_id, ev.job_id, digest)
        db.conn.execute(
            "INSERT INTO audit_log (id, tenant_id, ts, kind, ticket_id, job_id, data, data_digest,"
            " prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                row_id,
                tenant_id,
                ts,
                ev.kind,
                ev.ticket_id,
                ev.job_id,
                data,
                digest,
                prev_hash,
                _row_hash(prev_hash, header),
            ),
        )
    return row_id


def redact(
    db: sqlite_utils.Database,
    tenant_id: str,
    audit_ids: Iterable[int],
    *,
    subject: str,
    tables: dict[str, int],
    request: str = "",
) -> int:
    """Replace the data of the given rows with tombstones and record a ``DataRedacted`` event.

    Must be called inside the same transaction that deletes the subject's data elsewhere.
    """
    ids = tuple(sorted(set(audit_ids)))
    with transaction(db):
        for row_id in ids:
            tombstone = canonical_json({"redacted": 1, "subject": subject})
            db.conn.execute(
                "UPDATE audit_log SET data = ?, redacted = 1"
                " WHERE id = ? AND tenant_id = ? AND redacted = 0",
                (tombstone, row_id, tenant_id),
            )
        return record(
            db,
            tenant_id,
            DataRedacted(subject=subject, audit_ids=ids, tables=tables, request=request),
        )


# --- reading and verifying --------------------------------------------------------------
@dataclass
class VerifyResult:
    ok: bool
    rows: int
    bad_row: int | None = None
    problem: str = ""


def verify(db: sqlite_utils.Database) -> VerifyResult:
    """Walk the whole chain; report the first row that does not check out."""
    prev_hash = GENESIS
    expected_id = None
    redacted_ok: set[int] = set()
    pending_tombstones: dict[int, int] = {}
    count = 0
    cursor = db.conn.execute(
        "SELECT id, tenant_id, ts, kind, ticket_id, job_id, data, data_digest, redacted,"
        " prev_hash, hash FROM audit_log ORDER BY id"
    )
    for (
        row_id,
        tenant_id,
        ts,
        kind,
        ticket_id,
        job_id,
        data,
        digest,
        redacted,
        row_prev,
        row_hash,
    ) in cursor:
        count += 1
        if expected_id is not None and row_id != expected_id:
            return VerifyResult(False, count, expected_id, f"row {expected_id} is missing")
        expected_id = row_id + 1
        if row_prev != prev_hash:
            return VerifyResult(False, count, row_id, "prev_hash does not match the previous row")
        header = _header(row_id, tenant_id, ts, kind, ticket_id, job_id, digest)
        if _row_hash(prev_hash, header) != row_hash:
            return VerifyResult(False, count, row_id, "hash does not match the row's contents")
        if redacted:
            pending_tombstones[row_id] = row_id
        elif sha256(data) != digest:
            return VerifyResult(False, count, row_id, "data does not match its digest")
        if kind == DataRedacted.kind and not redacted:
            redacted_ok.update(json.loads(data).get("audit_ids", []))
        prev_hash = row_hash
    unexplained = sorted(set(pending_tombstones) - redacted_ok)
    if unexplained:
        return VerifyResult(
            False, count, unexplained[0], "row is redacted but no data.redacted event names it"
        )
    return VerifyResult(True, count)


def rows(
    db: sqlite_utils.Database,
    *,
    tenant_id: str | None = None,
    since: str | None = None,
    ticket_id: int | None = None,
    limit: int | None = None,
) -> Iterator[dict[str, Any]]:
    where: list[str] = []
    params: list[str | int] = []
    if tenant_id is not None:
        where.append("tenant_id = ?")
        params.append(tenant_id)
    if since is not None:
        where.append("ts >= ?")
        params.append(since)
    if ticket_id is not None:
        where.append("ticket_id = ?")
        params.append(ticket_id)
    sql = "SELECT id, tenant_id, ts, kind, ticket_id, job_id, data, redacted, hash FROM audit_log"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY id"
    if limit:
        sql += f" LIMIT {int(limit)}"
    for r in db.conn.execute(sql, params):
        yield {
            "id": r[0],
            "tenant_id": r[1],
            "ts": r[2],
            "kind": r[3],
            "ticket_id": r[4],
            "job_id": r[5],
            "data": json.loads(r[6]),
            "redacted": bool(r[7]),
            "hash": r[8],
        }


def export(
    db: sqlite_utils.Database,
    out: TextIO,
    *,
    fmt: str = "jsonl",
    since: str | None = None,
    tenant_id: str | None = None,
) -> int:
    n = 0
    if fmt == "jsonl":
        for r in rows(db, since=since, tenant_id=tenant_id):
            out.write(canonical_json(r) + "\n")
            n += 1
    elif fmt == "csv":
        w = csv.writer(out)
        w.writerow(
            ["id", "tenant_id", "ts", "kind", "ticket_id", "job_id", "redacted", "hash", "data"]
        )
        for r in rows(db, since=since, tenant_id=tenant_id):
            w.writerow(
                [
                    r["id"],
                    r["tenant_id"],
                    r["ts"],
                    r["kind"],
                    r["ticket_id"],
                    r["job_id"],
                    int(r["redacted"]),
                    r["hash"],
                    canonical_json(r["data"]),
                ]
            )
            n += 1
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return n


__all__ = [
    "EVENT_TYPES",
    "Event",
    "canonical_json",
    "event",
    "export",
    "record",
    "redact",
    "rows",
    "verify",
]
