"""Shared fixtures: a migrated `runtime`, the Flask `app` and its test `client`, `cli_runner`."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet

from connector.bootstrap import ensure_env_tenant
from connector.db import migrate
from connector.runtime import Runtime
from connector.web import create_app

TENANT = "acme"


@pytest.fixture
def secret_key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def config(tmp_path, secret_key) -> dict:
    """Settings for an isolated tenant on a fresh ledger file (no .env, no environment)."""
    return {
        "db_path": str(tmp_path / "ledger.db"),
        "secret_keys": (secret_key,),
        "tenant_id": TENANT,
        "admin_token": "test-admin-token",
        "log_format": "json",
    }


@pytest.fixture
def runtime(config) -> Runtime:
    rt = Runtime(config)
    migrate(rt.db)
    ensure_env_tenant(rt)
    yield rt
    rt.close()


@pytest.fixture
def app(runtime):
    return create_app(runtime=runtime)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def cli_runner():
    return CliRunner()
