"""Customer privacy: who may see an order, and Shopify's data-request / erasure obligations.

- ``visible_orders``: never reveal an order in a reply or note unless its email matches the ticket
  requester (or an agent confirmed the match). The rest are *withheld* and only counted.
- ``export_customer``: what Deskguard holds about one customer, as a JSON file (mode 0600) under
  the export directory, audited (``customers/data_request``). An export is itself personal data:
  ``customers/redact`` deletes that customer's files, ``shop/redact`` the tenant's, and every
  file is deleted ``DESKGUARD_PRIVACY_EXPORT_TTL_DAYS`` after it was written (``expire_exports``,
  hourly from the scheduler and at each Shopify delivery).
- ``erase_customer`` / ``erase_shop``: delete or tombstone that customer's (or shop's) data in our
  tables, and turn the matching audit rows into redaction tombstones with ``audit.redact`` so
  ``deskguard audit verify`` still passes (``customers/redact``, ``shop/redact``).

How rows are matched to a customer: the email (case-insensitive) anywhere in a row's text columns
or as the decisions' ``requester_hash``, and the Shopify customer / order GIDs from the request.
Every decision found that way names a ticket; everything else tied to that ticket (other
decisions, feedback, actions, jobs, approvals, audit rows) is the customer's too. Phone numbers
are not matched (too many spellings).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from connector import audit, logs
from connector.audit import canonical_json, now_iso
from connector.commerce.events import DataExported
from connector.db import table_columns, transaction
from connector.domain import Order

TOMBSTONE = canonical_json({"redacted": 1})
EXPORT_PREFIX = "shopify-data-request-"
EXPIRE_JOB_ID = "privacy.expire_exports"
LOG = logs.get("commerce.privacy")


# --- the privacy rule -----------------------------------------------------------------------
def _email(value: str | None) -> str:
    return (value or "").strip().lower()


def visible_orders(
    orders: Sequence[Order], requester_email: str | None, confirmed_emails: Iterable[str] = ()
) -> tuple[list[Order], int]:
    """(orders whose email is the requester's or agent-confirmed, number withheld)."""
    allowed = {_email(requester_email), *(_email(e) for e in confirmed_emails)} - {""}
    visible = [o for o in orders if _email(o.email) in allowed]
    return visible, len(orders) - len(visible)


# --- subjects ---------------------------------------------------------------------------------
def _gid(kind: str, value: Any) -> str:
    text = str(value or "").strip()
    return text if text.startswith("gid://") else (f"gid://shopify/{kind}/{text}" if text else "")


@dataclass(frozen=True)
class CustomerSubject:
    email: str = ""
    customer_id: str = ""  # Shopify customer id or GID
    order_ids: tuple[str, ...] = ()  # Shopify order ids or GIDs

    @classmethod
    def from_payload(cls, payload: dict[str, Any], orders_key: str) -> CustomerSubject:
        """From a body already checked against its topic's shape (connector/commerce/
        shopify_shapes.py); anything that is not the documented type counts as absent."""
        customer = payload.get("customer")
        customer = customer if isinstance(customer, dict) else {}
        orders = payload.get(orders_key)
        email = customer.get("email")
        return cls(
            email=_email(email if isinstance(email, str) else ""),
            customer_id=str(customer.get("id") or ""),
            order_ids=tuple(str(i) for i in (orders if isinstance(orders, list) else ()) if i),
        )

    @property
    def requester_hash(self) -> str:
        return hashlib.sha256(self.email.encode()).hexdigest() if self.email else ""

    @property
    def label(self) -> str:
        """Names the subject in the audit log without repeating the personal data."""
        if self.customer_id:
            return f"customer:{_gid('Customer', self.customer_id)}"
        return f"customer:sha256:{self.requester_hash[:16]}"

    def needles(self) -> list[str]:
        out = [self.email] if self.email else []
        if self.customer_id:
            out.append(_gid("Customer", self.customer_id).lower() + '"')
        out += [
            _gid("Order", o).lower() + '"' for o in self.order_ids
        ]  # the closing quote: no prefix matches
        return out


# --- table registry ---------------------------------------------------------------------------
@dataclass(frozen=True)
class PrivacyTable:
    """How one table is exported and erased. ``key`` is its integer primary key (how matched rows
    are named); ``ticket_column`` ties rows to a ticket; ``erase`` is ``delete`` (drop the rows) or
    the columns to overwrite with a tombstone."""

    name: str
    ticket_column: str | None = "ticket_id"
    erase: str | tuple[str, ...] = "delete"
    extra: Callable[[sqlite_utils.Database, list[int]], None] | None = (
        None  # runs first, on the matched keys
    )
    key: str = "id"


def _close_open_jobs(db: sqlite_utils.Database, ids: list[int]) -> None:
    # a queued job must not run on an erased payload
    db.conn.executemany(
        "UPDATE jobs SET state = 'dead', last_error = 'erased by a privacy request' "
        "WHERE id = ? AND state IN ('queued', 'running')",
        [(i,) for i in ids],
    )


def _close_open_approvals(db: sqlite_utils.Database, ids: list[int]) -> None:
    db.conn.executemany(
        "UPDATE approvals SET state = 'rejected', decided_by = 'privacy-erasure' "
        "WHERE id = ? AND state IN ('proposed', 'approved')",
        [(i,) for i in ids],
    )


# Every ledger table that holds a customer's data, in erasure order (feedback before decisions:
# feedback.decision_id references decisions).
TABLES: tuple[PrivacyTable, ...] = (
    PrivacyTable("feedback"),
    PrivacyTable("decisions"),
    PrivacyTable("actions", erase=("params", "result", "error")),
    PrivacyTable("jobs", ticket_column=None, erase=("payload",), extra=_close_open_jobs),
    PrivacyTable(
        "approvals",
        erase=("params", "reason", "decision_note", "result", "error"),
        extra=_close_open_approvals,
    ),
)


def _text_columns(cols: dict[str, str]) -> list[str]:
    return [c for c, t in cols.items() if t in ("TEXT", "") and c != "tenant_id"]


def _like_pattern(needle: str) -> str:
    """``needle`` anywhere in the text, for ``LIKE ? ESCAPE '\\'`` (its ``%``, ``_`` and ``\\``
    taken literally: an email's ``_`` must not match any character)."""
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _contains(column: str) -> str:
    """``column`` (lower-cased) contains the needle bound to ``?`` (via ``_like_pattern``)."""
    return f"lower(coalesce({column}, '')) LIKE ? ESCAPE '\\'"


def _match_keys(
    db: sqlite_utils.Database,
    tenant_id: str,
    table: PrivacyTable,
    subject: CustomerSubject | None,
    tickets: set[int],
) -> list[int]:
    """Primary keys of the rows of ``table`` that belong to ``subject`` (None: every row of the
    tenant)."""
    cols = table_columns(db, table.name)
    if not cols:
        return []  # table not in this ledger
    if subject is None:
        return [
            r[0]
            for r in db.conn.execute(
                f"SELECT {table.key} FROM {table.name} WHERE tenant_id = ? ORDER BY {table.key}",
                (tenant_id,),
            )
        ]
    where: list[str] = []
    params: list[str | int] = []
    for needle in subject.needles():
        for column in _text_columns(cols):  # each column alone: no match across two columns
            where.append(_contains(column))
            params.append(_like_pattern(needle))
    if "requester_hash" in cols and subject.requester_hash:
        where.append("requester_hash = ?")
        params.append(subject.requester_hash)
    if tickets and table.ticket_column and table.ticket_column in cols:
        where.append(f"{table.ticket_column} IN ({','.join('?' * len(tickets))})")
        params += sorted(tickets)
    if table.name == "jobs" and tickets:
        # json_extract is TEXT on PostgreSQL and the JSON value on SQLite: compare as text.
        where.append(
            f"CAST(json_extract(payload, '$.ticket_id') AS TEXT)"
            f" IN ({','.join('?' * len(tickets))})"
        )
        params += [str(t) for t in sorted(tickets)]
    if not where:
        return []
    sql = (
        f"SELECT {table.key} FROM {table.name} WHERE tenant_id = ? AND ({' OR '.join(where)})"
        f" ORDER BY {table.key}"
    )
    return [r[0] for r in db.conn.execute(sql, (tenant_id, *params))]


def _tickets(db: sqlite_utils.Database, tenant_id: str, subject: CustomerSubject) -> set[int]:
    """Tickets whose decisions mention the subject: the customer's tickets."""
    table = next(t for t in TABLES if t.name == "decisions")
    keys = _match_keys(db, tenant_id, table, subject, set())
    if not keys:
        return set()
    q = (
        f"SELECT DISTINCT ticket_id FROM decisions"
        f" WHERE {table.key} IN ({','.join('?' * len(keys))})"
    )
    return {r[0] for r in db.conn.execute(q, keys) if r[0] is not None}


def _audit_ids(
    db: sqlite_utils.Database, tenant_id: str, subject: CustomerSubject | None, tickets: set[int]
) -> list[int]:
    base = "SELECT id FROM audit_log WHERE tenant_id = ? AND kind != ? AND redacted = 0"
    if subject is None:
        return [r[0] for r in db.conn.execute(base, (tenant_id, audit.DataRedacted.kind))]
    where: list[str] = []
    params: list[str | int] = []
    for needle in subject.needles():
        where.append(_contains("data"))
        params.append(_like_pattern(needle))
    if tickets:
        where.append(f"ticket_id IN ({','.join('?' * len(tickets))})")
        params += sorted(tickets)
    if not where:
        return []
    sql = f"{base} AND ({' OR '.join(where)})"
    return [r[0] for r in db.conn.execute(sql, (tenant_id, audit.DataRedacted.kind, *params))]


def export_dir(config) -> Path:
    configured = config.privacy_export_dir
    if configured:
        return Path(configured)
    return Path(config.db_path).resolve().parent / "privacy-exports"


def tenant_export_dir(config, tenant_id: str) -> Path:
    return export_dir(config) / "".join(ch for ch in tenant_id if ch.isalnum() or ch in "-_.")


def _export_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return [
        p
        for p in folder.iterdir()
        if p.name.startswith(EXPORT_PREFIX) and p.suffix in (".json", ".tmp") and p.is_file()
    ]


def _unlink(path: Path) -> int:
    try:
        path.unlink()
    except FileNotFoundError:
        return 0
    return 1


def _export_names(path: Path, subject: CustomerSubject) -> bool:
    """Whether an export file is this subject's (same Shopify customer id, or same email)."""
    try:
        customer = json.loads(path.read_text(encoding="utf-8")).get("customer") or {}
    except (OSError, ValueError, AttributeError):
        return False  # half-written or foreign: left to expire_exports
    same_id = bool(subject.customer_id) and str(customer.get("shopify_customer_id")) == str(
        subject.customer_id
    )
    same_email = bool(subject.email) and _email(customer.get("email")) == subject.email
    return same_id or same_email


def delete_customer_exports(config, tenant_id: str, subject: CustomerSubject) -> int:
    """Delete the tenant's export files about ``subject`` (``customers/redact``)."""
    files = _export_files(tenant_export_dir(config, tenant_id))
    return sum(_unlink(p) for p in files if p.suffix == ".json" and _export_names(p, subject))


def delete_tenant_exports(config, tenant_id: str) -> int:
    """Delete every export file of the tenant (``shop/redact``)."""
    return sum(_unlink(p) for p in _export_files(tenant_export_dir(config, tenant_id)))


def expire_exports(config, *, tenant_id: str | None = None, now: float | None = None) -> int:
    """Delete export files older than ``privacy_export_ttl_days`` (one tenant's, or all)."""
    cutoff = (time.time() if now is None else now) - config.privacy_export_ttl_days * 86400
    root = export_dir(config)
    if tenant_id is not None:
        folders = [tenant_export_dir(config, tenant_id)]
    else:
        folders = [p for p in root.iterdir() if p.is_dir()] if root.is_dir() else []
    removed = 0
    for folder in folders:
        for path in _export_files(folder):
            try:
                if path.stat().st_mtime < cutoff:
                    removed += _unlink(path)
            except FileNotFoundError:
                continue
    return removed


def run_expire_exports(runtime) -> None:
    """The scheduler's hourly sweep of expired export files."""
    removed = expire_exports(runtime.config)
    if removed:
        logs.log(LOG, logging.INFO, "privacy.exports_expired", files=removed)


def register_schedules(scheduler, runtime) -> None:
    scheduler.add_job(
        run_expire_exports,
        "interval",
        hours=1,
        args=[runtime],
        id=EXPIRE_JOB_ID,
        replace_existing=True,
    )


def _rows(db: sqlite_utils.Database, table: PrivacyTable, keys: list[int]) -> list[dict[str, Any]]:
    if not keys:
        return []
    cur = db.conn.execute(
        f"SELECT * FROM {table.name} WHERE {table.key} IN ({','.join('?' * len(keys))})"
        f" ORDER BY {table.key}",
        keys,
    )
    names = [d[0] for d in cur.description]
    out = []
    for row in cur.fetchall():
        item = dict(zip(names, row, strict=True))
        for k, v in item.items():  # JSON columns read back as JSON
            if isinstance(v, str) and v[:1] in "{[":
                try:
                    item[k] = json.loads(v)
                except ValueError:
                    pass
        out.append(item)
    return out


def collect_customer(
    db: sqlite_utils.Database, tenant_id: str, subject: CustomerSubject
) -> dict[str, Any]:
    """Everything Deskguard holds about ``subject`` (what a data request returns)."""
    tickets = _tickets(db, tenant_id, subject)
    data: dict[str, Any] = {"tickets": sorted(tickets)}
    for table in TABLES:
        data[table.name] = _rows(db, table, _match_keys(db, tenant_id, table, subject, tickets))
    ids = set(_audit_ids(db, tenant_id, subject, tickets))
    data["audit_log"] = [r for r in audit.rows(db, tenant_id=tenant_id) if r["id"] in ids]
    return data


def export_customer(
    db: sqlite_utils.Database,
    config,
    tenant_id: str,
    subject: CustomerSubject,
    *,
    request_id: str,
    shop_domain: str = "",
) -> Path:
    """Write the subject's data to ``<export dir>/<tenant>/shopify-data-request-<id>.json`` (0600).

    Re-running the same request rewrites the same file, so a redelivery after a crash is harmless.
    """
    safe_id = "".join(ch for ch in str(request_id) if ch.isalnum() or ch in "-_")[:80] or "unknown"
    folder = tenant_export_dir(config, tenant_id)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"{EXPORT_PREFIX}{safe_id}.json"
    with transaction(db):
        data = collect_customer(db, tenant_id, subject)
        document = {
            "generated_at": now_iso(),
            "tenant": tenant_id,
            "shop_domain": shop_domain,
            "data_request_id": str(request_id),
            "customer": {
                "email": subject.email,
                "shopify_customer_id": subject.customer_id,
                "orders_requested": list(subject.order_ids),
            },
            "data": data,
        }
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(document, fh, indent=2, ensure_ascii=False, default=str)
        os.replace(tmp, path)
        counts = {k: len(v) for k, v in data.items()}
        audit.record(
            db,
            tenant_id,
            DataExported(
                subject=subject.label, path=str(path), counts=counts, request=str(request_id)
            ),
        )
    return path


# --- erasure ----------------------------------------------------------------------------------
def _erase(
    db: sqlite_utils.Database,
    tenant_id: str,
    subject: CustomerSubject | None,
    *,
    label: str,
    request: str,
) -> dict[str, int]:
    counts: dict[str, int] = {}
    with transaction(db):
        tickets = _tickets(db, tenant_id, subject) if subject is not None else set()
        audit_ids = _audit_ids(db, tenant_id, subject, tickets)  # before rows disappear
        for table in TABLES:
            keys = _match_keys(db, tenant_id, table, subject, tickets)
            if not keys:
                continue
            if table.extra:
                table.extra(db, keys)
            if table.erase == "delete":
                db.conn.executemany(
                    f"DELETE FROM {table.name} WHERE {table.key} = ?", [(k,) for k in keys]
                )
            else:
                cols = [c for c in table.erase if c in table_columns(db, table.name)]
                sets = ", ".join(f"{c} = CASE WHEN {c} IS NULL THEN NULL ELSE ? END" for c in cols)
                db.conn.executemany(
                    f"UPDATE {table.name} SET {sets} WHERE {table.key} = ?",
                    [(*([TOMBSTONE] * len(cols)), k) for k in keys],
                )
            counts[table.name] = len(keys)
        if subject is None:
            cur = db.conn.execute(
                "DELETE FROM secrets WHERE tenant_id = ? AND name LIKE 'shopify%'", (tenant_id,)
            )
            counts["secrets"] = cur.rowcount
        counts["audit_log"] = len(audit_ids)
        audit.redact(db, tenant_id, audit_ids, subject=label, tables=counts, request=request)
    return counts


def erase_customer(
    db: sqlite_utils.Database, tenant_id: str, subject: CustomerSubject, *, request: str = ""
) -> dict[str, int]:
    """Erase one customer's data (``customers/redact``). Returns rows affected per table."""
    if not subject.needles():
        return {}
    return _erase(db, tenant_id, subject, label=subject.label, request=request)


def erase_shop(
    db: sqlite_utils.Database, tenant_id: str, shop_domain: str, *, request: str = ""
) -> dict[str, int]:
    """Erase everything the tenant holds from this shop (``shop/redact``, 48 h after uninstall):
    decisions and feedback, action/job/approval payloads (open jobs and approvals are closed so
    nothing runs on erased data), the Shopify secrets, and the audit rows' data."""
    return _erase(db, tenant_id, None, label=f"shop:{shop_domain}", request=request)


__all__ = [
    "TABLES",
    "CustomerSubject",
    "DataExported",
    "PrivacyTable",
    "collect_customer",
    "delete_customer_exports",
    "delete_tenant_exports",
    "erase_customer",
    "erase_shop",
    "expire_exports",
    "export_customer",
    "export_dir",
    "visible_orders",
]
