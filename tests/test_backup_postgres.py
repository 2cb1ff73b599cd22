"""`deskguard backup` / `restore` on a PostgreSQL ledger: pg_dump of the ledger's schema under
write load, read back with pg_restore, rotation, and a restore that refuses a live ledger and
keeps the schema it replaces."""

from __future__ import annotations

import json
import threading
import time

import psycopg
import pytest
from helpers.ledger_load import enqueue_until

from connector import audit, leases
from connector.backup import backup_postgres, dump_row_counts, list_backups, restore_postgres
from connector.cli import cli
from connector.db import Ledger
from connector.errors import ConfigError

pytestmark = pytest.mark.postgres_only


def test_backup_under_write_load_is_one_snapshot_that_restores(runtime, ledger_location, tmp_path):
    stop = threading.Event()
    counter = [0]
    writer = threading.Thread(target=enqueue_until, args=(runtime, stop, counter))
    writer.start()
    try:
        deadline = time.monotonic() + 60
        while counter[0] < 200:  # the writer has really written before the copy starts
            assert time.monotonic() < deadline
            time.sleep(0.001)
        result = backup_postgres(ledger_location, tmp_path / "bk", keep=3)
        written_during = counter[0]
    finally:
        stop.set()
        writer.join()
    assert result.path.endswith(".dump") and result.bytes > 0
    assert 200 <= result.rows["jobs"] <= written_during + 1
    assert dump_row_counts(result.path) == result.rows
    audit.record(runtime.db, "acme", audit.SettingChanged(name="after", old=0, new=1, actor="t"))

    runtime.close()
    out = restore_postgres(result.path, ledger_location)
    assert out["rows"] == result.rows and "pre_restore" in out["kept"]
    with psycopg.connect(ledger_location) as conn:
        assert conn.execute("SELECT count(*) FROM jobs").fetchone()[0] == result.rows["jobs"]
        kept = conn.execute(f'SELECT count(*) FROM "{out["kept"]}".jobs').fetchone()[0]
        assert kept >= result.rows["jobs"]
        # The restored ledger is whole: functions, triggers and the chain came back with it.
        assert conn.execute("SELECT json_extract('{\"a\":{\"b\":2}}', '$.a.b')").fetchone() == (
            "2",
        )
        with pytest.raises(psycopg.errors.IntegrityConstraintViolation):
            conn.execute("DELETE FROM audit_log")
    from connector.runtime import Runtime

    restored = Runtime({**dict(runtime.config._values)})
    assert audit.verify(restored.db).ok
    kinds = [r["kind"] for r in audit.rows(restored.db)]
    assert "setting.changed" not in kinds  # written after the copy: only in the kept schema
    restored.close()


def test_restore_refuses_a_live_ledger(runtime, ledger_location, tmp_path):
    copy = backup_postgres(ledger_location, tmp_path / "bk", keep=1).path
    assert leases.acquire(runtime.db, "scheduler", "other-host:41:ab12", 60, time.time())
    with pytest.raises(ConfigError, match=r"holds its scheduler lease \(other-host:41:ab12"):
        restore_postgres(copy, ledger_location)
    assert leases.release(runtime.db, "scheduler", "other-host:41:ab12")
    runtime.close()
    other = Ledger(ledger_location)  # another web or worker process, still connected
    other.db.execute("SELECT 1")
    with pytest.raises(ConfigError, match="1 other Deskguard session"):
        restore_postgres(copy, ledger_location)
    other.close()
    with psycopg.connect(ledger_location) as stranger:  # psql, a monitoring agent: not ours
        stranger.execute("SELECT 1")
        assert restore_postgres(copy, ledger_location)["kept"]


def test_a_damaged_dump_is_refused_and_the_ledger_left_alone(runtime, ledger_location, tmp_path):
    bad = tmp_path / "deskguard-bad.dump"
    bad.write_bytes(b"PGDMP" + b"\x00" * 200)
    runtime.close()
    with pytest.raises(ConfigError, match="pg_restore failed"):
        restore_postgres(bad, ledger_location)
    with psycopg.connect(ledger_location) as conn:
        assert conn.execute("SELECT count(*) FROM tenants").fetchone()[0] >= 1


def test_rotation_and_the_commands(runtime, cli_runner, ledger_location, tmp_path):
    env = {
        "DESKGUARD_BACKUP_DIR": str(tmp_path / "bk"),
        "DESKGUARD_BACKUP_KEEP": "2",
        "DESKGUARD_SECRET_KEYS": runtime.config.secret_keys[0],
    }
    made = []
    for _ in range(3):
        out = cli_runner.invoke(cli, ["--db", ledger_location, "backup"], env=env)
        assert out.exit_code == 0, out.output
        made.append(json.loads(out.output)["path"])
    assert [str(p) for p in list_backups(tmp_path / "bk")] == made[-2:]
    refused = cli_runner.invoke(cli, ["--db", ledger_location, "restore", made[-1]], env=env)
    assert refused.exit_code != 0 and "refusing to overwrite" in refused.output
    runtime.close()
    restored = cli_runner.invoke(cli, ["--db", ledger_location, "restore", made[-1]], env=env)
    assert restored.exit_code == 0, restored.output
    assert "***" in json.loads(restored.output)["restored"] or "@" not in ledger_location
