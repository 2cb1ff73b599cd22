"""The approvals HTTP API (admin token) and the `deskguard approvals` / `lookup payments` CLI."""

from __future__ import annotations

import json

import pytest
from stripe_support import stripe_sandbox_fixture, stripe_settings  # noqa: F401

from connector.cli import cli
from connector.commerce import approvals
from connector.tenants import ensure_tenant

AUTH = {"Authorization": "Bearer test-admin-token"}


@pytest.fixture
def config(config, stripe_sandbox):
    return {**config, **stripe_settings(stripe_sandbox)}


@pytest.fixture
def proposal(runtime, stripe_sandbox):
    charge = stripe_sandbox.state.charges_of("li.wei@example.com")[0]
    return approvals.propose(
        runtime.db,
        "acme",
        55,
        "refund",
        {
            "payment_intent": charge["payment_intent"],
            "amount": 1200,
            "currency": "usd",
            "reason": "requested_by_customer",
        },
        "policy:refund_rule",
        "late delivery",
    )


def test_api_requires_the_admin_token(client, proposal):
    url = "/api/v1/tenants/acme/tickets/55/approvals"
    assert client.get(url).status_code == 401
    assert (
        client.get(url, headers={"Authorization": "Bearer wrong"}).json["error"]["code"]
        == "unauthorized"
    )
    resp = client.post(f"/api/v1/tenants/acme/approvals/{proposal.id}/approve", json={"agent": "x"})
    assert resp.status_code == 401
    assert (
        approvals.get(client.application.extensions["deskguard"].db, "acme", proposal.id).state
        == "proposed"
    )


def test_api_is_off_without_a_token(runtime, proposal):
    from connector.web import create_app

    runtime.config = runtime.config.replace(admin_token=None)
    resp = (
        create_app(runtime=runtime)
        .test_client()
        .get("/api/v1/tenants/acme/approvals", headers=AUTH)
    )
    assert resp.status_code == 403 and resp.json["error"]["code"] == "admin_api_disabled"


def test_list_approve_and_reject_over_the_api(client, runtime, stripe_sandbox, proposal):
    listed = client.get("/api/v1/tenants/acme/tickets/55/approvals", headers=AUTH).json["approvals"]
    assert [(a["id"], a["state"], a["amount"], a["summary"]) for a in listed] == [
        (proposal.id, "proposed", 1200, proposal.summary)
    ]
    assert (
        client.get("/api/v1/tenants/acme/tickets/56/approvals", headers=AUTH).json["approvals"]
        == []
    )
    assert client.get("/api/v1/tenants/acme/approvals?state=bogus", headers=AUTH).status_code == 400
    resp = client.post(
        f"/api/v1/tenants/acme/approvals/{proposal.id}/approve",
        json={"agent": "agent:jo"},
        headers=AUTH,
    )
    assert (
        resp.status_code == 200
        and resp.json["state"] == "done"
        and resp.json["decided_by"] == "agent:jo"
    )
    assert resp.json["result"]["refund"]["amount"] == 1200
    assert len(stripe_sandbox.refunds_created()) == 1
    # Rejecting a done approval is a conflict; another tenant cannot see it.
    conflict = client.post(
        f"/api/v1/tenants/acme/approvals/{proposal.id}/reject", json={"agent": "a"}, headers=AUTH
    )
    assert conflict.status_code == 409 and conflict.json["error"]["code"] == "approval_conflict"
    ensure_tenant(runtime.db, "globex")
    other = client.post(
        f"/api/v1/tenants/globex/approvals/{proposal.id}/approve", json={}, headers=AUTH
    )
    assert other.status_code == 404
    assert client.get("/api/v1/tenants/nobody/approvals", headers=AUTH).status_code == 404
    done = client.get("/api/v1/tenants/acme/approvals?state=done", headers=AUTH).json["approvals"]
    assert [a["id"] for a in done] == [proposal.id]


def test_reject_over_the_api_sends_nothing(client, stripe_sandbox, proposal):
    resp = client.post(
        f"/api/v1/tenants/acme/approvals/{proposal.id}/reject",
        json={"agent": "agent:jo", "note": "store credit instead"},
        headers=AUTH,
    )
    assert resp.status_code == 200 and resp.json["state"] == "rejected"
    assert resp.json["decision_note"] == "store credit instead"
    assert stripe_sandbox.state.requests_to("POST", "/v1/refunds") == []
    assert (
        client.post(
            f"/api/v1/tenants/acme/approvals/{proposal.id}/approve",
            data="not json",
            headers={**AUTH, "Content-Type": "application/json"},
        ).status_code
        == 400
    )


def cli_env(config) -> dict[str, str]:
    return {
        "DESKGUARD_DB_PATH": config["db_path"],
        "DESKGUARD_DATABASE_URL": config["database_url"],
        "DESKGUARD_SECRET_KEYS": config["secret_keys"][0],
        "DESKGUARD_TENANT_ID": "acme",
        "DESKGUARD_STRIPE_API_KEY": config["stripe_api_key"],
        "DESKGUARD_STRIPE_API_BASE": config["stripe_api_base"],
        "DESKGUARD_STRIPE_MAX_NETWORK_RETRIES": "0",
    }


def test_cli_list_approve_reject(cli_runner, config, runtime, stripe_sandbox, proposal):
    env = cli_env(config)
    out = cli_runner.invoke(
        cli, ["approvals", "list", "--tenant", "acme", "--state", "proposed"], env=env
    )
    assert out.exit_code == 0, out.output
    assert [a["id"] for a in json.loads(out.stdout)["approvals"]] == [proposal.id]
    out = cli_runner.invoke(
        cli,
        ["approvals", "approve", str(proposal.id), "--tenant", "acme", "--agent", "jo"],
        env=env,
    )
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["state"] == "done" and len(stripe_sandbox.refunds_created()) == 1
    out = cli_runner.invoke(
        cli, ["approvals", "reject", str(proposal.id), "--tenant", "acme", "--agent", "jo"], env=env
    )
    assert out.exit_code == 1 and "is done" in out.output
    out = cli_runner.invoke(cli, ["approvals", "show", "999", "--tenant", "acme"], env=env)
    assert out.exit_code == 1 and "no approval 999" in out.output


def test_cli_lookup_payments(cli_runner, config, runtime, stripe_sandbox):
    out = cli_runner.invoke(
        cli,
        ["lookup", "payments", "--tenant", "acme", "--email", "pat.chargeback@example.com"],
        env=cli_env(config),
    )
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["email"] == "pat.chargeback@example.com" and data["customer_id"].startswith("cus_")
    assert [c["amount"] for c in data["charges"]] == [24900]
    assert data["disputes"][0]["reason"] == "fraudulent"
    out = cli_runner.invoke(
        cli,
        ["lookup", "payments", "--tenant", "acme", "--email", "x@example.com"],
        env={**cli_env(config), "DESKGUARD_STRIPE_API_KEY": "sk_test_wrong"},
    )
    assert out.exit_code == 1 and "Stripe rejected the API key" in out.output


def test_bench_stripe_runs_and_counts_requests(cli_runner):
    out = cli_runner.invoke(
        cli, ["bench", "stripe", "--lookups", "5", "--webhooks", "3", "--refunds", "2"]
    )
    assert out.exit_code == 0, out.output
    figures = json.loads(out.stdout)
    assert figures["lookup"]["requests_per_lookup"]["pat.chargeback@example.com"] == 4
    assert figures["lookup"]["requests_per_lookup"]["jane.doe@example.com"] == 3
    assert figures["webhooks"]["n"] == 3 and figures["refunds"]["refunds_in_stripe"] == 2


def test_stripe_credentials_are_stored_encrypted(runtime, config):
    row = runtime.db.conn.execute(
        "SELECT ciphertext FROM secrets WHERE tenant_id = 'acme' AND name = ?", ("stripe_api_key",)
    ).fetchone()
    assert row and config["stripe_api_key"] not in row[0]
    assert (
        runtime.secrets.get(runtime.db, "acme", "stripe_api_key").reveal()
        == config["stripe_api_key"]
    )
    assert runtime.config.redacted()["stripe_api_key"] == "********"
    ensure_tenant(runtime.db, "unconfigured")
    from connector.errors import ConfigError

    with pytest.raises(ConfigError, match="DESKGUARD_STRIPE_API_KEY"):
        runtime.services("unconfigured").require_payments()


def test_money_formatting():
    from connector.commerce.payments import format_minor

    assert format_minor(5890, "usd") == "58.90 USD"
    assert format_minor(5, "eur") == "0.05 EUR"
    assert format_minor(1200, "jpy") == "1200 JPY"
    assert format_minor(-150, "usd") == "-1.50 USD"
