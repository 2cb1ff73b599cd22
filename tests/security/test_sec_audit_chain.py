"""Attacks on the audit chain by someone who can write the ledger but does not hold the key.

The attacker works on the ledger itself (the sqlite3 module on the file, or psycopg on the
PostgreSQL ledger): drops the append-only triggers, deletes or edits rows, and re-chains
everything after the edit, knowing the algorithm. ``verify`` alone catches every re-chaining;
truncation of the tail is caught by comparing with a signed head kept outside the ledger
(``--expect-head``).
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import psycopg
import pytest

from connector import audit, audit_keys, pg
from connector.audit_keys import AuditKey, Keyring
from connector.cli import cli
from connector.db import table_names
from connector.runtime import Runtime

ROWS = 150


def write_events(runtime, n=ROWS, start=0):
    for i in range(start, start + n):
        audit.record(
            runtime.db,
            "acme",
            audit.SettingChanged(name=f"s{i}", old=None, new=i, actor="t", ticket_id=1000 + i),
        )


def location(config) -> str:
    """The ledger of the run: the PostgreSQL URL, or the SQLite file."""
    return config["database_url"] or config["db_path"]


class Attacker:
    """The attacker's own connection to the ledger, with the append-only triggers dropped."""

    def __init__(self, where: str):
        self.postgres = pg.is_postgres_url(where)
        self.conn: Any = (
            psycopg.connect(where, autocommit=True) if self.postgres else sqlite3.connect(where)
        )
        for trigger in ("audit_log_no_update", "audit_log_no_delete"):
            on = " ON audit_log" if self.postgres else ""
            self.execute(f"DROP TRIGGER IF EXISTS {trigger}{on}")

    def execute(self, sql: str, params: tuple = ()) -> Any:
        return self.conn.execute(pg.translate(sql) if self.postgres else sql, params)

    def commit(self) -> None:
        self.conn.commit()


def ledger_dump(runtime) -> tuple[str, bytes]:
    """Every value of every table, as text and as raw bytes."""
    text: list[str] = []
    raw: list[bytes] = []
    for table in sorted(table_names(runtime.db)):
        for row in runtime.db.conn.execute(f'SELECT * FROM "{table}"'):
            for value in row:
                if isinstance(value, bytes | memoryview):
                    raw.append(bytes(value))
                    text.append(bytes(value).hex())
                else:
                    text.append(str(value))
    return "\n".join(text), b"\n".join(raw)


def ids(conn) -> list[int]:
    return [r[0] for r in conn.execute("SELECT id FROM audit_log ORDER BY id")]


def plain_sha256(prev, header):
    return audit.sha256(prev + audit.canonical_json(header))


def rewrite(conn, edited: set[int], from_id: int, rehash, to_id: int | None = None) -> str:
    """Edit the data of ``edited`` rows, then re-chain every row from ``from_id`` (to ``to_id``);
    returns the last hash written."""
    rows = conn.execute(
        "SELECT id, tenant_id, ts, kind, ticket_id, job_id, data, data_digest, prev_hash"
        " FROM audit_log WHERE id >= ? AND id <= ? ORDER BY id",
        (from_id, to_id if to_id is not None else 2**62),
    ).fetchall()
    prev = rows[0][8]
    for row_id, tenant, ts, kind, ticket, job, data, digest, _prev in rows:
        if row_id in edited:
            body = json.loads(data)
            body["new"] = "forged"
            data = audit.canonical_json(body)
            digest = audit.sha256(data)
        header = audit._header(row_id, tenant, ts, kind, ticket, job, digest)
        new_hash = rehash(prev, header)
        conn.execute(
            "UPDATE audit_log SET data = ?, data_digest = ?, prev_hash = ?, hash = ? WHERE id = ?",
            (data, digest, prev, new_hash, row_id),
        )
        prev = new_hash
    conn.commit()
    return prev


@pytest.fixture
def ledger(runtime, config):
    write_events(runtime)
    return runtime, location(config)


def cli_verify(cli_runner, config, *extra):
    out = cli_runner.invoke(
        cli,
        ["--db", location(config), "audit", "verify", *extra],
        env={"DESKGUARD_SECRET_KEYS": config["secret_keys"][0]},
    )
    return out.exit_code, json.loads(out.output) if out.output.startswith("{") else out.output


def test_rows_are_keyed_and_the_key_is_not_in_the_ledger(ledger):
    runtime, db_path = ledger
    key = audit_keys.for_db(runtime.db).signer
    assert key is not None
    assert all(r["hash"].startswith(f"hmac:{key.kid}:") for r in audit.rows(runtime.db))
    text, raw = ledger_dump(runtime)
    assert "audit_log" in table_names(runtime.db) and text  # something was read
    assert key.key.hex() not in text and key.key not in text.encode() and key.key not in raw
    if not pg.is_postgres_url(db_path):  # the file as a whole, schema included
        dump = "\n".join(sqlite3.connect(db_path).iterdump())
        assert key.key.hex() not in dump and key.key not in dump.encode()


def test_deleting_the_last_20_rows_is_caught_by_the_outside_head(ledger, cli_runner, config):
    runtime, db_path = ledger
    head = audit.head(runtime.db)  # the copy the scheduler wrote to the log / head file
    conn = Attacker(db_path)
    last = ids(conn)[-20:]
    conn.execute("DELETE FROM audit_log WHERE id >= ?", (last[0],))
    conn.commit()
    # What verify alone proves: the remaining chain is intact. It cannot see a cut-off tail.
    assert audit.verify(runtime.db).ok
    result = audit.verify(runtime.db, expect_head=head)
    assert not result.ok
    assert f"row {head['last_id']} (the head's last row) is missing" in result.problem
    assert f"the head counted {head['rows']} rows" in result.problem
    code, body = cli_verify(cli_runner, config, "--expect-head", json.dumps(head))
    assert code == 1 and "truncated" in body["problem"]


def test_editing_74_rows_and_rechaining_with_plain_sha256_is_caught(ledger, cli_runner, config):
    runtime, db_path = ledger
    conn = Attacker(db_path)
    all_ids = ids(conn)
    edited = set(all_ids[40 : 40 + 74])
    rewrite(conn, edited, min(edited), plain_sha256)
    result = audit.verify(runtime.db)
    assert not result.ok and result.bad_row == min(edited)
    assert "bare sha256 after the chain was keyed" in result.problem
    code, body = cli_verify(cli_runner, config)
    assert code == 1 and body["bad_row"] == min(edited)


def test_rechaining_the_whole_ledger_with_plain_sha256_is_caught(ledger):
    """The downgrade: every row rewritten as if the chain had never been keyed."""
    runtime, db_path = ledger
    conn = Attacker(db_path)
    all_ids = ids(conn)
    rewrite(conn, set(all_ids[40 : 40 + 74]), all_ids[0], plain_sha256)
    result = audit.verify(runtime.db)
    assert not result.ok and "no keyed row seals them" in result.problem


@pytest.mark.parametrize("kid", ["attacker", "real"])
def test_rechaining_with_the_real_algorithm_and_a_wrong_key_is_caught(ledger, kid):
    runtime, db_path = ledger
    real = audit_keys.for_db(runtime.db).signer
    assert real is not None
    wrong_bytes = b"\x01" * 32
    wrong = AuditKey(
        audit_keys.key_id(wrong_bytes) if kid == "attacker" else real.kid, wrong_bytes, "x"
    )
    conn = Attacker(db_path)
    all_ids = ids(conn)
    edited = set(all_ids[40 : 40 + 74])
    rewrite(conn, edited, min(edited), lambda prev, header: audit._keyed_hash(wrong, prev, header))
    result = audit.verify(runtime.db)
    assert not result.ok and result.bad_row == min(edited)
    expected = "not configured" if kid == "attacker" else "chained with a wrong key"
    assert expected in result.problem


def test_rechaining_is_named_against_the_head(ledger):
    """A head taken before the edit: the digest at its row differs (re-chained)."""
    runtime, db_path = ledger
    head = audit.head(runtime.db)
    conn = Attacker(db_path)
    all_ids = ids(conn)
    rewrite(conn, {all_ids[100]}, all_ids[100], plain_sha256)
    problems = audit.check_head(runtime.db, head)
    assert problems == [f"re-chained: the digest of row {head['last_id']} differs from the head's"]


def test_a_forged_head_is_refused(ledger):
    runtime, db_path = ledger
    head = audit.head(runtime.db)
    conn = Attacker(db_path)
    conn.execute("DELETE FROM audit_log WHERE id > ?", (head["last_id"] - 20,))
    conn.commit()
    # The attacker also edits the outside head to match the shortened ledger.
    shorter = audit.head(runtime.db)
    forged = {**head, "rows": shorter["rows"], "last_id": shorter["last_id"]}
    forged["digest"] = shorter["digest"]
    problems = audit.check_head(runtime.db, forged)
    assert problems == ["the head's signature does not match (the head was edited or forged)"]


def test_a_tenant_head_finds_that_tenants_missing_rows(ledger):
    runtime, db_path = ledger
    audit.record(runtime.db, "globex", audit.SecretStored(name="x"))
    head = audit.head(runtime.db, tenant_id="acme")
    acme_rows = list(audit.rows(runtime.db, tenant_id="acme"))
    assert head["scope"] == "acme" and head["rows"] == len(acme_rows) >= ROWS
    assert head["last_id"] == acme_rows[-1]["id"]
    assert audit.check_head(runtime.db, head) == []
    conn = Attacker(db_path)
    conn.execute("DELETE FROM audit_log WHERE id >= ?", (head["last_id"],))
    conn.commit()
    assert "truncated" in " ".join(audit.check_head(runtime.db, head))


def test_an_old_unkeyed_ledger_still_verifies_and_is_bound_by_the_first_keyed_row(
    config, monkeypatch
):
    """A ledger written before the chain was keyed: its rows stay as they are (never rewritten);
    the first keyed row binds their last hash, so editing them afterwards is caught."""
    db_path = location(config)
    runtime = Runtime(config)
    from connector.db import migrate

    migrate(runtime.db)
    with monkeypatch.context() as m:  # as the release before keying wrote them
        m.setattr(audit_keys, "for_db", lambda db: Keyring())
        write_events(runtime, 30)
    assert all(len(r["hash"]) == 64 for r in audit.rows(runtime.db))
    # upgraded: the same ledger, now with a key
    unsealed = audit.verify(runtime.db)
    assert not unsealed.ok and "deskguard audit seal" in unsealed.problem
    audit.seal(runtime.db)
    write_events(runtime, 10, start=30)
    result = audit.verify(runtime.db)
    assert result.ok and result.legacy_rows == 30 and sum(result.key_ids.values()) == 11
    # a privacy erasure of an old row still verifies
    old = next(audit.rows(runtime.db, ticket_id=1005))["id"]
    audit.redact(runtime.db, "acme", [old], subject="customer:x", tables={})
    assert audit.verify(runtime.db).ok
    # editing an old row and re-chaining the unkeyed prefix breaks the first keyed row
    conn = Attacker(db_path)
    last_old = rewrite(conn, {3}, 3, plain_sha256, to_id=30)
    conn.execute("UPDATE audit_log SET prev_hash = ? WHERE id = 31", (last_old,))
    conn.commit()
    broken = audit.verify(runtime.db)
    assert not broken.ok and broken.bad_row == 31 and "hash does not match" in broken.problem
    runtime.close()


def test_key_rotation_keeps_old_rows_verifiable(config, tmp_path):
    old_key, new_key = audit_keys.new_key(), audit_keys.new_key()
    base = {**config, "secret_keys": None}
    first = Runtime({**base, "audit_keys": old_key})
    from connector.db import migrate

    migrate(first.db)
    write_events(first, 5)
    rotated = Runtime({**base, "audit_keys": f"{new_key},{old_key}"})
    write_events(rotated, 5, start=5)
    result = audit.verify(rotated.db)
    assert result.ok and sorted(result.key_ids.values()) == [5, 5]
    dropped = Runtime({**base, "audit_keys": new_key})
    result = audit.verify(dropped.db)
    old_kid = audit_keys.key_id(audit_keys.decode_key(old_key))
    assert not result.ok and f"audit key {old_kid}, which is not configured" in result.problem
    for rt in (first, rotated, dropped):
        rt.close()


def test_a_malformed_audit_key_fails_at_start_up_naming_the_setting(config, cli_runner):
    out = cli_runner.invoke(
        cli,
        ["--db", location(config), "audit", "verify"],
        env={"DESKGUARD_SECRET_KEYS": config["secret_keys"][0], "DESKGUARD_AUDIT_KEYS": "short"},
    )
    assert out.exit_code != 0
    assert "DESKGUARD_AUDIT_KEYS" in out.output and "short" not in out.output.replace("shorter", "")


def test_the_head_cannot_be_signed_without_a_key(config):
    runtime = Runtime({**config, "secret_keys": None})
    from connector.db import migrate
    from connector.errors import ConfigError

    migrate(runtime.db)
    with pytest.raises(ConfigError, match="no audit key"):
        audit.head(runtime.db)
    runtime.close()
