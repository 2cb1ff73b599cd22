"""Settings, secrets at rest, migrations, the web app's shared behaviour, logs and the CLI."""

from __future__ import annotations

import io
import json
import logging
import re
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from connector import logs
from connector.cli import cli
from connector.db import connect, migrate, pending_migrations, table_columns, table_names
from connector.errors import ConfigError
from connector.runtime import Runtime
from connector.secrets import SecretBox, SecretValue
from connector.settings import SETTINGS, env_example_text, load_config, settings_table_text
from connector.web import create_app

ROOT = Path(__file__).resolve().parent.parent


# --- settings ---------------------------------------------------------------------------
def test_every_setting_is_in_env_example_and_configuration_docs():
    env_example = (ROOT / ".env.example").read_text()
    doc = (ROOT / "docs/configuration.md").read_text()
    missing_env = [s.env for s in SETTINGS if not re.search(rf"^# {s.env}=", env_example, re.M)]
    missing_doc = [s.env for s in SETTINGS if f"`{s.env}`" not in doc]
    assert not missing_env, (
        f"missing from .env.example (run `deskguard config docs --write`): {missing_env}"
    )
    assert not missing_doc, (
        f"missing from docs/configuration.md (`deskguard config docs --write`): {missing_doc}"
    )
    # and both are exactly what the table generates (help and defaults stay true too)
    assert env_example == env_example_text()
    assert settings_table_text() in doc


def test_settings_are_unique_and_documented():
    names = [s.name for s in SETTINGS]
    envs = [s.env for s in SETTINGS]
    assert len(names) == len(set(names)) and len(envs) == len(set(envs))
    for s in SETTINGS:
        assert s.env.startswith("DESKGUARD_") and s.help.strip(), s
        if s.default is not None:
            s.parse(s.default)  # every default parses


def test_precedence_override_env_dotenv_default(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("DESKGUARD_WORKER_THREADS=3\nDESKGUARD_LOG_LEVEL=debug\n")
    cfg = load_config(
        {"log_level": "error"}, environ={"DESKGUARD_WORKER_THREADS": "5"}, dotenv_path=dotenv
    )
    assert cfg.worker_threads == 5 and cfg.source("worker_threads") == "environment"
    assert cfg.log_level == "error" and cfg.source("log_level") == "override"
    assert cfg.queue_max_attempts == 8 and cfg.source("queue_max_attempts") == "default"
    cfg = load_config(environ={}, dotenv_path=dotenv)
    assert cfg.worker_threads == 3 and cfg.source("worker_threads") == ".env"


@pytest.mark.parametrize(
    "env, value",
    [
        ("DESKGUARD_WORKER_THREADS", "zero"),
        ("DESKGUARD_WORKER_THREADS", "0"),
        ("DESKGUARD_LOG_FORMAT", "xml"),
        ("DESKGUARD_RUN_SCHEDULER", "perhaps"),
    ],
)
def test_bad_values_name_the_variable(env, value):
    with pytest.raises(ConfigError, match=env):
        load_config(environ={env: value}, dotenv_path=None)


def test_config_check_masks_secrets_and_fails_on_bad_values(cli_runner, tmp_path):
    key = Fernet.generate_key().decode()
    env = {
        "DESKGUARD_SECRET_KEYS": key,
        "DESKGUARD_ADMIN_TOKEN": "super-secret-admin",
        "DESKGUARD_DB_PATH": str(tmp_path / "x.db"),
    }
    out = cli_runner.invoke(cli, ["config", "check", "--json"], env=env)
    assert out.exit_code == 0, out.output
    assert key not in out.output and "super-secret-admin" not in out.output
    data = json.loads(out.output)
    assert data["settings"]["admin_token"]["value"] == "********"
    people = cli_runner.invoke(cli, ["config", "check", "--all"], env=env)
    assert people.exit_code == 0 and "DESKGUARD_ADMIN_TOKEN = ********" in people.output
    assert key not in people.output and "super-secret-admin" not in people.output
    bad = cli_runner.invoke(
        cli, ["config", "check"], env={**env, "DESKGUARD_QUEUE_MAX_ATTEMPTS": "-3"}
    )
    assert bad.exit_code != 0 and "DESKGUARD_QUEUE_MAX_ATTEMPTS" in bad.output
    malformed = cli_runner.invoke(
        cli, ["config", "check"], env={**env, "DESKGUARD_SECRET_KEYS": "not-a-key"}
    )
    assert malformed.exit_code != 0 and "DESKGUARD_SECRET_KEYS" in malformed.output
    assert "not-a-key" not in malformed.output


# --- secrets at rest ----------------------------------------------------------------------
def test_missing_or_malformed_key_fails_clearly():
    with pytest.raises(ConfigError, match="DESKGUARD_SECRET_KEYS is not set"):
        SecretBox(None)
    with pytest.raises(ConfigError, match="key #2 is malformed"):
        SecretBox([Fernet.generate_key().decode(), "short"])


def test_secrets_are_encrypted_at_rest_and_rotate(runtime, config, cli_runner, ledger_location):
    runtime.secrets.put(runtime.db, "acme", "zendesk_token", "tok-123")
    stored = runtime.db.conn.execute("SELECT ciphertext FROM secrets").fetchone()[0]
    assert "tok-123" not in stored
    value = runtime.secrets.get(runtime.db, "acme", "zendesk_token")
    assert isinstance(value, SecretValue) and value == "tok-123" and "tok-123" not in repr(value)
    old = config["secret_keys"][0]
    new = Fernet.generate_key().decode()
    out = cli_runner.invoke(
        cli,
        ["--db", ledger_location, "secrets", "rotate"],
        env={"DESKGUARD_SECRET_KEYS": f"{new},{old}"},
    )
    assert out.exit_code == 0 and json.loads(out.output) == {"rotated": 1}
    only_new = Runtime({**config, "secret_keys": (new,)})
    assert only_new.secrets.get(only_new.db, "acme", "zendesk_token") == "tok-123"
    only_old = Runtime({**config, "secret_keys": (old,)})
    with pytest.raises(ConfigError, match="cannot be decrypted"):
        only_old.secrets.get(only_old.db, "acme", "zendesk_token")


# --- ledger -------------------------------------------------------------------------------
@pytest.mark.sqlite_only
def test_ledger_pragmas(runtime):
    conn = runtime.db.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000


def test_migrations_apply_on_empty_and_up_to_date_db(tmp_path):
    db = connect(tmp_path / "m.db")
    assert pending_migrations(db)
    applied = migrate(db)
    assert applied and not pending_migrations(db)
    assert migrate(db) == []  # up to date: nothing to do, no error
    for table in (
        "tenants",
        "tenant_settings",
        "jobs",
        "audit_log",
        "rate_ledger",
        "secrets",
        "actions",
    ):
        assert table in db.table_names()


def test_every_table_carries_a_tenant_id(runtime):
    tables = table_names(runtime.db)
    assert {"jobs", "audit_log", "decisions", "leader_leases"} <= tables
    for table in tables:
        if table.startswith(("_", "sqlite_")) or table == "tenants":
            continue
        assert "tenant_id" in table_columns(runtime.db, table), table


def test_readyz_fails_while_migrations_are_pending(tmp_path, config):
    rt = Runtime({**config, "db_path": str(tmp_path / "fresh.db")})
    client = create_app(runtime=rt).test_client()
    res = client.get("/readyz")
    assert res.status_code == 503 and res.json["error"]["code"] == "migrations_pending"
    migrate(rt.db)
    assert client.get("/readyz").status_code == 200
    assert client.get("/healthz").json == {"status": "ok"}


def test_one_json_error_shape(client, runtime):
    for res in (client.get("/nope"), client.post("/healthz")):
        assert set(res.json) == {"error"} and {"code", "message"} <= set(res.json["error"])
    assert client.get("/nope").status_code == 404 and client.post("/healthz").status_code == 405
    big = client.post("/healthz", data=b"x" * (runtime.config.max_body_bytes + 1))
    assert big.status_code == 413 and big.json["error"]["code"] == "request_entity_too_large"


# --- logs ---------------------------------------------------------------------------------
def test_json_logs_carry_bound_context_and_mask_secrets():
    stream = io.StringIO()
    logs.configure("info", "json", stream=stream)
    log = logs.get("test")
    with logs.bind(tenant="acme", ticket=42, job=7):
        logs.log(log, logging.INFO, "job.done", ms=3, api_token="tok-abc")
    logs.log(log, logging.INFO, "outside")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["event"] == "job.done" and first["tenant"] == "acme" and first["ticket"] == 42
    assert (
        first["job"] == 7
        and first["api_token"] == "********"
        and "tok-abc" not in stream.getvalue()
    )
    assert "tenant" not in second


# --- CLI ----------------------------------------------------------------------------------
def test_every_command_has_help_with_an_example(cli_runner):
    import click

    def walk(group, path):
        for name, cmd in group.commands.items():
            if isinstance(cmd, click.Group):
                yield from walk(cmd, [*path, name])
            else:
                yield [*path, name], cmd

    for path, cmd in walk(cli, []):
        assert "Example:" in (cmd.help or ""), f"`deskguard {' '.join(path)}` help lacks an Example"


def test_queue_cli(cli_runner, runtime, config, ledger_location):
    runtime.queue.enqueue("acme", "nothing", {}, "a")
    env = {"DESKGUARD_SECRET_KEYS": config["secret_keys"][0], "DESKGUARD_TENANT_ID": "acme"}
    out = cli_runner.invoke(cli, ["--db", ledger_location, "queue", "status"], env=env)
    assert out.exit_code == 0 and json.loads(out.output)["counts"]["queued"] == 1
    job = runtime.queue.claim("w")
    runtime.queue.fail(job, "boom", permanent=True)
    out = cli_runner.invoke(
        cli, ["--db", ledger_location, "queue", "retry-dead", "--tenant", "acme"], env=env
    )
    assert json.loads(out.output) == {"requeued": 1}


def test_migrate_cli(cli_runner, tmp_path):
    db = tmp_path / "cli.db"
    out = cli_runner.invoke(cli, ["--db", str(db), "migrate"])
    assert out.exit_code == 0 and "m001_foundation" in json.loads(out.output)["applied"]
    again = cli_runner.invoke(cli, ["--db", str(db), "migrate"])
    assert json.loads(again.output) == {"applied": [], "pending": []}


def test_a_nul_character_in_input_is_not_a_server_error(client):
    """PostgreSQL text cannot hold NUL (SQLite's can): such a value is refused or not found,
    never a 500, on either engine (found by the route fuzzer on PostgreSQL)."""
    res = client.post("/webhooks/zendesk/%00", data=b"", content_type="application/json")
    assert 400 <= res.status_code < 500, res.get_data(as_text=True)
    assert res.json["error"]["code"] in ("nul_in_text", "unknown_tenant")
