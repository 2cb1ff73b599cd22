"""Audit log: append-only in the ledger (SQLite or PostgreSQL), hash-chained, tamper-evident,
exportable."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess

import psycopg
import pytest

from connector import audit, audit_keys
from connector.cli import cli
from connector.db import IntegrityErrors, engine


def write_events(runtime, n=5):
    for i in range(n):
        audit.record(
            runtime.db,
            "acme",
            audit.SettingChanged(name=f"s{i}", old=None, new=i, actor="t", ticket_id=100 + i),
        )


def test_round_trip_and_verify(runtime):
    write_events(runtime)
    result = audit.verify(runtime.db)
    assert result.ok and result.rows >= 5
    rows = list(audit.rows(runtime.db, ticket_id=102))
    assert rows[0]["data"] == {"name": "s2", "old": None, "new": 2, "actor": "t", "reason": ""}


def test_update_and_delete_rejected_by_triggers(runtime):
    write_events(runtime, 1)
    with pytest.raises(IntegrityErrors, match="append-only"):
        runtime.db.conn.execute("UPDATE audit_log SET kind = 'x'")
    with pytest.raises(IntegrityErrors, match="append-only"):
        runtime.db.conn.execute("DELETE FROM audit_log")


def tamper_outside(location, sql):
    """Change the ledger the way someone with direct access would: the sqlite3 shell on the
    file, or psql-style as the table's owner on PostgreSQL, dropping the append-only triggers."""
    if location.startswith("postgresql://"):
        with psycopg.connect(location, autocommit=True) as conn:
            conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
            conn.execute(sql)
        return
    if shutil.which("sqlite3") is None:
        pytest.skip("the sqlite3 shell is not installed (make test installs it)")
    sql = "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete; " + sql
    subprocess.run(["sqlite3", str(location), sql], check=True, capture_output=True)


@pytest.mark.parametrize(
    "tamper, problem",
    [
        (
            "UPDATE audit_log SET data = replace(data, '\"new\":3', '\"new\":999') WHERE id = {id}",
            "data does not match its digest",
        ),
        ("UPDATE audit_log SET kind = 'setting.forged' WHERE id = {id}", "hash does not match"),
        ("DELETE FROM audit_log WHERE id = {id}", "missing"),
    ],
)
def test_tampering_from_outside_is_detected_and_named(
    runtime, config, cli_runner, ledger_location, tamper, problem
):
    write_events(runtime)
    target = next(r["id"] for r in audit.rows(runtime.db) if r["data"].get("name") == "s3")
    runtime.db.conn.commit()
    tamper_outside(ledger_location, tamper.format(id=target))
    result = audit.verify(runtime.db)
    assert not result.ok and result.bad_row == target and problem in result.problem
    out = cli_runner.invoke(
        cli,
        ["--db", ledger_location, "audit", "verify"],
        env={"DESKGUARD_SECRET_KEYS": config["secret_keys"][0]},
    )
    assert out.exit_code == 1
    assert json.loads(out.output)["bad_row"] == target


def test_rewriting_the_whole_tail_still_breaks_the_chain(runtime):
    write_events(runtime)
    conn = runtime.db.conn
    if engine(runtime.db) == "postgresql":
        conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
    else:
        conn.execute("DROP TRIGGER audit_log_no_update")
    # A forger recomputes this row's digest and hash but cannot fix the next row's prev_hash link.
    row = conn.execute(
        "SELECT id, tenant_id, ts, kind, ticket_id, job_id, prev_hash FROM audit_log "
        "ORDER BY id LIMIT 1 OFFSET 2"
    ).fetchone()
    data = audit.canonical_json({"forged": True})
    digest = audit.sha256(data)
    header = audit._header(row[0], row[1], row[2], row[3], row[4], row[5], digest)
    conn.execute(
        "UPDATE audit_log SET data = ?, data_digest = ?, hash = ? WHERE id = ?",
        (data, digest, audit._row_hash(audit_keys.for_db(runtime.db), row[6], header), row[0]),
    )
    result = audit.verify(runtime.db)
    assert not result.ok and result.bad_row == row[0] + 1


def test_redaction_tombstone_keeps_chain_valid(runtime):
    write_events(runtime)
    target = [r["id"] for r in audit.rows(runtime.db, ticket_id=101)]
    audit.redact(
        runtime.db, "acme", target, subject="customer:jane@example.com", tables={"decisions": 0}
    )
    assert audit.verify(runtime.db).ok
    redacted = next(audit.rows(runtime.db, ticket_id=101))
    assert redacted["redacted"] and redacted["data"] == {
        "redacted": 1,
        "subject": "customer:jane@example.com",
    }


def test_a_tombstone_without_a_redaction_event_fails_verification(runtime):
    write_events(runtime)
    target = next(audit.rows(runtime.db, ticket_id=103))["id"]
    runtime.db.conn.execute(
        "UPDATE audit_log SET data = '{\"redacted\":1}', redacted = 1 WHERE id = ?", (target,)
    )
    result = audit.verify(runtime.db)
    assert not result.ok and result.bad_row == target


def test_unregistered_event_is_refused(runtime):
    from dataclasses import dataclass
    from typing import ClassVar

    @dataclass(frozen=True)
    class Stray(audit.Event):
        kind: ClassVar[str] = "stray"

    with pytest.raises(TypeError):
        audit.record(runtime.db, "acme", Stray())


def test_export_jsonl_and_csv(runtime, config, cli_runner, ledger_location):
    write_events(runtime, 3)
    buf = io.StringIO()
    n = audit.export(runtime.db, buf, fmt="jsonl")
    lines = [json.loads(line) for line in buf.getvalue().splitlines()]
    assert n == len(lines) >= 3 and all("hash" in line for line in lines)
    env = {"DESKGUARD_SECRET_KEYS": config["secret_keys"][0]}
    out = cli_runner.invoke(
        cli,
        ["--db", ledger_location, "audit", "export", "--format", "csv", "--since", "1d"],
        env=env,
    )
    assert out.exit_code == 0, out.output
    table = list(csv.DictReader(io.StringIO(out.output)))
    assert {r["kind"] for r in table} >= {"setting.changed"}
    future = cli_runner.invoke(
        cli, ["--db", ledger_location, "audit", "export", "--since", "2999-01-01"], env=env
    )
    assert future.output == ""
    bad = cli_runner.invoke(
        cli, ["--db", ledger_location, "audit", "export", "--since", "last tuesday"], env=env
    )
    assert bad.exit_code != 0 and "--since" in bad.output
