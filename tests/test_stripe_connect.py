"""Connecting Stripe with a pasted key, with the real stripe SDK against the sandbox: the key's
permissions are probed (missing ones named), our webhook endpoint is created once through the
API, and key and signing secret are stored encrypted."""

from __future__ import annotations

import json

import pytest
from stripe_support import stripe_sandbox_fixture  # noqa: F401 (fixture)

from connector.commerce import stripe_connect
from connector.commerce.service import STRIPE_API_KEY_SECRET, STRIPE_WEBHOOK_SECRET
from connector.devkit.sandbox.stripe import DEFAULT_RESTRICTED_PERMISSIONS, sign_payload
from connector.errors import BadRequest, ConfigError, NotFound, PermanentError

PUBLIC_URL = "https://deskguard.example.com"
FULL = DEFAULT_RESTRICTED_PERMISSIONS


@pytest.fixture
def config(config, stripe_sandbox):
    return {
        **config,
        "public_url": PUBLIC_URL,
        "stripe_api_base": stripe_sandbox.url,
        "stripe_max_network_retries": 0,
        "stripe_timeout_seconds": 5.0,
    }


def key(stripe_sandbox, name: str, permissions=FULL) -> str:
    return stripe_sandbox.state.add_key(f"rk_test_{name}", set(permissions))


def connect(runtime, api_key: str):
    return stripe_connect.connect_stripe(runtime, "acme", api_key, actor="admin:test")


def endpoints(stripe_sandbox) -> list[dict]:
    return list(stripe_sandbox.state.endpoint_objects.values())


def test_restricted_key_with_every_permission_connects(runtime, stripe_sandbox):
    conn = connect(runtime, key(stripe_sandbox, "full"))
    [endpoint] = endpoints(stripe_sandbox)
    assert conn.endpoint_created and conn.endpoint_id == endpoint["id"]
    assert endpoint["url"] == f"{PUBLIC_URL}/webhooks/stripe/acme"
    assert endpoint["enabled_events"] == ["charge.dispute.created"]
    secret = runtime.secrets.get(runtime.db, "acme", STRIPE_WEBHOOK_SECRET)
    assert secret == endpoint["secret"] and secret.startswith("whsec_")
    assert runtime.secrets.get(runtime.db, "acme", STRIPE_API_KEY_SECRET) == "rk_test_full"
    stored = " ".join(r[0] for r in runtime.db.conn.execute("SELECT ciphertext FROM secrets"))
    assert "rk_test_full" not in stored and endpoint["secret"] not in stored  # encrypted
    assert stripe_connect.connection_state(runtime, "acme")["connected"] is True


def test_missing_permissions_are_named_and_nothing_is_stored(runtime, stripe_sandbox):
    partial = FULL - {"rak_refund_write", "rak_webhook_write"}
    with pytest.raises(stripe_connect.MissingPermissions) as err:
        connect(runtime, key(stripe_sandbox, "partial", partial))
    assert err.value.missing == ["Refunds: Write", "Webhook Endpoints: Write"]
    assert "Refunds: Write, Webhook Endpoints: Write" in str(err.value)
    assert endpoints(stripe_sandbox) == []
    assert runtime.secrets.get(runtime.db, "acme", STRIPE_API_KEY_SECRET) is None


def test_read_only_key_names_every_write_permission(runtime, stripe_sandbox):
    read_only = {p for p in FULL if p.endswith("_read")}
    with pytest.raises(stripe_connect.MissingPermissions) as err:
        connect(runtime, key(stripe_sandbox, "ro", read_only))
    assert set(err.value.missing) == {"Refunds: Write", "Webhook Endpoints: Write"}


def test_connecting_twice_keeps_one_endpoint(runtime, stripe_sandbox):
    api_key = key(stripe_sandbox, "twice")
    first = connect(runtime, api_key)
    second = connect(runtime, api_key)
    assert [e["id"] for e in endpoints(stripe_sandbox)] == [first.endpoint_id]
    assert not second.endpoint_created and second.endpoint_id == first.endpoint_id
    posts = stripe_sandbox.state.requests_to("POST", "/v1/webhook_endpoints")
    # each connect probes with an empty create (refused with 400); one real create in all
    assert sorted(r["status"] for r in posts) == [200, 400, 400]


def test_endpoint_without_our_secret_is_replaced(runtime, stripe_sandbox):
    api_key = key(stripe_sandbox, "lost")
    first = connect(runtime, api_key)
    runtime.secrets.delete(runtime.db, "acme", STRIPE_WEBHOOK_SECRET)  # secret lost
    second = connect(runtime, api_key)
    assert second.endpoint_created and second.endpoint_id != first.endpoint_id
    assert [e["id"] for e in endpoints(stripe_sandbox)] == [second.endpoint_id]


def test_unknown_key_is_refused(runtime, stripe_sandbox):
    with pytest.raises(PermanentError) as err:
        connect(runtime, "rk_test_nobody_knows")
    assert err.value.code == "stripe_auth_failed"


@pytest.mark.parametrize("bad", ["pk_test_abc", "whsec_abc", "", "rk_abc"])
def test_malformed_key_is_refused_before_any_call(runtime, stripe_sandbox, bad):
    with pytest.raises(BadRequest):
        connect(runtime, bad)
    assert stripe_sandbox.state.requests == []


def test_secret_key_connects_with_a_warning(runtime, stripe_sandbox):
    conn = connect(runtime, "sk_test_deskguard_demo")
    assert conn.key_kind == "secret" and conn.warnings


def test_unknown_tenant_is_refused(runtime, stripe_sandbox):
    with pytest.raises(NotFound):
        stripe_connect.connect_stripe(runtime, "nobody", "rk_test_x", actor="t")


def test_public_url_is_required(runtime, stripe_sandbox, monkeypatch):
    monkeypatch.setattr(stripe_connect, "webhook_url", _no_public_url)
    with pytest.raises(ConfigError):
        connect(runtime, key(stripe_sandbox, "nourl"))


def _no_public_url(runtime, tenant_id):
    raise ConfigError("set DESKGUARD_PUBLIC_URL")


def test_events_reach_the_connected_tenant(runtime, app, stripe_sandbox):
    """The stored signing secret verifies what Stripe signs for the created endpoint."""
    connect(runtime, key(stripe_sandbox, "live"))
    secret = runtime.secrets.get(runtime.db, "acme", STRIPE_WEBHOOK_SECRET).reveal()
    event = stripe_sandbox.state.event("customer.created", {"id": "cus_1", "object": "customer"})
    body = json.dumps(event).encode()
    resp = app.test_client().post(
        "/webhooks/stripe/acme",
        data=body,
        headers={
            "Stripe-Signature": sign_payload(body, secret),
            "Content-Type": "application/json",
        },
    )
    assert resp.status_code == 200, resp.get_json()


def cli_env(config) -> dict[str, str]:
    return {
        "DESKGUARD_DB_PATH": config["db_path"],
        "DESKGUARD_DATABASE_URL": config["database_url"],
        "DESKGUARD_SECRET_KEYS": ",".join(config["secret_keys"]),
        "DESKGUARD_TENANT_ID": "acme",
        "DESKGUARD_PUBLIC_URL": PUBLIC_URL,
        "DESKGUARD_STRIPE_API_BASE": config["stripe_api_base"],
        "DESKGUARD_STRIPE_MAX_NETWORK_RETRIES": "0",
    }


def test_cli_connect_names_missing_permissions_then_connects(
    cli_runner, config, runtime, stripe_sandbox
):
    from connector.cli import cli

    partial = key(stripe_sandbox, "cli_partial", FULL - {"rak_dispute_read"})
    out = cli_runner.invoke(
        cli,
        ["stripe", "connect", "--tenant", "acme", "--key-stdin"],
        input=partial + "\n",
        env=cli_env(config),
    )
    assert out.exit_code != 0 and "Disputes: Read" in out.output
    out = cli_runner.invoke(
        cli,
        ["stripe", "connect", "--tenant", "acme"],
        input=key(stripe_sandbox, "cli_full") + "\n",
        env=cli_env(config),
    )
    assert out.exit_code == 0, out.output
    body = json.loads(out.stdout[out.stdout.index("{") :])
    assert body["webhook_endpoint"]["created"] is True
    assert "rk_test_cli_full" not in out.output  # the prompt hides the key
