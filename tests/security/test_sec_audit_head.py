"""The signed audit head leaves the ledger on a schedule (a log line and an append-only file),
and `deskguard audit verify --expect-head <file>` uses that outside copy to find truncation."""

from __future__ import annotations

import json
import logging
import sqlite3

import psycopg
from apscheduler.schedulers.background import BackgroundScheduler

from connector import audit, pg
from connector import scheduler as scheduler_mod
from connector.cli import cli
from connector.runtime import Runtime


def write_events(runtime, n):
    for i in range(n):
        audit.record(runtime.db, "acme", audit.SecretStored(name=f"k{i}"))


def test_the_scheduler_publishes_the_head_to_the_log_and_the_file(
    runtime, config, tmp_path, caplog
):
    head_file = tmp_path / "outside" / "heads.jsonl"
    head_file.parent.mkdir()
    rt = Runtime(config | {"audit_head_file": str(head_file), "audit_head_interval_seconds": "60"})
    try:
        sched = scheduler_mod.build(rt)
        job = sched.get_job("audit_head")
        assert job is not None and job.trigger.interval.total_seconds() == 60
        write_events(rt, 3)
        with caplog.at_level(logging.INFO, logger="deskguard"):
            job.func(*job.args)
            write_events(rt, 2)
            job.func(*job.args)
        lines = [json.loads(line) for line in head_file.read_text().splitlines()]
        assert [h["rows"] for h in lines] == [lines[0]["rows"], lines[0]["rows"] + 2]
        logged = [r for r in caplog.records if r.getMessage() == "audit.head"]
        assert [r.fields["head"] for r in logged] == lines
        assert all(audit.check_head(rt.db, h) == [] for h in lines)
    finally:
        rt.close()


def test_no_head_job_when_the_interval_is_zero(config):
    rt = Runtime(config | {"audit_head_interval_seconds": "0"})
    try:
        sched = BackgroundScheduler()
        audit.register_schedules(sched, rt)
        assert sched.get_job("audit_head") is None
    finally:
        rt.close()


def test_verify_against_the_head_file_finds_truncation(
    runtime, config, tmp_path, cli_runner, ledger_location
):
    head_file = tmp_path / "heads.jsonl"
    write_events(runtime, 30)
    audit.publish_head(runtime.db, path=str(head_file))
    env = {"DESKGUARD_SECRET_KEYS": config["secret_keys"][0]}
    args = ["--db", ledger_location, "audit", "verify", "--expect-head", str(head_file)]
    assert cli_runner.invoke(cli, args, env=env).exit_code == 0
    # someone with write access to the ledger drops the trigger and cuts the tail
    if pg.is_postgres_url(ledger_location):
        with psycopg.connect(ledger_location) as conn:
            conn.execute("DROP TRIGGER audit_log_no_delete ON audit_log")
            conn.execute("DELETE FROM audit_log WHERE id > (SELECT MAX(id) - 20 FROM audit_log)")
    else:
        conn = sqlite3.connect(ledger_location)
        conn.execute("DROP TRIGGER audit_log_no_delete")
        conn.execute("DELETE FROM audit_log WHERE id > (SELECT MAX(id) - 20 FROM audit_log)")
        conn.commit()
    out = cli_runner.invoke(cli, args, env=env)
    assert out.exit_code == 1
    problem = json.loads(out.output)["problem"]
    assert "truncated" in problem and "is missing" in problem


def test_the_head_cli_prints_a_signed_head(runtime, config, cli_runner, ledger_location):
    write_events(runtime, 2)
    env = {"DESKGUARD_SECRET_KEYS": config["secret_keys"][0]}
    out = cli_runner.invoke(cli, ["--db", ledger_location, "audit", "head"], env=env)
    assert out.exit_code == 0, out.output
    head = json.loads(out.output)
    assert set(head) == {*audit.HEAD_FIELDS, "signature"} and head["scope"] == "*"
    tenant = cli_runner.invoke(
        cli, ["--db", ledger_location, "audit", "head", "--tenant", "acme"], env=env
    )
    assert json.loads(tenant.output)["scope"] == "acme"
    bad = cli_runner.invoke(
        cli, ["--db", ledger_location, "audit", "verify", "--expect-head", "{nope"], env=env
    )
    assert bad.exit_code == 2 and "--expect-head" in bad.output
