"""Tenants (one per Zendesk account) and their runtime settings (kill switch, modes, ...).

Runtime settings are JSON values in ``tenant_settings``; every change is audited with who made
it and why. ``kill_switch_on`` is read straight from SQLite on every call (no cache) because it
is checked immediately before every vendor write.
"""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from connector import audit
from connector.audit import now_iso
from connector.db import transaction
from connector.errors import NotFound

KILL_SWITCH = "kill_switch"


def ensure_tenant(
    db: sqlite_utils.Database, tenant_id: str, *, source: str = "env", **fields: Any
) -> None:
    """Create or update a tenant row (idempotent)."""
    if not tenant_id:
        raise ValueError("tenant id is empty")
    now = now_iso()
    with transaction(db):
        existing = db.conn.execute("SELECT 1 FROM tenants WHERE id = ?", (tenant_id,)).fetchone()
        if existing:
            if fields:
                sets = ", ".join(f"{k} = ?" for k in fields)
                db.conn.execute(
                    f"UPDATE tenants SET {sets}, updated_at = ? WHERE id = ?",
                    (*fields.values(), now, tenant_id),
                )
            return
        cols = {
            "id": tenant_id,
            "name": fields.pop("name", tenant_id),
            **fields,
            "created_at": now,
            "updated_at": now,
        }
        db.conn.execute(
            f"INSERT INTO tenants ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
            tuple(cols.values()),
        )
        audit.record(db, tenant_id, audit.TenantConfigured(tenant=tenant_id, source=source))


def get_tenant(db: sqlite_utils.Database, tenant_id: str) -> dict[str, Any]:
    row = db.conn.execute("SELECT * FROM tenants WHERE id = ?", (tenant_id,)).fetchone()
    if row is None:
        raise NotFound(f"unknown tenant {tenant_id!r}")
    cols = [d[0] for d in db.conn.execute("SELECT * FROM tenants LIMIT 0").description]
    return dict(zip(cols, row, strict=True))


def list_tenants(db: sqlite_utils.Database) -> list[str]:
    return [r[0] for r in db.conn.execute("SELECT id FROM tenants WHERE active = 1 ORDER BY id")]


def get_setting(db: sqlite_utils.Database, tenant_id: str, name: str, default: Any = None) -> Any:
    row = db.conn.execute(
        "SELECT value FROM tenant_settings WHERE tenant_id = ? AND name = ?", (tenant_id, name)
    ).fetchone()
    return json.loads(row[0]) if row else default


def all_settings(db: sqlite_utils.Database, tenant_id: str) -> dict[str, Any]:
    return {
        n: json.loads(v)
        for n, v in db.conn.execute(
            "SELECT name, value FROM tenant_settings WHERE tenant_id = ?", (tenant_id,)
        )
    }


def set_setting(
    db: sqlite_utils.Database,
    tenant_id: str,
    name: str,
    value: Any,
    *,
    actor: str,
    reason: str = "",
) -> bool:
    """Set a runtime setting; audits the change. Returns False when the value was unchanged."""
    with transaction(db):
        old = get_setting(db, tenant_id, name)
        if old == value:
            return False
        db.conn.execute(
            "INSERT INTO tenant_settings (tenant_id, name, value, updated_at, updated_by)"
            " VALUES (?,?,?,?,?)"
            " ON CONFLICT (tenant_id, name) DO UPDATE SET value = excluded.value,"
            " updated_at = excluded.updated_at, updated_by = excluded.updated_by",
            (tenant_id, name, json.dumps(value), now_iso(), actor),
        )
        audit.record(
            db,
            tenant_id,
            audit.SettingChanged(name=name, old=old, new=value, actor=actor, reason=reason),
        )
    return True


def kill_switch_on(db: sqlite_utils.Database, tenant_id: str) -> bool:
    return bool(get_setting(db, tenant_id, KILL_SWITCH, False))


def set_kill_switch(
    db: sqlite_utils.Database, tenant_id: str, on: bool, *, actor: str, reason: str = ""
) -> bool:
    return set_setting(db, tenant_id, KILL_SWITCH, bool(on), actor=actor, reason=reason)
