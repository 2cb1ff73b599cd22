"""Fixtures and helpers shared by the tests/test_zendesk_*.py files: a Zendesk sandbox served over
HTTP, a runtime configured against it, and the sidecar's web app served on another port.

Import the fixtures you use: ``from zendesk_support import sandbox, zd_runtime, sidecar``.
"""

from __future__ import annotations

import logging
import threading
import time

import pytest

from connector import tenants
from connector.bootstrap import ensure_env_tenant
from connector.db import migrate
from connector.devkit.fakes import FakeClassifier, inject
from connector.devkit.sandbox import serve_in_thread
from connector.devkit.sandbox.zendesk import start_zendesk_sandbox
from connector.jobs import drain
from connector.runtime import Runtime
from connector.web import create_app

logging.getLogger("werkzeug").setLevel(
    logging.WARNING
)  # no access-log lines from the sandbox servers

TENANT = "acme"


@pytest.fixture
def sandbox():
    sb = start_zendesk_sandbox(rate_limit_per_minute=None, export_rate_limit_per_minute=None)
    yield sb
    sb.stop(wait=False)


def zendesk_config(config: dict, sb, **extra) -> dict:
    """The env tenant on OAuth: the sandbox's confidential client ``deskguard`` (created by the
    agent), tokens by the client-credentials grant."""
    return {
        **config,
        "zendesk_url": sb.url,
        "zendesk_oauth_client_id": sb.state.oauth_client.identifier,
        "zendesk_oauth_client_secret": sb.state.oauth_client.secret,
        "zendesk_ratelimit_budget_seconds": 10,
        "zendesk_timeout_seconds": 5,
        **extra,
    }


def api_token_config(config: dict, sb, **extra) -> dict:
    """The deprecated fallback: an agent's email and API token (no OAuth client)."""
    return {
        **config,
        "zendesk_url": sb.url,
        "zendesk_email": sb.agent_email,
        "zendesk_api_token": sb.agent_token,
        "zendesk_ratelimit_budget_seconds": 10,
        "zendesk_timeout_seconds": 5,
        **extra,
    }


def make_runtime(cfg: dict) -> Runtime:
    """A migrated runtime in assist mode. The classifier is the pipeline's in-memory fake: these
    tests are about Zendesk intake and write-back, not about reading tickets (and must not depend
    on a trained local model being present)."""
    rt = Runtime(cfg)
    migrate(rt.db)
    ensure_env_tenant(rt)
    tenants.set_setting(rt.db, TENANT, "default_mode", "assist", actor="test")
    inject(rt, classifier=FakeClassifier())
    return rt


@pytest.fixture
def zd_runtime(config, sandbox):
    rt = make_runtime(zendesk_config(config, sandbox))
    yield rt
    rt.close()


@pytest.fixture
def sidecar(zd_runtime):
    """The sidecar's Flask app served over HTTP, so the sandbox can deliver webhooks to it."""
    server = serve_in_thread(create_app(runtime=zd_runtime))
    yield server
    threading.Thread(
        target=server.stop, daemon=True
    ).start()  # shutdown takes up to 0.5 s; don't wait


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def deliver_and_drain(sandbox, runtime) -> int:
    """Wait for every pending webhook delivery, then process the queue in this thread."""
    assert sandbox.state.wait_for_deliveries(10)
    return drain(runtime)


def settle(sandbox, runtime, *, rounds: int = 10) -> int:
    """Deliver and process until quiet: our own writes fire triggers whose deliveries come back."""
    total = 0
    for _ in range(rounds):
        n = deliver_and_drain(sandbox, runtime)
        total += n
        if n == 0 and sandbox.state.wait_for_deliveries(0.01):
            return total
    raise AssertionError("the sandbox and the sidecar did not settle")


def jobs(runtime, kind: str = "zendesk.ticket") -> list[tuple]:
    return runtime.db.conn.execute(
        "SELECT id, state, payload, dedupe_key FROM jobs WHERE kind = ? ORDER BY id", (kind,)
    ).fetchall()
