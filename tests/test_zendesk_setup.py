"""`deskguard zendesk setup|poll|status`, `deskguard sandbox zendesk`, and the env tenant's
credentials."""

from __future__ import annotations

import json

import pytest
from zendesk_support import TENANT, sandbox  # noqa: F401  (fixture)

from connector import pg, tenants
from connector.cli import cli
from connector.errors import ConfigError
from connector.runtime import Runtime
from connector.zendesk.service import API_TOKEN, WEBHOOK_SECRET, build_desk
from connector.zendesk.setup import TRIGGER_BODY


@pytest.fixture
def env(sandbox, tmp_path, secret_key, config):  # noqa: F811
    """The self-hosted tenant on OAuth: the sandbox account's own confidential client."""
    return {
        "DESKGUARD_DB_PATH": str(tmp_path / "cli.db"),
        "DESKGUARD_DATABASE_URL": config["database_url"],  # the engine of the run
        "DESKGUARD_SECRET_KEYS": secret_key,
        "DESKGUARD_TENANT_ID": TENANT,
        "DESKGUARD_ZENDESK_URL": sandbox.url,
        "DESKGUARD_ZENDESK_OAUTH_CLIENT_ID": sandbox.state.oauth_client.identifier,
        "DESKGUARD_ZENDESK_OAUTH_CLIENT_SECRET": sandbox.state.oauth_client.secret,
        "DESKGUARD_LOG_LEVEL": "warning",
    }


@pytest.fixture
def api_token_env(sandbox, tmp_path, secret_key, config):  # noqa: F811
    """The deprecated fallback: an agent's email and API token."""
    return {
        "DESKGUARD_DB_PATH": str(tmp_path / "cli.db"),
        "DESKGUARD_DATABASE_URL": config["database_url"],  # the engine of the run
        "DESKGUARD_SECRET_KEYS": secret_key,
        "DESKGUARD_TENANT_ID": TENANT,
        "DESKGUARD_ZENDESK_URL": sandbox.url,
        "DESKGUARD_ZENDESK_EMAIL": sandbox.agent_email,
        "DESKGUARD_ZENDESK_API_TOKEN": sandbox.agent_token,
        "DESKGUARD_LOG_LEVEL": "warning",
    }


def run(cli_runner, env, *args):
    result = cli_runner.invoke(cli, list(args), env=env, obj={})
    return result


def open_runtime(env) -> Runtime:
    return Runtime(
        {
            "db_path": env["DESKGUARD_DB_PATH"],
            "database_url": env["DESKGUARD_DATABASE_URL"],
            "secret_keys": (env["DESKGUARD_SECRET_KEYS"],),
            "tenant_id": TENANT,
        }
    )


def test_setup_creates_webhook_and_trigger_once_and_stores_the_secret_encrypted(
    cli_runner,
    env,
    sandbox,  # noqa: F811
):
    url = "https://deskguard.example.com"
    first = run(cli_runner, env, "zendesk", "setup", "--tenant", TENANT, "--url", url)
    assert first.exit_code == 0, first.output
    out = json.loads(first.output)
    assert out["webhook"]["created"] and out["trigger"]["created"]
    assert out["webhook"]["endpoint"] == f"{url}/webhooks/zendesk/{TENANT}"

    [hook] = sandbox.state.webhooks.values()
    assert (
        hook["subscriptions"] == ["conditional_ticket_events"]
        and hook["endpoint"] == out["webhook"]["endpoint"]
    )
    [trigger] = sandbox.state.triggers.values()
    assert trigger["actions"] == [
        {"field": "notification_webhook", "value": [hook["id"], TRIGGER_BODY]}
    ]

    second = run(cli_runner, env, "zendesk", "setup", "--tenant", TENANT, "--url", url)
    assert second.exit_code == 0, second.output
    again = json.loads(second.output)
    assert not again["webhook"]["created"] and not again["trigger"]["created"]
    assert len(sandbox.state.webhooks) == 1 and len(sandbox.state.triggers) == 1

    secret = sandbox.state.webhook_secrets[hook["id"]]
    rt = open_runtime(env)
    try:
        assert rt.secrets.get(rt.db, TENANT, WEBHOOK_SECRET).reveal() == secret
        stored = rt.db.conn.execute(
            "SELECT ciphertext FROM secrets WHERE name = ?", (WEBHOOK_SECRET,)
        ).fetchone()[0]
        assert secret not in stored
        kinds = [r[0] for r in rt.db.conn.execute("SELECT kind FROM actions ORDER BY id")]
        assert kinds == [
            "zendesk.webhook_create",
            "zendesk.trigger_create",
        ]  # writes go through actions
        audit_kinds = [r[0] for r in rt.db.conn.execute("SELECT kind FROM audit_log")]
        assert audit_kinds.count("zendesk.setup_completed") == 2
    finally:
        rt.close()
    assert secret not in first.output + second.output


def test_setup_finds_the_webhook_again_after_the_ledger_is_lost(
    cli_runner,
    env,
    sandbox,  # noqa: F811
    new_ledger_location,
):
    url = "https://deskguard.example.com"
    assert run(cli_runner, env, "zendesk", "setup", "--url", url).exit_code == 0
    lost = new_ledger_location("new.db")  # an empty ledger of the run's engine
    where = "DESKGUARD_DATABASE_URL" if pg.is_postgres_url(lost) else "DESKGUARD_DB_PATH"
    fresh = {**env, where: lost}
    out = json.loads(run(cli_runner, fresh, "zendesk", "setup", "--url", url).output)
    assert not out["webhook"]["created"] and not out["trigger"]["created"]
    assert out["signing_secret"].startswith("stored")


def test_setup_without_a_public_url_fails_clearly(cli_runner, env):
    result = run(cli_runner, env, "zendesk", "setup")
    assert result.exit_code != 0 and "DESKGUARD_PUBLIC_URL" in result.output


def test_setup_is_a_vendor_write_and_respects_the_kill_switch(cli_runner, env, sandbox):  # noqa: F811
    assert run(cli_runner, env, "zendesk", "status").exit_code == 0  # creates the ledger and tenant
    rt = open_runtime(env)
    tenants.set_kill_switch(rt.db, TENANT, True, actor="test")
    rt.close()
    result = run(cli_runner, env, "zendesk", "setup", "--url", "https://x.example.com")
    assert result.exit_code != 0 and "kill switch" in result.output
    assert sandbox.state.webhooks == {}


def test_status_and_poll_commands(cli_runner, env, sandbox):  # noqa: F811
    sandbox.state.customer_writes(subject="S", body="B", name="J", email="j@example.com")
    poll = run(cli_runner, env, "zendesk", "poll", "--tenant", TENANT)
    assert poll.exit_code == 0, poll.output
    assert json.loads(poll.output)["enqueued"] == 1
    status = run(cli_runner, env, "zendesk", "status", "--check")
    assert status.exit_code == 0, status.output
    data = json.loads(status.output)
    assert (
        data["credentials_configured"] is True
        and data["jobs"] == {"queued": 1}
        and data["batches"] == {}
    )
    assert data["api_user"]["email"] == sandbox.agent_email and data["poll"]["cursor"]
    assert sandbox.agent_token not in status.output
    reset = run(cli_runner, env, "zendesk", "poll", "--reset-since", "0")
    assert json.loads(reset.output)["duplicates"] == 1
    assert run(cli_runner, env, "zendesk", "status", "--tenant", "nobody").exit_code != 0


@pytest.mark.parametrize(
    "command",
    [
        ["zendesk", "setup"],
        ["zendesk", "poll"],
        ["zendesk", "status"],
        ["sandbox", "zendesk"],
        ["sandbox"],
        ["zendesk"],
    ],
)
def test_every_command_documents_an_example(cli_runner, command):
    result = cli_runner.invoke(cli, [*command, "--help"])
    assert result.exit_code == 0 and "Example: deskguard" in result.output


def test_env_api_token_fallback_is_stored_encrypted_once_and_still_works(
    api_token_env,
    sandbox,  # noqa: F811
):
    from connector.bootstrap import ensure_env_tenant
    from connector.db import migrate
    from connector.settings import load_config

    config = load_config(environ=api_token_env, dotenv_path=None)
    rt = Runtime(config)
    try:
        migrate(rt.db)
        ensure_env_tenant(rt)
        ensure_env_tenant(rt)  # a restart
        assert rt.secrets.get(rt.db, TENANT, API_TOKEN).reveal() == sandbox.agent_token
        stored = [
            r[0]
            for r in rt.db.conn.execute("SELECT data FROM audit_log WHERE kind = 'secret.stored'")
        ]
        assert len(stored) == 1 and sandbox.agent_token not in "".join(stored)
        tenant = tenants.get_tenant(rt.db, TENANT)
        assert (
            tenant["zendesk_url"] == sandbox.url and tenant["zendesk_email"] == sandbox.agent_email
        )
        desk = rt.services(TENANT).require_desk()
        assert desk.auth_kind == "api_token" and desk.get_tickets([]) == []
    finally:
        rt.close()


def test_the_service_factory_needs_url_and_token(runtime):
    with pytest.raises(ConfigError, match="Zendesk URL"):
        build_desk(runtime, "acme")
    tenants.ensure_tenant(
        runtime.db, "acme", zendesk_url="https://acme.zendesk.com", zendesk_email="a@example.com"
    )
    with pytest.raises(ConfigError, match=r"no Zendesk credentials.*OAUTH_CLIENT_ID"):
        build_desk(runtime, "acme")
    runtime.secrets.put(runtime.db, "acme", API_TOKEN, "tok")
    desk = build_desk(runtime, "acme")
    assert desk.base_url == "https://acme.zendesk.com" and "tok" not in repr(desk)
