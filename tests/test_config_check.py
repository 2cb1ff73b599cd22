"""`deskguard config check` catches the mistakes people make: values that contradict each other,
keys of the wrong kind, plain-http URLs, misspelled names; `--env-file`; a readable report by
default and JSON with `--json`; exit 1 on a problem."""

from __future__ import annotations

import json

import pytest
from cryptography.fernet import Fernet

from connector.cli import cli
from connector.settings import (
    SETTINGS,
    config_problems,
    config_warnings,
    load_config,
    nearest_setting,
    unknown_names,
)

STRONG_TOKEN = "t" * 43


@pytest.fixture
def base_env(tmp_path) -> dict[str, str]:
    """A valid, minimal configuration (no vendor set up)."""
    return {
        "DESKGUARD_SECRET_KEYS": Fernet.generate_key().decode(),
        "DESKGUARD_DB_PATH": str(tmp_path / "ledger.db"),
        "DESKGUARD_ADMIN_TOKEN": STRONG_TOKEN,
    }


def check_json(cli_runner, env, *args) -> tuple[int, dict]:
    result = cli_runner.invoke(cli, [*args, "config", "check", "--json"], env=env, obj={})
    return result.exit_code, json.loads(result.output)


def problems_of(**values) -> list[str]:
    return config_problems(load_config(values, environ={}, dotenv_path=None))


# --- cross-field problems ---------------------------------------------------------------------
def test_the_mistakes_named_in_the_report_are_each_a_problem(cli_runner, base_env):
    env = {
        **base_env,
        "DESKGUARD_SHOPIFY_SHOP": "acme.com",
        "DESKGUARD_STRIPE_API_KEY": "pk_live_51Habcdef",
        "DESKGUARD_CLASSIFIER": "claude",
        "DESKGUARD_PUBLIC_URL": "http://deskguard.example.com",
        "DESKGUARD_ADMIN_TOKEN": "abc",
        "DESKGUARD_ZENDESKURL": "https://acme.zendesk.com",
    }
    code, report = check_json(cli_runner, env)
    assert code == 1 and report["ok"] is False
    text = "\n".join(report["problems"])
    assert "DESKGUARD_SHOPIFY_SHOP='acme.com' must be the shop's <store>.myshopify.com" in text
    assert "DESKGUARD_STRIPE_API_KEY is a publishable key (pk_...)" in text
    assert "DESKGUARD_CLASSIFIER=claude but DESKGUARD_ANTHROPIC_API_KEY is not set" in text
    assert "DESKGUARD_PUBLIC_URL must start with https://" in text
    assert (
        "DESKGUARD_ZENDESKURL (environment) is not a setting: did you mean DESKGUARD_ZENDESK_URL?"
        in text
    )
    assert any(
        "DESKGUARD_ADMIN_TOKEN is shorter than 32 characters (3)" in w for w in report["warnings"]
    )
    assert "pk_live_51Habcdef" not in json.dumps(report)  # the key itself is never shown


def test_a_clean_configuration_passes(cli_runner, base_env):
    env = {
        **base_env,
        "DESKGUARD_SHOPIFY_SHOP": "acme-store.myshopify.com",
        "DESKGUARD_SHOPIFY_ACCESS_TOKEN": "shpat_0123",
        "DESKGUARD_STRIPE_API_KEY": "rk_live_0123",
        "DESKGUARD_STRIPE_WEBHOOK_SECRET": "whsec_0123",
        "DESKGUARD_CLASSIFIER": "claude",
        "DESKGUARD_ANTHROPIC_API_KEY": "sk-ant-api03-0123",
        "DESKGUARD_PUBLIC_URL": "https://deskguard.example.com",
        "DESKGUARD_ZENDESK_SUBDOMAIN": "acme",
        "DESKGUARD_ZENDESK_OAUTH_CLIENT_ID": "deskguard",
        "DESKGUARD_ZENDESK_OAUTH_CLIENT_SECRET": "s3cret",
    }
    code, report = check_json(cli_runner, env)
    assert (code, report["problems"]) == (0, [])
    assert not any(name in w for w in report["warnings"] for name in env)


@pytest.mark.parametrize(
    "url",
    ["http://localhost:8000", "http://127.0.0.1:8000", "http://[::1]:8000", "https://x.example"],
)
def test_plain_http_is_allowed_only_on_this_machine(url):
    assert problems_of(public_url=url, zendesk_url=url, stripe_api_base=url) == []


def test_plain_http_to_another_host_is_a_problem_for_every_url_setting():
    problems = problems_of(
        public_url="http://sidecar.example",
        zendesk_url="http://acme.zendesk.com",
        stripe_api_base="http://api.stripe.example",
        anthropic_base_url="http://llm.example",
    )
    for env in (
        "DESKGUARD_PUBLIC_URL",
        "DESKGUARD_ZENDESK_URL",
        "DESKGUARD_STRIPE_API_BASE",
        "DESKGUARD_ANTHROPIC_BASE_URL",
    ):
        assert any(p.startswith(f"{env} must start with https://") for p in problems), env
    # a password in the URL is masked in the message
    [problem] = problems_of(public_url="http://admin:hunter2@sidecar.example")
    assert "hunter2" not in problem and "admin:***@sidecar.example" in problem


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            {"zendesk_subdomain": "acme", "zendesk_oauth_client_id": "dg"},
            "CLIENT_ID is set without",
        ),
        ({"zendesk_subdomain": "acme", "zendesk_oauth_client_secret": "s"}, "CLIENT_SECRET is set"),
        (
            {"zendesk_subdomain": "acme", "zendesk_api_token": "t"},
            "without DESKGUARD_ZENDESK_EMAIL",
        ),
        (
            {"zendesk_email": "a@b.example", "zendesk_api_token": "t"},
            "neither DESKGUARD_ZENDESK_URL",
        ),
        ({"shopify_access_token": "shpat_1"}, "DESKGUARD_SHOPIFY_SHOP is empty"),
        ({"shopify_shop": "evil.com/x.myshopify.com"}, "<store>.myshopify.com"),
        (
            {"anthropic_api_key": "pk_test_1"},
            "DESKGUARD_ANTHROPIC_API_KEY holds a Stripe publishable",
        ),
    ],
)
def test_settings_that_cannot_work_together(values, expected):
    problems = problems_of(**values)
    assert len(problems) == 1 and expected in problems[0], problems


def test_a_bare_shop_handle_is_accepted_as_the_adapter_accepts_it():
    assert problems_of(shopify_shop="acme-store", shopify_access_token="shpat_1") == []


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("stripe_api_key", "mk_live_1", "secret (sk_...) or restricted (rk_...) key"),
        ("stripe_webhook_secret", "sk_live_1", "endpoint signing secret (whsec_...)"),
        ("anthropic_api_key", "sk-proj-1", "an Anthropic API key (sk-ant-...)"),
    ],
)
def test_a_key_of_an_unexpected_shape_is_a_warning(name, value, expected):
    config = load_config({name: value}, environ={}, dotenv_path=None)
    warnings = config_warnings(config, stripe_sdk_version="2026-10-28.endive")
    [warning] = [w for w in warnings if expected in w]
    assert value not in warning
    assert config_problems(config) == []


def test_a_key_of_an_unknown_shape_shows_none_of_its_characters():
    secret = "q9Zx-not-a-known-prefix"
    config = load_config({"stripe_api_key": secret}, environ={}, dotenv_path=None)
    [warning] = [
        w for w in config_warnings(config, stripe_sdk_version="x") if "STRIPE_API_KEY" in w
    ]
    assert "it has none of those prefixes" in warning and "q9Z" not in warning


def test_the_admin_token_warning_is_given_once(cli_runner, base_env):
    _, report = check_json(cli_runner, {**base_env, "DESKGUARD_ADMIN_TOKEN": "short"})
    assert sum("DESKGUARD_ADMIN_TOKEN" in w for w in report["warnings"]) == 1


def test_every_bad_value_is_reported_at_once(cli_runner, base_env):
    env = {
        **base_env,
        "DESKGUARD_QUEUE_MAX_ATTEMPTS": "-3",
        "DESKGUARD_LOG_LEVEL": "loud",
        "DESKGUARD_STRIPE_API_KEY": "pk_test_1",
    }
    code, report = check_json(cli_runner, env)
    assert code == 1
    for name in ("DESKGUARD_QUEUE_MAX_ATTEMPTS", "DESKGUARD_LOG_LEVEL", "DESKGUARD_STRIPE_API_KEY"):
        assert any(name in p for p in report["problems"]), name


# --- names that are not settings --------------------------------------------------------------
@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("DESKGUARD_ZENDESKURL", "DESKGUARD_ZENDESK_URL"),
        ("DESKGUARD_TENANT", "DESKGUARD_TENANT_ID"),
        ("DESKGUARD_STRIPE_KEY", "DESKGUARD_STRIPE_API_KEY"),
        ("DESKGUARD_CLASIFIER", "DESKGUARD_CLASSIFIER"),
        ("DESKGUARD_SHOPIFY_ACCES_TOKEN", "DESKGUARD_SHOPIFY_ACCESS_TOKEN"),
    ],
)
def test_a_misspelled_name_points_at_the_setting_meant(typo, meant):
    assert nearest_setting(typo) == meant


def test_unknown_names_from_the_environment_and_the_env_file(cli_runner, base_env, tmp_path):
    env_file = tmp_path / "deskguard.env"
    env_file.write_text("DESKGUARD_CLAUDE_MODLE=claude-x\nDESKGUARD_HOME=/opt/dg\nOTHER=1\n")
    env = {**base_env, "DESKGUARD_WORKER_THRADS": "4", "DESKGUARD_BENCH_WEBHOOK_SECRET": "x"}
    code, report = check_json(cli_runner, env, "--env-file", str(env_file))
    assert code == 1
    assert report["problems"] == [
        "DESKGUARD_WORKER_THRADS (environment) is not a setting: did you mean "
        "DESKGUARD_WORKER_THREADS?",
        f"DESKGUARD_CLAUDE_MODLE ({env_file}) is not a setting: did you mean "
        "DESKGUARD_CLAUDE_MODEL?",
    ]
    assert (
        f"DESKGUARD_HOME ({env_file}) is not a Deskguard setting and is ignored"
        in (report["warnings"])
    )


def test_every_setting_and_nothing_else_is_known():
    names = {s.env: "x" for s in SETTINGS}
    assert unknown_names({"environment": names}) == ([], [])


# --- --env-file -------------------------------------------------------------------------------
def test_env_file_replaces_dot_env_and_the_environment_still_wins(cli_runner, base_env, tmp_path):
    env_file = tmp_path / "prod.env"
    env_file.write_text("DESKGUARD_WORKER_THREADS=7\nDESKGUARD_LOG_LEVEL=debug\n")
    env = {**base_env, "DESKGUARD_LOG_LEVEL": "warning"}
    for args in (
        ["--env-file", str(env_file), "config", "check", "--json"],
        ["config", "check", "--env-file", str(env_file), "--json"],
    ):
        result = cli_runner.invoke(cli, args, env=env, obj={})
        settings = json.loads(result.output)["settings"]
        assert settings["worker_threads"] == {"value": 7, "source": ".env"}
        assert settings["log_level"] == {"value": "warning", "source": "environment"}
        assert json.loads(result.output)["env_file"] == str(env_file)


def test_env_file_applies_to_every_command(cli_runner, base_env, tmp_path):
    env_file = tmp_path / "prod.env"
    ledger = tmp_path / "from-env-file.db"
    env_file.write_text(f"DESKGUARD_DB_PATH={ledger}\nDESKGUARD_TENANT_ID=from-file\n")
    env = {k: v for k, v in base_env.items() if k != "DESKGUARD_DB_PATH"}
    result = cli_runner.invoke(
        cli, ["--env-file", str(env_file), "kill-switch", "status"], env=env, obj={}
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["tenant"] == "from-file" and ledger.exists()


def test_a_missing_env_file_is_a_clear_error(cli_runner, base_env, tmp_path):
    missing = tmp_path / "nope.env"
    for args in (
        ["--env-file", str(missing), "config", "check"],
        ["config", "check", "--env-file", str(missing)],
    ):
        result = cli_runner.invoke(cli, args, env=base_env, obj={})
        assert result.exit_code == 2 and "--env-file" in result.output
        assert "does not exist" in result.output and "Traceback" not in result.output


# --- the report for people --------------------------------------------------------------------
def test_people_get_a_short_report_grouped_by_section(cli_runner, base_env):
    env = {
        **base_env,
        "DESKGUARD_STRIPE_API_KEY": "pk_live_visible-nowhere",
        "DESKGUARD_SHOPIFY_SHOP": "acme-store.myshopify.com",
        "DESKGUARD_ADMIN_TOKEN": "tok-4711",
    }
    result = cli_runner.invoke(cli, ["config", "check"], env=env, obj={})
    out = result.output
    assert result.exit_code == 1
    assert out.startswith("deskguard config check: NOT OK: 1 problem, 1 warning")
    assert out.index("Problems") < out.index("Warnings:") < out.index("Settings that are set")
    assert out.index("[core]") < out.index("[stripe]") < out.index("[shopify]")
    assert "DESKGUARD_STRIPE_API_KEY = ********  [environment]" in out
    assert "visible-nowhere" not in out and "tok-4711" not in out
    assert "at the default: `deskguard config check --all`" in out
    assert len(out.splitlines()) < 40  # not 300 lines of JSON
    every = cli_runner.invoke(cli, ["config", "check", "--all"], env=env, obj={}).output
    assert all(f"{s.env} = " in every for s in SETTINGS)


def test_json_keeps_its_shape_for_machines(cli_runner, base_env):
    code, report = check_json(cli_runner, base_env)
    assert code == 0
    assert {"ok", "problems", "warnings", "settings"} <= set(report)
    assert report["settings"]["db_path"] == {
        "value": base_env["DESKGUARD_DB_PATH"],
        "source": "environment",
    }
    assert "online" not in report  # only with --online
