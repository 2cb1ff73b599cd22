"""Shared fixtures: a migrated `runtime`, the Flask `app` and its test `client`, `cli_runner`.

The ledger engine: SQLite files unless ``TEST_POSTGRES=1``, which puts every ledger made
through ``ledger_location`` (and so ``config``/``runtime``) on a real PostgreSQL server: the one
at ``TEST_POSTGRES_URL``, or a throwaway cluster this session starts and stops
(connector/devkit/pgcluster.py). Each test gets a schema of its own. ``make test`` runs the ledger,
queue, pipeline and crash tests that way after the whole suite on SQLite.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import psycopg
import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet

from connector.bootstrap import ensure_env_tenant
from connector.db import migrate
from connector.devkit.pgcluster import new_schema, start_cluster
from connector.runtime import Runtime
from connector.web import create_app

TENANT = "acme"
ON_POSTGRES = os.environ.get("TEST_POSTGRES") == "1"


def pytest_collection_modifyitems(config, items):
    if ON_POSTGRES:
        skip = pytest.mark.skip(reason="about the SQLite ledger file; this run is on PostgreSQL")
        marker = "sqlite_only"
    else:
        skip = pytest.mark.skip(reason="PostgreSQL only: runs in the PostgreSQL run (make test)")
        marker = "postgres_only"
    for item in items:
        if marker in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The PostgreSQL database the PostgreSQL run uses (started here unless one is given)."""
    given = os.environ.get("TEST_POSTGRES_URL")
    if given:
        yield given
        return
    cluster = start_cluster()
    try:
        yield cluster.url()
    finally:
        cluster.stop()


def drop_schema(base_url: str, schema: str) -> None:
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute("SET lock_timeout = '10s'")
        try:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
        except psycopg.errors.LockNotAvailable:
            pass  # a connection the test leaked still holds a lock; the cluster is throwaway


@pytest.fixture
def new_ledger_location(request, tmp_path_factory) -> Iterator[Callable[[str], str]]:
    """Makes fresh ledger locations for this test: every ``make("name.db")`` is a new SQLite
    file, or (PostgreSQL run) a new schema, dropped when the test ends."""
    made: list[str] = []
    base = request.getfixturevalue("postgres_url") if ON_POSTGRES else ""
    folder = tmp_path_factory.mktemp("ledgers")

    def make(name: str = "ledger.db") -> str:
        if not ON_POSTGRES:
            made.append(name)
            return str(folder / f"{len(made)}-{name}")
        url, schema = new_schema(base, "t")
        made.append(schema)
        return url

    yield make
    if ON_POSTGRES:
        for schema in made:
            drop_schema(base, schema)


@pytest.fixture
def ledger_location(request, tmp_path) -> Iterator[str]:
    """Where this test's ledger lives: a SQLite file, or (PostgreSQL run) a fresh schema."""
    if not ON_POSTGRES:
        yield str(tmp_path / "ledger.db")
        return
    base = request.getfixturevalue("postgres_url")
    url, schema = new_schema(base, "t")
    yield url
    drop_schema(base, schema)


@pytest.fixture
def secret_key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def config(tmp_path, secret_key, ledger_location) -> dict:
    """Settings for an isolated tenant on a fresh ledger (no .env, no environment)."""
    return {
        "db_path": str(tmp_path / "ledger.db"),
        "database_url": ledger_location if ON_POSTGRES else "",
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
