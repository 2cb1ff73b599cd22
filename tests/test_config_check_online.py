"""`deskguard config check --online` calls each configured vendor once, through the real SDKs in
our adapters, against the emulators: ok when the credentials work, and the URL tried plus a hint
when they do not (wrong credentials, a closed port). The live ledger is never touched."""

from __future__ import annotations

import json
import socket

import pytest
from cryptography.fernet import Fernet
from shopify_support import SHOP, TOKEN, start_shop
from stripe_support import start_sandbox

from connector.cli import cli
from connector.devkit.sandbox.anthropic import start_anthropic_sandbox
from connector.devkit.sandbox.stripe import DEMO_SECRET_KEY, DEMO_WEBHOOK_SECRET
from connector.devkit.sandbox.zendesk import start_zendesk_sandbox

VENDORS = ["zendesk", "shopify", "stripe", "anthropic"]


@pytest.fixture(scope="module")
def emulators():
    zendesk = start_zendesk_sandbox(rate_limit_per_minute=None, export_rate_limit_per_minute=None)
    anthropic = start_anthropic_sandbox()
    shop = start_shop()
    stripe = start_sandbox()
    yield {"zendesk": zendesk, "anthropic": anthropic, "shopify": shop, "stripe": stripe}
    zendesk.stop(wait=False)
    anthropic.stop()
    shop.server.stop()
    stripe.server.stop()


@pytest.fixture
def env(emulators, tmp_path) -> dict[str, str]:
    zendesk = emulators["zendesk"]
    return {
        "DESKGUARD_SECRET_KEYS": Fernet.generate_key().decode(),
        "DESKGUARD_DB_PATH": str(tmp_path / "live.db"),
        "DESKGUARD_ZENDESK_URL": zendesk.url,
        "DESKGUARD_ZENDESK_OAUTH_CLIENT_ID": zendesk.state.oauth_client.identifier,
        "DESKGUARD_ZENDESK_OAUTH_CLIENT_SECRET": zendesk.state.oauth_client.secret,
        "DESKGUARD_SHOPIFY_SHOP": SHOP,
        "DESKGUARD_SHOPIFY_ACCESS_TOKEN": TOKEN,
        "DESKGUARD_SHOPIFY_ADMIN_URL": emulators["shopify"].url,
        "DESKGUARD_STRIPE_API_KEY": DEMO_SECRET_KEY,
        "DESKGUARD_STRIPE_API_BASE": emulators["stripe"].url,
        "DESKGUARD_STRIPE_WEBHOOK_SECRET": DEMO_WEBHOOK_SECRET,
        "DESKGUARD_ANTHROPIC_API_KEY": emulators["anthropic"].api_key,
        "DESKGUARD_ANTHROPIC_BASE_URL": emulators["anthropic"].url,
    }


def online(cli_runner, env) -> tuple[int, dict[str, dict]]:
    result = cli_runner.invoke(cli, ["config", "check", "--online", "--json"], env=env, obj={})
    report = json.loads(result.output)
    return result.exit_code, {c["vendor"]: c for c in report["online"]}


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_every_configured_vendor_answers(cli_runner, env, emulators, tmp_path):
    before = len(emulators["anthropic"].state.recorded())
    code, checks = online(cli_runner, env)
    assert code == 0, checks
    assert list(checks) == VENDORS and all(c["ok"] for c in checks.values())
    assert checks["zendesk"]["url"] == f"{env['DESKGUARD_ZENDESK_URL']}/api/v2/users/me.json"
    assert checks["shopify"]["url"].endswith("/admin/api/2026-10/graphql.json")
    assert "signed in as user" in checks["zendesk"]["detail"]
    # one call to Anthropic, of one output token
    [call] = emulators["anthropic"].state.recorded()[before:]
    assert json.loads(call["body"])["max_tokens"] == 1
    assert not (tmp_path / "live.db").exists()  # credentials went to a throwaway ledger


def test_people_see_ok_per_vendor(cli_runner, env):
    result = cli_runner.invoke(cli, ["config", "check", "--online"], env=env, obj={})
    assert result.exit_code == 0
    for vendor in VENDORS:
        assert f"  {vendor}: ok  http://127.0.0.1:" in result.output


def test_only_configured_vendors_are_called(cli_runner, env):
    only_stripe = {
        k: v
        for k, v in env.items()
        if not k.startswith(("DESKGUARD_ZENDESK", "DESKGUARD_SHOPIFY", "DESKGUARD_ANTHROPIC"))
    }
    code, checks = online(cli_runner, only_stripe)
    assert code == 0 and list(checks) == ["stripe"]


def test_wrong_credentials_fail_with_a_hint_naming_the_setting(cli_runner, env):
    wrong = {
        **env,
        "DESKGUARD_ZENDESK_OAUTH_CLIENT_SECRET": "wrong",
        "DESKGUARD_SHOPIFY_ACCESS_TOKEN": "shpat_wrong",
        "DESKGUARD_STRIPE_API_KEY": "sk_test_wrong",
        "DESKGUARD_ANTHROPIC_API_KEY": "sk-ant-wrong",
    }
    code, checks = online(cli_runner, wrong)
    assert code == 1 and not any(c["ok"] for c in checks.values())
    for vendor, setting in [
        ("zendesk", "DESKGUARD_ZENDESK_OAUTH_CLIENT_ID/_SECRET"),
        ("shopify", "DESKGUARD_SHOPIFY_ACCESS_TOKEN"),
        ("stripe", "DESKGUARD_STRIPE_API_KEY"),
        ("anthropic", "DESKGUARD_ANTHROPIC_API_KEY"),
    ]:
        assert checks[vendor]["hint"].startswith("the credentials were refused: check " + setting)
    assert "wrong" not in json.dumps(checks).replace("shpat_wrong", "").replace("-wrong", "")


def test_a_closed_port_names_the_url_and_the_setting(cli_runner, env):
    port = closed_port()
    dead = f"http://127.0.0.1:{port}"
    unreachable = {
        **env,
        "DESKGUARD_ZENDESK_URL": dead,
        "DESKGUARD_SHOPIFY_ADMIN_URL": dead,
        "DESKGUARD_STRIPE_API_BASE": dead,
        "DESKGUARD_ANTHROPIC_BASE_URL": dead,
    }
    code, checks = online(cli_runner, unreachable)
    assert code == 1
    assert checks["zendesk"]["url"] == f"{dead}/api/v2/users/me.json"
    assert checks["stripe"]["url"] == f"{dead}/v1/customers/search"
    for vendor, setting in [
        ("zendesk", "DESKGUARD_ZENDESK_URL"),
        ("shopify", "DESKGUARD_SHOPIFY_ADMIN_URL"),
        ("stripe", "DESKGUARD_STRIPE_API_BASE"),
        ("anthropic", "DESKGUARD_ANTHROPIC_BASE_URL"),
    ]:
        check = checks[vendor]
        assert not check["ok"] and check["url"].startswith(dead)
        assert f"is {setting}" in check["hint"] and "reachable from this machine" in check["hint"]
    # where the adapter keeps the network error, the hint says what happened
    for vendor in ("zendesk", "shopify", "stripe"):
        assert checks[vendor]["hint"].startswith("connection refused:"), checks[vendor]


def test_people_see_the_failure_the_url_and_the_hint(cli_runner, env):
    dead = f"http://127.0.0.1:{closed_port()}"
    result = cli_runner.invoke(
        cli,
        ["config", "check", "--online"],
        env={**env, "DESKGUARD_ZENDESK_URL": dead},
        obj={},
    )
    assert result.exit_code == 1
    assert "vendors failing: zendesk" in result.output.splitlines()[0]
    assert f"zendesk: FAILED  {dead}/api/v2/users/me.json" in result.output
    assert "hint: connection refused: is DESKGUARD_ZENDESK_URL" in result.output


def test_a_configuration_problem_is_reported_per_vendor_without_a_call(cli_runner, env):
    code, checks = online(cli_runner, {**env, "DESKGUARD_SHOPIFY_SHOP": "acme.com"})
    assert code == 1
    assert "<store>.myshopify.com" in checks["shopify"]["detail"] and not checks["shopify"]["ok"]
    assert all(checks[v]["ok"] for v in ("zendesk", "stripe", "anthropic"))  # only its vendor
