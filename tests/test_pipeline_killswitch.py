"""The kill switch: CLI, admin API and Zendesk app settings, each measured against its bound."""

from __future__ import annotations

import threading
import time

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from connector import audit
from connector.cli import cli
from connector.devkit.fakes import FakeClassifier, FakeDesk, inject, make_reading
from connector.pipeline import killswitch
from connector.pipeline.engine import process_ticket
from connector.pipeline.killswitch import register_schedules
from connector.pipeline.policy import set_category_modes
from connector.runtime import Runtime
from connector.tenants import kill_switch_on, set_kill_switch
from connector.worker import WorkerPool, drain

TENANT = "acme"
AUTH = {"Authorization": "Bearer test-admin-token"}


def _test_ticket_job(runtime, job):
    process_ticket(runtime, job.tenant_id, job.payload["ticket_id"], job=job)


HANDLERS = {"pipeline.test_ticket": _test_ticket_job}


class TimedDesk(FakeDesk):
    """Records when each write *started* (the moment that must not follow a flip)."""

    def __init__(self, delay: float = 0.003):
        super().__init__()
        self.delay = delay
        self.started: list[float] = []
        self.lock = threading.Lock()

    def add_internal_note(self, *a, **kw):
        with self.lock:
            self.started.append(time.monotonic())
        time.sleep(self.delay)
        return super().add_internal_note(*a, **kw)


def test_cli_flip_stops_writes_within_one_second_and_loses_nothing(
    config, secret_key, cli_runner, tmp_path
):
    offset = [0.0]
    runtime = Runtime(config, clock=lambda: time.time() + offset[0])
    from connector.bootstrap import ensure_env_tenant
    from connector.db import migrate

    migrate(runtime.db)
    ensure_env_tenant(runtime)
    desk = TimedDesk()
    inject(runtime, desk=desk)
    inject(runtime, classifier=FakeClassifier(make_reading(category="product_question")))
    set_category_modes(runtime.db, TENANT, {"*": "assist"}, actor="test")
    n = 300
    for tid in range(1, n + 1):
        desk.add_ticket(tid, "Is this jacket waterproof?", email=f"c{tid}@example.com")
        runtime.queue.enqueue(TENANT, "pipeline.test_ticket", {"ticket_id": tid}, f"t{tid}")
    pool = WorkerPool(runtime, HANDLERS, 4, idle_sleep=0.01)
    pool.start()
    try:
        deadline = time.monotonic() + 20
        while len(desk.started) < 20 and time.monotonic() < deadline:
            time.sleep(0.005)
        t0 = time.monotonic()
        result = cli_runner.invoke(
            cli,
            [
                "--db",
                config["database_url"] or config["db_path"],
                "kill-switch",
                "on",
                "--tenant",
                TENANT,
                "--reason",
                "test",
            ],
            obj={},
            env={"DESKGUARD_SECRET_KEYS": secret_key, "DESKGUARD_TENANT_ID": TENANT},
        )
        assert result.exit_code == 0, result.output
        time.sleep(1.5)
        with desk.lock:
            after = [s - t0 for s in desk.started if s > t0]
        latency = max(after, default=0.0)
        print(
            f"kill switch via CLI: last write started {latency * 1000:.1f} ms "
            "after the flip began; "
            f"{len(desk.started)} of {n} written before it"
        )
        assert latency <= 1.0
        assert len(desk.started) < n  # the flip landed mid-stream
    finally:
        pool.stop()
    states = dict(
        runtime.db.conn.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall()
    )
    assert "dead" not in states and states.get("queued", 0) > 0  # deferred, not lost
    set_kill_switch(runtime.db, TENANT, False, actor="test")
    offset[0] = 60.0  # past the deferral delay
    drain(runtime, HANDLERS)
    per_ticket = {}
    for _kind, tid, _ in desk.writes:
        per_ticket[tid] = per_ticket.get(tid, 0) + 1
    assert per_ticket == {tid: 1 for tid in range(1, n + 1)}  # everyone served once, nobody twice
    runtime.close()


def test_admin_api_flip_is_immediate_and_audited(runtime, client):
    desk = FakeDesk()
    inject(runtime, desk=desk)
    inject(runtime, classifier=FakeClassifier(make_reading()))
    set_category_modes(runtime.db, TENANT, {"*": "assist"}, actor="test")
    desk.add_ticket(1, "Where is my order?")
    t0 = time.monotonic()
    r = client.put(
        f"/api/v1/tenants/{TENANT}/kill-switch",
        json={"on": True, "reason": "incident 42"},
        headers={**AUTH, "X-Deskguard-Actor": "ops@acme"},
    )
    assert r.status_code == 200 and r.json["on"] is True and r.json["changed"] is True
    from connector.errors import KillSwitchEngaged

    with pytest.raises(KillSwitchEngaged):
        process_ticket(runtime, TENANT, 1)
    assert time.monotonic() - t0 <= 1.0 and desk.writes == []
    status = client.get(f"/api/v1/tenants/{TENANT}/kill-switch", headers=AUTH).json
    assert (
        status["on"] is True
        and status["updated_by"] == "admin_api:ops@acme"
        and status["reason"] == "incident 42"
    )
    assert (
        client.post(f"/api/v1/tenants/{TENANT}/kill-switch", json={"on": False}, headers=AUTH).json[
            "on"
        ]
        is False
    )
    kinds = [r["kind"] for r in audit.rows(runtime.db, tenant_id=TENANT)]
    assert "action.blocked" in kinds


@pytest.mark.parametrize(
    ("headers", "path", "body", "status", "code"),
    [
        ({}, "/api/v1/tenants/acme/kill-switch", None, 401, "unauthorized"),
        (
            {"Authorization": "Bearer nope"},
            "/api/v1/tenants/acme/kill-switch",
            None,
            401,
            "unauthorized",
        ),
        (AUTH, "/api/v1/tenants/ghost/kill-switch", None, 404, "not_found"),
        (AUTH, "/api/v1/tenants/acme/kill-switch", {"on": "yes"}, 400, "bad_request"),
        (AUTH, "/api/v1/tenants/acme/kill-switch", ["on"], 400, "bad_request"),
    ],
)
def test_admin_api_refuses_bad_requests(client, headers, path, body, status, code):
    r = (
        client.put(path, json=body, headers=headers)
        if body is not None
        else client.get(path, headers=headers)
    )
    assert r.status_code == status and r.json["error"]["code"] == code


def test_admin_api_is_off_without_a_token(config):
    from connector.web import create_app

    app = create_app({**config, "admin_token": None})
    r = app.test_client().get("/api/v1/tenants/acme/kill-switch", headers=AUTH)
    assert r.status_code == 403 and r.json["error"]["code"] == "admin_api_disabled"


def test_cli_status_and_errors(runtime, cli_runner, config, secret_key):
    env = {"DESKGUARD_SECRET_KEYS": secret_key, "DESKGUARD_TENANT_ID": TENANT}
    ledger = config["database_url"] or config["db_path"]
    r = cli_runner.invoke(cli, ["--db", ledger, "kill-switch", "status"], obj={}, env=env)
    assert r.exit_code == 0 and '"on": false' in r.output
    r = cli_runner.invoke(
        cli, ["--db", ledger, "kill-switch", "on", "--tenant", "ghost"], obj={}, env=env
    )
    assert r.exit_code != 0 and "unknown tenant 'ghost'" in r.output


def test_app_setting_sync_is_edge_triggered(runtime):
    desk = FakeDesk(app_settings={"kill_switch": False})
    inject(runtime, desk=desk)
    assert killswitch.sync_from_app(runtime, TENANT) is False
    # An operator turns it on from the CLI; the app still says off: the sync must not undo that.
    set_kill_switch(runtime.db, TENANT, True, actor="cli")
    assert killswitch.sync_from_app(runtime, TENANT) is True
    desk.app_settings["kill_switch"] = "true"  # the app checkbox is ticked (strings arrive too)
    assert killswitch.sync_from_app(runtime, TENANT) is True
    desk.app_settings["kill_switch"] = False  # …and unticked: that change is followed
    assert killswitch.sync_from_app(runtime, TENANT) is False
    assert not kill_switch_on(runtime.db, TENANT)
    synced = [
        r["data"]
        for r in audit.rows(runtime.db, tenant_id=TENANT)
        if r["kind"] == "kill_switch.synced"
    ]
    assert synced[-1]["on"] is False and synced[-1]["source"] == "zendesk_app"
    desk.app_settings = {}  # setting missing (app not installed): nothing changes
    assert killswitch.sync_from_app(runtime, TENANT) is None


def test_app_setting_first_seen_on_turns_the_switch_on(runtime):
    inject(runtime, desk=FakeDesk(app_settings={"kill_switch": True}))
    assert killswitch.sync_from_app(runtime, TENANT) is True
    assert kill_switch_on(runtime.db, TENANT)


def test_app_setting_flip_takes_effect_within_ten_seconds(runtime):
    """Real APScheduler at the default interval (DESKGUARD_KILL_SWITCH_SYNC_SECONDS=5)."""
    assert runtime.config.kill_switch_sync_seconds <= 5
    desk = FakeDesk(app_settings={"kill_switch": False})
    inject(runtime, desk=desk)
    killswitch.sync_from_app(runtime, TENANT)  # the sync has seen "off" before
    scheduler = BackgroundScheduler(timezone="UTC")
    register_schedules(scheduler, runtime)
    assert f"kill_switch_sync:{TENANT}" in {j.id for j in scheduler.get_jobs()}
    scheduler.start()
    try:
        t0 = time.monotonic()
        desk.app_settings["kill_switch"] = True  # an admin ticks the box in Zendesk
        while not kill_switch_on(runtime.db, TENANT) and time.monotonic() - t0 < 12:
            time.sleep(0.02)
        latency = time.monotonic() - t0
    finally:
        scheduler.shutdown(wait=True)
    print(f"kill switch via Zendesk app setting: on after {latency:.2f} s")
    assert kill_switch_on(runtime.db, TENANT)
    assert latency <= 10.0
