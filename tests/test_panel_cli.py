"""`deskguard app token|tokens|revoke` and `deskguard feedback export`."""

from __future__ import annotations

import json

from panel_support import TENANT, add_decision, agent_headers

from connector.cli import cli


def invoke(cli_runner, config, *args):
    env = {"DESKGUARD_SECRET_KEYS": config["secret_keys"][0], "DESKGUARD_TENANT_ID": TENANT}
    return cli_runner.invoke(
        cli,
        ["--db", config["database_url"] or config["db_path"], *args],
        env=env,
        catch_exceptions=False,
    )


def test_app_token_lifecycle(cli_runner, config, runtime, client):
    result = invoke(cli_runner, config, "app", "token", "--tenant", TENANT, "--label", "prod")
    assert result.exit_code == 0, result.output
    issued = json.loads(result.output)
    token = issued["token"]
    assert token.startswith("dgapp_") and len(token) > 40
    assert (
        client.get("/panel/api/me", headers=agent_headers(token, runtime=runtime)).status_code
        == 200
    )

    listed = json.loads(invoke(cli_runner, config, "app", "tokens", "--tenant", TENANT).output)
    assert [(t["id"], t["label"], t["revoked_at"]) for t in listed] == [
        (issued["id"], "prod", None)
    ]
    assert token not in json.dumps(listed) and token.startswith(listed[0]["prefix"])

    assert (
        invoke(
            cli_runner, config, "app", "revoke", "--tenant", TENANT, "--id", str(issued["id"])
        ).exit_code
        == 0
    )
    assert (
        client.get("/panel/api/me", headers=agent_headers(token, runtime=runtime)).status_code
        == 401
    )
    again = invoke(
        cli_runner, config, "app", "revoke", "--tenant", TENANT, "--id", str(issued["id"])
    )
    assert again.exit_code != 0 and "no live token" in again.output


def test_app_token_for_unknown_tenant_fails_clearly(cli_runner, config, runtime):
    result = invoke(cli_runner, config, "app", "token", "--tenant", "nobody")
    assert result.exit_code != 0 and "unknown tenant" in result.output


def test_feedback_export_writes_training_jsonl(cli_runner, config, runtime, client, tmp_path):
    db = runtime.db
    token = json.loads(invoke(cli_runner, config, "app", "token", "--tenant", TENANT).output)[
        "token"
    ]
    right = add_decision(
        db, TENANT, 1, category="order_status", subject="Where is it?", body="Order [ORDER] late"
    )
    wrong = add_decision(
        db, TENANT, 2, category="order_status", subject="Money back", body="I want a refund"
    )
    add_decision(db, TENANT, 3, category="refund")
    add_decision(db, TENANT, 4, category="refund")  # never judged: not exported
    post = client.post
    post(
        f"/panel/api/{TENANT}/tickets/1/feedback",
        headers=agent_headers(token, runtime=runtime),
        json={"verdict": "right"},
    )
    post(
        f"/panel/api/{TENANT}/tickets/2/feedback",
        headers=agent_headers(token, runtime=runtime),
        json={"verdict": "wrong", "correct_category": "refund"},
    )
    post(
        f"/panel/api/{TENANT}/tickets/3/feedback",
        headers=agent_headers(token, runtime=runtime),
        json={"verdict": "wrong"},
    )

    out = tmp_path / "feedback.jsonl"
    result = invoke(cli_runner, config, "feedback", "export", "--tenant", TENANT, "--out", str(out))
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines == [
        {
            "id": f"{TENANT}:1:{right}",
            "subject": "Where is it?",
            "body": "Order [ORDER] late",
            "label": "order_status",
        },
        {
            "id": f"{TENANT}:2:{wrong}",
            "subject": "Money back",
            "body": "I want a refund",
            "label": "refund",
        },
    ]
    assert json.loads(result.output.strip().splitlines()[-1]) == {
        "exported": 2,
        "skipped": {"wrong_without_category": 1},
    }


def test_feedback_export_latest_verdict_wins(cli_runner, config, runtime, client):
    db = runtime.db
    token = json.loads(invoke(cli_runner, config, "app", "token", "--tenant", TENANT).output)[
        "token"
    ]
    add_decision(db, TENANT, 5, category="order_status")
    url = f"/panel/api/{TENANT}/tickets/5/feedback"
    client.post(
        url, headers=agent_headers(token, runtime=runtime, agent_id="1"), json={"verdict": "right"}
    )
    client.post(
        url,
        headers=agent_headers(token, runtime=runtime, agent_id="2"),
        json={"correct_category": "shipping_problem"},
    )
    result = invoke(cli_runner, config, "feedback", "export", "--tenant", TENANT)
    rows = [json.loads(x) for x in result.output.splitlines() if x.startswith('{"id"')]
    assert [r["label"] for r in rows] == ["shipping_problem"]
