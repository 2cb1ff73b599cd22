"""`deskguard backup` / `restore`: a verified online copy under write load, rotation, and a
restore that will not overwrite a live ledger by accident."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from helpers.ledger_load import enqueue_until

from connector import leases
from connector.backup import backup, check_ledger_file, list_backups, live_reason, restore
from connector.cli import cli
from connector.errors import ConfigError
from connector.runtime import Runtime

# The SQLite file's backups; PostgreSQL's (pg_dump) are in tests/test_backup_postgres.py.
pytestmark = pytest.mark.sqlite_only


def test_backup_under_write_load_restores_to_a_consistent_ledger(runtime, tmp_path):
    stop = threading.Event()
    counter = [0]
    writer = threading.Thread(target=enqueue_until, args=(runtime, stop, counter))
    writer.start()
    try:
        # Wait until the writer has really written, then copy while it keeps going.
        while counter[0] < 200:
            time.sleep(0.001)
        result = backup(runtime.config.db_path, tmp_path / "bk", keep=3, pages_per_step=1)
        written_during = counter[0]
    finally:
        stop.set()
        writer.join()
    assert counter[0] >= 200
    copy = result.path
    rows = check_ledger_file(copy)
    assert rows == result.rows
    # A snapshot: every job in it is whole, and none is from after the copy finished.
    assert 200 <= rows["jobs"] <= written_during + 1
    conn = sqlite3.connect(copy)
    payloads = [json.loads(p) for (p,) in conn.execute("SELECT payload FROM jobs")]
    conn.close()
    assert all("ticket_id" in p for p in payloads)

    target = tmp_path / "restored" / "ledger.db"
    out = restore(copy, target)
    assert out["rows"] == rows
    restored = Runtime({**dict(runtime.config._values), "db_path": str(target)})
    try:
        n = restored.db.conn.execute("SELECT count(*) FROM jobs").fetchone()[0]
        assert n == rows["jobs"]
        assert restored.db.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        restored.close()


def test_backup_keeps_only_the_newest_copies(runtime, tmp_path):
    start = datetime(2026, 12, 1, tzinfo=UTC)
    made = [
        backup(runtime.config.db_path, tmp_path, keep=2, now=start + timedelta(hours=i)).path
        for i in range(4)
    ]
    assert [str(p) for p in list_backups(tmp_path)] == made[-2:]


def test_restore_refuses_a_ledger_in_use_and_keeps_the_old_one_when_forced(runtime, tmp_path):
    copy = backup(runtime.config.db_path, tmp_path / "bk", keep=1).path
    live = runtime.config.db_path
    runtime.queue.enqueue("acme", "zendesk.ticket", {"ticket_id": 7}, "after-backup")
    with pytest.raises(ConfigError, match="refusing to overwrite"):
        restore(copy, live)  # written a moment ago

    # A live scheduler lease (held by a process on this or another machine) refuses the restore;
    # an expired one (a leader that crashed) is no reason to.
    now = time.time()
    assert leases.acquire(runtime.db, "scheduler", "other-host:41:ab12", 60, now)
    with pytest.raises(ConfigError, match=r"holds its scheduler lease \(other-host:41:ab12"):
        restore(copy, live, idle_seconds=0)
    assert leases.acquire(runtime.db, "scheduler", "other-host:41:ab12", 60, now - 120)
    assert live_reason(live, idle_seconds=0) is None
    assert leases.release(runtime.db, "scheduler", "other-host:41:ab12")

    runtime.close()
    out = restore(copy, live, force=True)
    kept = out["kept"]
    assert kept and os.path.exists(kept)
    old = sqlite3.connect(kept)
    assert old.execute("SELECT count(*) FROM jobs WHERE dedupe_key='after-backup'").fetchone()[0]
    old.close()
    new = sqlite3.connect(live)
    assert not new.execute("SELECT count(*) FROM jobs WHERE dedupe_key='after-backup'").fetchone()[
        0
    ]
    new.close()


def test_restore_refuses_a_damaged_backup(tmp_path):
    bad = tmp_path / "deskguard-bad.db"
    bad.write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    with pytest.raises(ConfigError, match=r"not a readable SQLite ledger|integrity"):
        restore(bad, tmp_path / "ledger.db")
    assert not (tmp_path / "ledger.db").exists()


def test_backup_and_restore_commands(runtime, cli_runner, tmp_path):
    db = runtime.config.db_path
    env = {"DESKGUARD_BACKUP_DIR": str(tmp_path / "bk"), "DESKGUARD_BACKUP_KEEP": "5"}
    out = cli_runner.invoke(cli, ["--db", db, "backup"], env=env)
    assert out.exit_code == 0, out.output
    made = json.loads(out.output)
    assert made["path"].startswith(str(tmp_path / "bk")) and made["rows"]["tenants"] >= 1

    refused = cli_runner.invoke(cli, ["--db", db, "restore", made["path"]], env=env)
    assert refused.exit_code != 0 and "refusing to overwrite" in refused.output

    missing = cli_runner.invoke(cli, ["--db", db, "restore", str(tmp_path / "nope.db")], env=env)
    assert missing.exit_code != 0 and "does not exist" in missing.output

    assert cli_runner.invoke(cli, ["--version"]).output.startswith("deskguard ")
