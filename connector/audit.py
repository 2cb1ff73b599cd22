"""Append-only, hash-chained audit log of typed events.

Every thing that happens is one ``Event`` dataclass (one class per kind, registered by
``@event``). ``record(db, tenant_id, ev)`` appends it inside the caller's transaction, so the
audit row commits or rolls back together with the state change it describes.

Chain: ``hash = "hmac:<key id>:" + HMAC-SHA256(key, prev_hash + canonical_json(header))`` where
the header holds the row's id, tenant, time, kind, ticket, job, the key id and
``data_digest = sha256(canonical_json(event))``. The key is not in the ledger
(``connector/audit_keys.py``), so someone who can write the ledger file can delete or edit rows
but cannot re-chain them. Rows written before the chain was keyed carry a bare
``sha256(prev_hash + canonical_json(header))``; they verify as a prefix only: the first keyed row
binds their last hash, and an unkeyed row after a keyed one is refused (a downgrade).

Hashing the digest rather than the data lets a privacy erasure replace ``data`` with a
tombstone (``redact``) while ``verify`` still passes; every other change breaks the chain, and
SQLite triggers reject UPDATE/DELETE outright (see migrations/m001_foundation.py).

What ``verify`` cannot see on its own: rows cut off the end (the remaining chain is intact).
``head`` signs the last digest and the row count; keep that outside the ledger (the scheduler
writes it to the log and, optionally, a file) and ``verify(expect_head=...)`` finds truncation.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, TextIO, TypeVar

import sqlite_utils

from connector import audit_keys, logs
from connector.audit_keys import AuditKey, Keyring
from connector.db import lock, transaction
from connector.domain import to_dict
from connector.errors import ConfigError

if TYPE_CHECKING:
    from apscheduler.schedulers.base import BaseScheduler

    from connector.runtime import Runtime

GENESIS = "0" * 64
CHAIN_LOCK = "audit:chain"  # the named lock every append holds (connector/db.py: lock)
LOG = logs.get("audit")
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


@event
@dataclass(frozen=True)
class AuditSealed(Event):
    """A keyed row appended on request: it binds every earlier row, keyed or not."""

    kind: ClassVar[str] = "audit.sealed"
    key_id: str
    rows_before: int
    actor: str


# --- writing --------------------------------------------------------------------------
KEYED_PREFIX = "hmac:"


def _legacy_hash(prev_hash: str, header: dict[str, Any]) -> str:
    return sha256(prev_hash + canonical_json(header))


def _keyed_hash(key: AuditKey, prev_hash: str, header: dict[str, Any]) -> str:
    signed = {**header, "key_id": key.kid}
    return f"{KEYED_PREFIX}{key.kid}:{key.mac(prev_hash + canonical_json(signed))}"


def _row_hash(keyring: Keyring, prev_hash: str, header: dict[str, Any]) -> str:
    """The new row's hash: keyed with the signing key; a bare sha256 only when no key is
    configured (a ledger that was never keyed; ``verify`` refuses it once a key exists)."""
    signer = keyring.signer
    if signer is None:
        return _legacy_hash(prev_hash, header)
    return _keyed_hash(signer, prev_hash, header)


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
    keyring = audit_keys.for_db(db)
    with transaction(db, shared=True):
        # One chain: appends are serialised (SQLite's write lock; PostgreSQL's audit lock, held
        # to COMMIT, so ids and the chain follow commit order).
        lock(db, CHAIN_LOCK)
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
                _row_hash(keyring, prev_hash, header),
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
    legacy_rows: int = 0  # rows chained with a bare sha256 (written before the chain was keyed)
    key_ids: dict[str, int] = field(default_factory=dict)  # rows signed per key id

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "rows": self.rows,
            "bad_row": self.bad_row,
            "problem": self.problem,
            "legacy_rows": self.legacy_rows,
            "key_ids": self.key_ids,
        }


class _ChainWalk:
    """State of one walk along the chain; ``step`` returns a problem or "" for each row."""

    def __init__(self, keyring: Keyring):
        self.keyring = keyring
        self.prev_hash = GENESIS
        self.expected_id: int | None = None
        self.legacy_rows = 0
        self.key_ids: dict[str, int] = {}

    def step(self, row_id: int, row_prev: str, row_hash: str, header: dict[str, Any]) -> str:
        if self.expected_id is not None and row_id != self.expected_id:
            return f"row {self.expected_id} is missing"
        self.expected_id = row_id + 1
        if row_prev != self.prev_hash:
            return "prev_hash does not match the previous row"
        problem = self._check_hash(row_hash, header)
        self.prev_hash = row_hash
        return problem

    def _check_hash(self, row_hash: str, header: dict[str, Any]) -> str:
        if not row_hash.startswith(KEYED_PREFIX):
            if self.key_ids:
                return (
                    "row is chained with a bare sha256 after the chain was keyed "
                    "(rewritten by someone without the audit key)"
                )
            self.legacy_rows += 1
            if _legacy_hash(self.prev_hash, header) != row_hash:
                return "hash does not match the row's contents"
            return ""
        kid = row_hash[len(KEYED_PREFIX) :].split(":", 1)[0]
        key = self.keyring.get(kid)
        if key is None:
            return (
                f"row is signed with audit key {kid}, which is not configured "
                "(DESKGUARD_AUDIT_KEYS / DESKGUARD_SECRET_KEYS): a wrong key, or a retired key "
                "that was dropped"
            )
        if not hmac.compare_digest(_keyed_hash(key, self.prev_hash, header), row_hash):
            return "hash does not match the row's contents (edited, or chained with a wrong key)"
        self.key_ids[kid] = self.key_ids.get(kid, 0) + 1
        return ""

    def result(
        self, ok: bool, rows: int, bad_row: int | None = None, problem: str = ""
    ) -> VerifyResult:
        return VerifyResult(ok, rows, bad_row, problem, self.legacy_rows, dict(self.key_ids))


def verify(
    db: sqlite_utils.Database,
    *,
    keyring: Keyring | None = None,
    expect_head: dict[str, Any] | None = None,
) -> VerifyResult:
    """Walk the whole chain; report the first row that does not check out.

    ``keyring`` defaults to the one registered for the ledger (``audit_keys.for_db``). With a key
    configured, a chain made only of bare-sha256 rows fails: nothing keyed seals it (``seal``).
    ``expect_head`` (from ``head``, kept outside the ledger) also finds rows cut off the end.
    """
    keyring = audit_keys.for_db(db) if keyring is None else keyring
    walk = _ChainWalk(keyring)
    redacted_ok: set[int] = set()
    pending_tombstones: set[int] = set()
    count = 0
    cursor = db.conn.execute(
        "SELECT id, tenant_id, ts, kind, ticket_id, job_id, data, data_digest, redacted,"
        " prev_hash, hash FROM audit_log ORDER BY id"
    )
    for row_id, tenant_id, ts, kind, ticket_id, job_id, data, digest, redacted, prev, h in cursor:
        count += 1
        header = _header(row_id, tenant_id, ts, kind, ticket_id, job_id, digest)
        expected_id = walk.expected_id
        problem = walk.step(row_id, prev, h, header)
        if problem:
            missing = expected_id is not None and row_id != expected_id
            return walk.result(False, count, expected_id if missing else row_id, problem)
        if redacted:
            pending_tombstones.add(row_id)
        elif sha256(data) != digest:
            return walk.result(False, count, row_id, "data does not match its digest")
        if kind == DataRedacted.kind and not redacted:
            redacted_ok.update(json.loads(data).get("audit_ids", []))
    unexplained = sorted(pending_tombstones - redacted_ok)
    if unexplained:
        return walk.result(
            False, count, unexplained[0], "row is redacted but no data.redacted event names it"
        )
    if keyring.signer is not None and walk.legacy_rows and not walk.key_ids:
        return walk.result(
            False,
            count,
            None,
            f"all {count} rows are chained with a bare sha256 and no keyed row seals them: "
            "rewritten without the key, or written before the chain was keyed "
            "(then run `deskguard audit seal`)",
        )
    if expect_head is not None:
        problems = check_head(db, expect_head, keyring=keyring)
        if problems:
            return walk.result(False, count, None, "; ".join(problems))
    return walk.result(True, count)


def rows_per_key(db: sqlite_utils.Database) -> dict[str, int]:
    """How many rows each key id signed ("" counts the unkeyed rows)."""
    out: dict[str, int] = {}
    for hashed, n in db.conn.execute(
        "SELECT substr(hash, 1, ?), COUNT(*) FROM audit_log GROUP BY 1",
        (len(KEYED_PREFIX) + 12,),
    ):
        kid = hashed[len(KEYED_PREFIX) :] if hashed.startswith(KEYED_PREFIX) else ""
        out[kid] = out.get(kid, 0) + n
    return out


# --- the signed head, kept outside the ledger ---------------------------------------------
HEAD_VERSION = 1
HEAD_FIELDS = ("version", "scope", "rows", "last_id", "digest", "row_ts", "ts", "key_id")


def _head_message(head: dict[str, Any]) -> str:
    return "deskguard-audit-head:" + canonical_json({k: head.get(k) for k in HEAD_FIELDS})


def _scope_where(tenant_id: str | None) -> tuple[str, tuple[Any, ...]]:
    return ("tenant_id = ?", (tenant_id,)) if tenant_id else ("1 = 1", ())


def head(
    db: sqlite_utils.Database, *, tenant_id: str | None = None, keyring: Keyring | None = None
) -> dict[str, Any]:
    """The chain's head, signed: the last row's digest, the row count and the time.

    With ``tenant_id``, the head of that tenant's rows (its last row and its count). Raises
    ConfigError when no audit key is configured (an unsigned head proves nothing).
    """
    keyring = audit_keys.for_db(db) if keyring is None else keyring
    signer = keyring.signer
    if signer is None:
        raise ConfigError(
            "no audit key: set DESKGUARD_AUDIT_KEYS (or DESKGUARD_SECRET_KEYS) to sign the head"
        )
    where, params = _scope_where(tenant_id)
    count, last_id = db.conn.execute(
        f"SELECT COUNT(*), MAX(id) FROM audit_log WHERE {where}", params
    ).fetchone()
    digest, row_ts = GENESIS, None
    if last_id is not None:
        digest, row_ts = db.conn.execute(
            "SELECT hash, ts FROM audit_log WHERE id = ?", (last_id,)
        ).fetchone()
    body: dict[str, Any] = {
        "version": HEAD_VERSION,
        "scope": tenant_id or "*",
        "rows": int(count),
        "last_id": int(last_id or 0),
        "digest": digest,
        "row_ts": row_ts,
        "ts": now_iso(),
        "key_id": signer.kid,
    }
    body["signature"] = signer.mac(_head_message(body))
    return body


def check_head(
    db: sqlite_utils.Database, expected: dict[str, Any], *, keyring: Keyring | None = None
) -> list[str]:
    """What differs between the ledger and a head taken earlier (empty when nothing does).

    Finds truncation (the head's last row gone, fewer rows than the head counted) and
    re-chaining (the digest at the head's row differs)."""
    keyring = audit_keys.for_db(db) if keyring is None else keyring
    problems = _head_signature_problems(expected, keyring)
    if problems:
        return problems
    scope = expected.get("scope") or "*"
    where, params = _scope_where(None if scope == "*" else str(scope))
    last_id, rows, digest = int(expected["last_id"]), int(expected["rows"]), expected["digest"]
    total = db.conn.execute(f"SELECT COUNT(*) FROM audit_log WHERE {where}", params).fetchone()[0]
    if total < rows:
        problems.append(
            f"truncated: the head counted {rows} rows in scope {scope}, the ledger has {total}"
        )
    if last_id:
        row = db.conn.execute(
            f"SELECT hash FROM audit_log WHERE id = ? AND {where}", (last_id, *params)
        ).fetchone()
        if row is None:
            problems.append(f"truncated: row {last_id} (the head's last row) is missing")
        elif not hmac.compare_digest(str(row[0]), str(digest)):
            problems.append(f"re-chained: the digest of row {last_id} differs from the head's")
    upto = db.conn.execute(
        f"SELECT COUNT(*) FROM audit_log WHERE id <= ? AND {where}", (last_id, *params)
    ).fetchone()[0]
    if not problems and upto != rows:
        problems.append(
            f"rows up to {last_id}: the head counted {rows}, the ledger has {upto} "
            "(rows removed or inserted)"
        )
    return problems


def _head_signature_problems(expected: dict[str, Any], keyring: Keyring) -> list[str]:
    missing = [k for k in (*HEAD_FIELDS, "signature") if k not in expected]
    if missing:
        return [f"the head is missing {', '.join(missing)}"]
    key = keyring.get(str(expected["key_id"]))
    if key is None:
        return [f"the head is signed with audit key {expected['key_id']}, which is not configured"]
    if not hmac.compare_digest(key.mac(_head_message(expected)), str(expected["signature"])):
        return ["the head's signature does not match (the head was edited or forged)"]
    return []


def seal(db: sqlite_utils.Database, *, actor: str = "cli") -> int:
    """Append a keyed ``audit.sealed`` row: it binds every earlier (possibly unkeyed) row."""
    keyring = audit_keys.for_db(db)
    if keyring.signer is None:
        raise ConfigError("no audit key: set DESKGUARD_AUDIT_KEYS (or DESKGUARD_SECRET_KEYS)")
    before = db.conn.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0]
    return record(db, "*", AuditSealed(key_id=keyring.signer.kid, rows_before=before, actor=actor))


def publish_head(db: sqlite_utils.Database, *, path: str = "") -> dict[str, Any]:
    """Write the signed head of the whole chain to the log and, when ``path`` is set, append it
    as one JSON line to that file, so a copy exists outside the ledger."""
    signed = head(db)
    logs.log(LOG, logging.INFO, "audit.head", head=signed)
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(canonical_json(signed) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
    return signed


def register_schedules(scheduler: BaseScheduler, runtime: Runtime) -> None:
    """Publish the signed head now and every DESKGUARD_AUDIT_HEAD_INTERVAL_SECONDS (0: never)."""
    interval = int(runtime.config.audit_head_interval_seconds)
    if interval <= 0:
        return
    scheduler.add_job(
        _publish_scheduled_head,
        "interval",
        seconds=interval,
        args=(runtime,),
        id="audit_head",
        replace_existing=True,
        next_run_time=datetime.now(UTC),
    )


def _publish_scheduled_head(runtime: Runtime) -> None:
    try:
        publish_head(runtime.db, path=str(runtime.config.audit_head_file or ""))
    except (ConfigError, OSError) as exc:
        logs.log(LOG, logging.ERROR, "audit.head_failed", error=str(exc))


def load_head(text_or_path: str) -> dict[str, Any]:
    """A head given as JSON text or as a file of them (the last line counts); ValueError when
    neither parses."""
    text = text_or_path.strip()
    if not text.startswith("{"):
        try:
            with open(text, encoding="utf-8") as fh:
                lines = [line for line in fh.read().splitlines() if line.strip()]
        except OSError as exc:
            raise ValueError(f"cannot read the head file: {exc}") from None
        if not lines:
            raise ValueError("the head file is empty")
        text = lines[-1]
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"the head is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError("the head must be a JSON object")
    return value


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
    "check_head",
    "event",
    "export",
    "head",
    "load_head",
    "publish_head",
    "record",
    "redact",
    "rows",
    "rows_per_key",
    "seal",
    "verify",
]
