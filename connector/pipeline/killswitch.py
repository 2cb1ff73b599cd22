"""The kill switch: one flag per tenant that stops every write to Zendesk, Shopify and Stripe.

The flag lives in ``tenant_settings`` (connector/tenants.py) and ``connector.actions.execute``
reads it straight from SQLite immediately before every vendor call, so a flip from the CLI or
the admin API takes effect for the very next write, even inside a job that is already running.
Blocked jobs are parked by the worker without spending an attempt (connector/queue.py: ``park``):
work waits, nothing is lost, and nothing is re-read or re-classified while it waits. Parked jobs
are claimed again, oldest first, as soon as the switch is off.

From Zendesk: the app's installation setting (``DESKGUARD_KILL_SWITCH_APP_SETTING``, a checkbox)
is read every ``DESKGUARD_KILL_SWITCH_SYNC_SECONDS`` by one scheduler job per tenant. The sync
follows *changes* of that checkbox (edge-triggered), so a switch turned on from the CLI is not
turned off again by an app setting that still says "off"; a first observation of "on" turns it on.
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING, Any

import sqlite_utils

from connector import audit, logs
from connector.db import transaction
from connector.errors import ConfigError, DeskguardError
from connector.pipeline.events import KillSwitchSynced
from connector.tenants import (
    KILL_SWITCH,
    get_setting,
    get_tenant,
    kill_switch_on,
    list_tenants,
    set_kill_switch,
)

if TYPE_CHECKING:
    from apscheduler.schedulers.base import BaseScheduler

    from connector.runtime import Runtime

LOG = logs.get("pipeline.kill_switch")
APP_SEEN = "kill_switch_app_seen"  # the app checkbox's last observed value (JSON bool)
SYNC_JOB_PREFIX = "kill_switch_sync:"


def _truthy(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return bool(value)
    if isinstance(value, str):
        v = value.strip().lower()
        if v in ("1", "true", "yes", "on"):
            return True
        if v in ("0", "false", "no", "off", ""):
            return False
    return None


def status(db: sqlite_utils.Database, tenant_id: str) -> dict[str, Any]:
    get_tenant(db, tenant_id)  # NotFound for an unknown tenant
    row = db.conn.execute(
        "SELECT updated_at, updated_by FROM tenant_settings WHERE tenant_id = ? AND name = ?",
        (tenant_id, KILL_SWITCH),
    ).fetchone()
    last = db.conn.execute(
        "SELECT data FROM audit_log WHERE tenant_id = ? AND kind = 'setting.changed'"
        " AND json_extract(data, '$.name') = ? ORDER BY id DESC LIMIT 1",
        (tenant_id, KILL_SWITCH),
    ).fetchone()
    reason = json.loads(last[0]).get("reason", "") if last else ""
    blocked = db.conn.execute(
        "SELECT COUNT(*) FROM jobs WHERE tenant_id = ? AND state = 'queued'"
        " AND held_by = 'kill_switch'",
        (tenant_id,),
    ).fetchone()[0]
    return {
        "tenant": tenant_id,
        "on": kill_switch_on(db, tenant_id),
        "updated_at": row[0] if row else None,
        "updated_by": row[1] if row else None,
        "reason": reason,
        "deferred_jobs": blocked,
        "app_setting_seen": get_setting(db, tenant_id, APP_SEEN),
    }


def set_switch(
    db: sqlite_utils.Database, tenant_id: str, on: bool, *, actor: str, reason: str = ""
) -> bool:
    """Turn the switch on/off (audited with actor and reason). True when it changed."""
    get_tenant(db, tenant_id)
    return set_kill_switch(db, tenant_id, bool(on), actor=actor, reason=reason)


def sync_from_app(runtime: Runtime, tenant_id: str) -> bool | None:
    """Read the Zendesk app's checkbox once and follow a change. Returns the switch state, or None
    when the app setting could not be read (the next tick tries again)."""
    name = runtime.config.get("kill_switch_app_setting", "kill_switch")
    started = time.monotonic()
    try:
        settings = runtime.services(tenant_id).require_desk().app_installation_settings() or {}
    except (DeskguardError, KeyError) as exc:
        # A tenant without Zendesk credentials is normal (quiet); anything else is worth a warning.
        level = logging.DEBUG if isinstance(exc, (ConfigError, KeyError)) else logging.WARNING
        logs.log(LOG, level, "kill_switch.sync_failed", tenant=tenant_id, error=type(exc).__name__)
        return None
    value = _truthy(settings.get(name))
    if value is None:
        return None
    db = runtime.db
    with transaction(db):
        seen = get_setting(db, tenant_id, APP_SEEN)
        current = kill_switch_on(db, tenant_id)
        if seen == value:
            return current
        db.conn.execute(
            "INSERT INTO tenant_settings (tenant_id, name, value, updated_at, updated_by)"
            " VALUES (?,?,?,?,?)"
            " ON CONFLICT (tenant_id, name) DO UPDATE SET value = excluded.value,"
            " updated_at = excluded.updated_at, updated_by = excluded.updated_by",
            (tenant_id, APP_SEEN, json.dumps(value), audit.now_iso(), "zendesk_app"),
        )
        if seen is None and not value:
            return (
                current  # first look and the app says off: never overrides an "on" from elsewhere
            )
        if value != current:
            set_kill_switch(
                db,
                tenant_id,
                value,
                actor="zendesk_app",
                reason=f"Zendesk app setting {name!r} changed to {value}",
            )
            audit.record(
                db,
                tenant_id,
                KillSwitchSynced(
                    on=value,
                    source="zendesk_app",
                    latency_hint_s=round(time.monotonic() - started, 3),
                ),
            )
            logs.log(LOG, logging.WARNING, "kill_switch.synced", tenant=tenant_id, on=value)
        return value


def sync_tick(runtime: Runtime, tenant_id: str) -> None:
    """The scheduler job body: never raises (APScheduler would only log it)."""
    try:
        sync_from_app(runtime, tenant_id)
    except Exception:  # a bug here must not stop the scheduler thread
        LOG.exception("kill_switch.sync_error")


def schedule_tenants(scheduler: BaseScheduler, runtime: Runtime) -> list[str]:
    """Add one sync job per active tenant that has none yet (run at start and every minute)."""
    interval = float(runtime.config.get("kill_switch_sync_seconds", 5.0))
    added: list[str] = []
    existing = {j.id for j in scheduler.get_jobs()}
    for tenant_id in list_tenants(runtime.db):
        job_id = SYNC_JOB_PREFIX + tenant_id
        if job_id in existing:
            continue
        scheduler.add_job(
            sync_tick,
            "interval",
            seconds=interval,
            args=(runtime, tenant_id),
            id=job_id,
            replace_existing=True,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, int(interval)),
        )
        added.append(tenant_id)
    return added


def register_schedules(scheduler: BaseScheduler, runtime: Runtime) -> None:
    schedule_tenants(scheduler, runtime)
    scheduler.add_job(
        schedule_tenants,
        "interval",
        seconds=60,
        args=(scheduler, runtime),
        id="kill_switch_sync:tenants",
        replace_existing=True,
    )
