"""The pipeline's admin API and CLI: policy, modes, go-live, decisions, metrics, replay."""

from __future__ import annotations

import json

import pytest
from zendesk_support import TENANT, sandbox  # noqa: F401  (fixtures)

from connector import audit
from connector.cli import cli
from connector.devkit.fakes import (
    FakeClassifier,
    FakeDesk,
    FakeOrders,
    inject,
    make_order,
    make_reading,
)
from connector.pipeline.engine import process_ticket
from connector.pipeline.policy import set_category_modes

AUTH = {"Authorization": "Bearer test-admin-token"}


@pytest.fixture
def processed(runtime):
    """Four decisions: two assist notes, one escalation, one automated reply."""
    desk = FakeDesk()
    inject(runtime, desk=desk)
    inject(
        runtime,
        orders=FakeOrders(
            [make_order(email=f"c{i}@example.com", name=f"#10{i:02d}") for i in range(1, 5)]
        ),
    )
    set_category_modes(
        runtime.db,
        TENANT,
        {"*": "assist", "order_status": "auto"},
        actor="t",
        override_reason="fixture",
    )
    readings = [
        make_reading("refund", 0.9),
        make_reading("refund", 0.9, urgency="urgent"),
        make_reading("product_question", 0.8, cost_usd=0.002),
        make_reading("order_status", 0.99),
    ]
    for tid, reading in enumerate(readings, start=1):
        inject(runtime, classifier=FakeClassifier(reading))
        desk.add_ticket(tid, "Hello", email=f"c{tid}@example.com")
        process_ticket(runtime, TENANT, tid)
    return desk


def test_policy_view_and_modes_over_the_api(client, runtime):
    r = client.get(f"/api/v1/tenants/{TENANT}/policy", headers=AUTH)
    assert r.status_code == 200
    assert r.json["default_mode"] == "shadow" and r.json["categories"]["refund"]["mode"] == "shadow"
    assert r.json["categories"]["order_status"]["go_live"]["ready"] is False

    r = client.put(
        f"/api/v1/tenants/{TENANT}/modes", json={"modes": {"order_status": "auto"}}, headers=AUTH
    )
    assert r.status_code == 409 and r.json["error"]["code"] == "go_live_blocked"
    assert "needs ≥ 90% over ≥ 50" in r.json["error"]["message"]

    r = client.put(
        f"/api/v1/tenants/{TENANT}/modes",
        headers=AUTH,
        json={
            "modes": {"*": "assist", "order_status": "auto"},
            "reason": "pilot",
            "override_reason": "checked 40 samples by hand",
        },
    )
    assert r.status_code == 200 and r.json["categories"]["order_status"]["mode"] == "auto"
    assert r.json["categories"]["refund"]["mode"] == "assist"
    overridden = [
        x
        for x in audit.rows(runtime.db, tenant_id=TENANT)
        if x["kind"] == "policy.go_live_overridden"
    ]
    assert overridden[0]["data"]["reason"] == "checked 40 samples by hand"

    r = client.put(
        f"/api/v1/tenants/{TENANT}/modes", json={"modes": {"refund": "sometimes"}}, headers=AUTH
    )
    assert r.status_code == 400 and "categories.refund.mode" in r.json["error"]["message"]
    r = client.patch(
        f"/api/v1/tenants/{TENANT}/policy",
        json={"policy": {"caps": {"auto_replies_per_hour": 5}}},
        headers=AUTH,
    )
    assert r.status_code == 200 and r.json["caps"]["auto_replies_per_hour"] == 5
    r = client.patch(f"/api/v1/tenants/{TENANT}/policy", json={"caps": {}}, headers=AUTH)
    assert r.status_code == 400


def test_decisions_metrics_and_one_ticket_over_the_api(client, processed):
    r = client.get(f"/api/v1/tenants/{TENANT}/decisions?outcome=escalate", headers=AUTH)
    [d] = r.json["decisions"]
    assert d["ticket_id"] == 2 and d["rule"] == "urgency" and d["escalated"] is True
    m = client.get(f"/api/v1/tenants/{TENANT}/metrics?since=1d", headers=AUTH).json
    assert m["processed"] == 4 and m["by_outcome"] == {
        "assist_note": 2,
        "escalate": 1,
        "auto_reply": 1,
    }
    assert m["automation_rate"] == 0.25 and m["escalation_rate"] == 0.25
    assert m["cost_usd_total"] == 0.002 and m["cost_usd_per_ticket"] == 0.0005
    assert m["caps"] == {"used_hour": 1, "per_hour": 20, "used_day": 1, "per_day": 200}
    assert (
        m["categories"]["refund"]["processed"] == 2
        and m["categories"]["refund"]["mode"] == "assist"
    )
    t = client.get(f"/api/v1/tenants/{TENANT}/tickets/4/decision", headers=AUTH).json
    assert (
        t["decision"]["outcome"] == "auto_reply"
        and t["decision"]["action"] == "zendesk.public_reply"
    )
    assert [a["kind"] for a in t["audit"]][-3:] == [
        "action.requested",
        "action.succeeded",
        "decision.completed",
    ]
    r = client.get(f"/api/v1/tenants/{TENANT}/decisions?limit=x", headers=AUTH)
    assert r.status_code == 400


def env(secret_key, **extra):
    return {"DESKGUARD_SECRET_KEYS": secret_key, "DESKGUARD_TENANT_ID": TENANT, **extra}


def run(cli_runner, config, secret_key, *args, **extra):
    result = cli_runner.invoke(
        cli,
        ["--db", config["database_url"] or config["db_path"], *args],
        obj={},
        env=env(secret_key, **extra),
    )
    return result


def test_cli_policy_commands(runtime, cli_runner, config, secret_key):
    r = run(cli_runner, config, secret_key, "policy", "set-mode", "order_status=auto")
    assert r.exit_code != 0 and "cannot switch to auto yet" in r.output
    r = run(
        cli_runner,
        config,
        secret_key,
        "policy",
        "set-mode",
        "*=assist",
        "order_status=auto",
        "--rollout",
        "order_status=25",
        "--override-reason",
        "demo",
        "--reason",
        "pilot",
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["modes"]["order_status"] == "auto" and out["modes"]["refund"] == "assist"
    assert out["rollout_percent"] == {"order_status": 25.0}
    r = run(
        cli_runner,
        config,
        secret_key,
        "policy",
        "patch",
        '{"escalation": {"vip_lifetime_spend": 500}}',
    )
    assert r.exit_code == 0 and json.loads(r.output)["escalation"]["vip_lifetime_spend"] == 500
    r = run(cli_runner, config, secret_key, "policy", "patch", "{not json")
    assert r.exit_code != 0 and "not valid JSON" in r.output
    r = run(cli_runner, config, secret_key, "policy", "go-live")
    assert r.exit_code == 0 and json.loads(r.output)["order_status"]["tickets"] == 0
    r = run(cli_runner, config, secret_key, "policy", "set-mode", "refund")
    assert r.exit_code != 0 and "CATEGORY=MODE" in r.output


def test_cli_decisions_commands(processed, cli_runner, config, secret_key):
    r = run(cli_runner, config, secret_key, "decisions", "list", "--outcome", "auto_reply")
    assert r.exit_code == 0 and [d["ticket_id"] for d in json.loads(r.output)] == [4]
    r = run(cli_runner, config, secret_key, "decisions", "show", "2")
    assert r.exit_code == 0 and "urgency" in json.loads(r.output)["decision"]["brief"]
    r = run(cli_runner, config, secret_key, "decisions", "metrics", "--since", "7d")
    assert r.exit_code == 0 and json.loads(r.output)["processed"] == 4


@pytest.fixture
def claude():
    from connector.devkit.sandbox.anthropic import start_anthropic_sandbox

    sb = start_anthropic_sandbox()
    yield sb
    sb.stop()


def test_cli_replay_over_the_sandboxes_estimates_claude_cost(
    runtime,
    cli_runner,
    config,
    secret_key,
    sandbox,  # noqa: F811
    claude,
):
    """The real command: zenpy export against the Zendesk sandbox, Claude (anthropic SDK) against
    its sandbox."""
    for body in (
        "Where is my order #1001? It has been a week.",
        "I want a refund for my broken mug.",
        "Can I change the shipping address of my order?",
    ):
        sandbox.state.customer_writes(subject="Help", body=body, name="Jo", email="jo@example.com")
    writes = len(sandbox.state.calls("PUT"))
    r = run(
        cli_runner,
        config,
        secret_key,
        "replay",
        "--since",
        "1d",
        "--no-progress",
        DESKGUARD_ZENDESK_URL=sandbox.url,
        DESKGUARD_ZENDESK_EMAIL=sandbox.agent_email,
        DESKGUARD_ZENDESK_API_TOKEN=sandbox.agent_token,
        DESKGUARD_ZENDESK_POLL="false",
        **claude.env,
    )
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["tickets"] == 3 and sum(c["volume"] for c in report["categories"].values()) == 3
    assert report["cost_usd"] > 0  # Claude readings are priced from their token usage
    per_ticket = [c["cost_per_ticket_usd"] for c in report["categories"].values()]
    assert all(p > 0 for p in per_ticket)
    assert len(sandbox.state.calls("PUT")) == writes and len(sandbox.state.calls("POST")) == 0
    assert (
        all("/messages" in r["path"] for r in claude.state.recorded())
        and len(claude.state.recorded()) == 3
    )
