"""`deskguard config check` never prints a secret: secret settings are masked, credentials
embedded in any URL setting are masked, and neither appears in the error for a bad value."""

from __future__ import annotations

import json

import pytest
from cryptography.fernet import Fernet

from connector.audit_keys import new_key
from connector.cli import cli
from connector.settings import SETTINGS, load_config, mask_url_credentials

URL_PARSERS = ("_url", "_url_template")


def secret_env() -> dict[str, str]:
    """A distinctive, valid value for every secret setting."""
    env = {}
    for s in SETTINGS:
        if not s.secret:
            continue
        if s.name == "secret_keys":
            env[s.env] = Fernet.generate_key().decode()
        elif s.name == "audit_keys":
            env[s.env] = new_key()
        elif s.name == "database_url":
            env[s.env] = "postgresql://deskguard:sekrit-database_url-4711-value@db.example/dg"
        else:
            env[s.env] = f"sekrit-{s.name}-4711-value"
    return env


def url_env() -> dict[str, str]:
    """A URL with a user and password for every URL setting (templates keep their placeholder)."""
    env = {}
    for s in SETTINGS:
        if s.parse.__name__ not in URL_PARSERS:
            continue
        base = s.default or "https://host.example"
        env[s.env] = base.replace("https://", f"https://u-{s.name}:pw-{s.name}-4711@", 1)
    return env


def test_every_url_and_secret_setting_is_covered():
    assert len(secret_env()) >= 10 and len(url_env()) >= 8
    load_config(environ={**secret_env(), **url_env()}, dotenv_path=None)  # all values are valid


def test_config_check_prints_no_secret_and_no_url_password(cli_runner, tmp_path):
    secrets, urls = secret_env(), url_env()
    env = {
        **secrets,
        **urls,
        "DESKGUARD_DB_PATH": str(tmp_path / "c.db"),
        # The settings every secret needs beside it, so the check has no problem to report.
        "DESKGUARD_ZENDESK_OAUTH_CLIENT_ID": "deskguard",
        "DESKGUARD_ZENDESK_EMAIL": "agent@example.com",
        "DESKGUARD_SHOPIFY_SHOP": "acme-store.myshopify.com",
    }
    for args in (["config", "check"], ["config", "check", "--all"], ["config", "check", "--json"]):
        out = cli_runner.invoke(cli, args, env=env)
        assert out.exit_code == 0, out.output
        for name, value in secrets.items():
            assert value not in out.output, (args, name)
        for s in SETTINGS:
            if s.env in urls:
                assert f"pw-{s.name}-4711" not in out.output, (args, s.env)
    settings = json.loads(out.output)["settings"]
    assert settings["public_url"]["value"] == "https://u-public_url:***@host.example"
    assert settings["shopify_admin_url"]["value"] == "https://u-shopify_admin_url:***@{shop}"
    assert all(settings[s.name]["value"] == "********" for s in SETTINGS if s.secret)


def test_a_bad_url_value_is_reported_without_its_password(cli_runner, tmp_path):
    env = {
        "DESKGUARD_SECRET_KEYS": Fernet.generate_key().decode(),
        "DESKGUARD_PUBLIC_URL": "ftp://admin:hunter2-4711@files.example",
        "DESKGUARD_DB_PATH": str(tmp_path / "c.db"),
    }
    out = cli_runner.invoke(cli, ["config", "check"], env=env)
    assert out.exit_code != 0 and "DESKGUARD_PUBLIC_URL" in out.output
    assert "hunter2-4711" not in out.output and "admin:***@files.example" in out.output


def test_a_malformed_secret_is_reported_without_its_value(cli_runner, tmp_path):
    for env_name, bad in (
        ("DESKGUARD_AUDIT_KEYS", "too-short-4711"),
        ("DESKGUARD_SECRET_KEYS", "not-a-fernet-key-4711"),
    ):
        env = {
            "DESKGUARD_SECRET_KEYS": Fernet.generate_key().decode(),
            "DESKGUARD_DB_PATH": str(tmp_path / "c.db"),
            env_name: bad,
        }
        out = cli_runner.invoke(cli, ["config", "check"], env=env)
        assert out.exit_code != 0 and env_name in out.output
        assert "4711" not in out.output


def test_a_weak_admin_token_is_warned_about(cli_runner, tmp_path):
    env = {
        "DESKGUARD_SECRET_KEYS": Fernet.generate_key().decode(),
        "DESKGUARD_ADMIN_TOKEN": "short-admin-token",
        "DESKGUARD_DB_PATH": str(tmp_path / "c.db"),
    }
    out = json.loads(cli_runner.invoke(cli, ["config", "check", "--json"], env=env).output)
    assert any("DESKGUARD_ADMIN_TOKEN is shorter than 32" in w for w in out["warnings"])
    strong = json.loads(
        cli_runner.invoke(
            cli, ["config", "check", "--json"], env={**env, "DESKGUARD_ADMIN_TOKEN": "x" * 43}
        ).output
    )
    assert not any("DESKGUARD_ADMIN_TOKEN" in w for w in strong["warnings"])


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("https://user:pass@host", "https://user:***@host"),
        ("https://user:pass@host:8443/p?q=a@b#f", "https://user:***@host:8443/p?q=a@b#f"),
        ("https://tokenonly@host/x", "https://***@host/x"),
        ("https://host/path@not-credentials", "https://host/path@not-credentials"),
        ("http://a:b:c@h", "http://a:***@h"),
        ("'redis://:pw@h'", "'redis://:***@h'"),
        ("https://plain.example", "https://plain.example"),
    ],
)
def test_mask_url_credentials(text, shown):
    assert mask_url_credentials(text) == shown
