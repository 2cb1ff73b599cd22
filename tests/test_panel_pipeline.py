"""The side panel shows what the real decision pipeline wrote (pipeline over in-memory port fakes),
and panel feedback becomes the pipeline's training export."""

from __future__ import annotations

import json

import pytest
from panel_support import TENANT, agent_headers

from connector.devkit import fakes as testing
from connector.devkit.fakes import inject
from connector.errors import KillSwitchEngaged
from connector.panel.auth import issue_token
from connector.panel.feedback_export import training_rows
from connector.pipeline.engine import process_ticket
from connector.pipeline.policy import set_category_modes
from connector.tenants import set_kill_switch


@pytest.fixture
def desk(runtime):
    d = testing.FakeDesk()
    inject(runtime, desk=d)
    inject(runtime, classifier=testing.FakeClassifier(testing.make_reading("order_status", 0.96)))
    inject(runtime, orders=testing.FakeOrders([testing.make_order()]))
    set_category_modes(
        runtime.db, TENANT, {"order_status": "assist"}, actor="test", override_reason="panel test"
    )
    return d


def test_panel_shows_the_pipeline_decision(client, runtime, desk):
    desk.add_ticket(31, "Where is my order #1001? It is late.", subject="Order late")
    result = process_ticket(runtime, TENANT, 31)
    assert result.outcome == "assist_note"
    token = issue_token(runtime.db, TENANT)[1]
    v = client.get(
        f"/panel/api/{TENANT}/tickets/31", headers=agent_headers(token, runtime=runtime)
    ).get_json()
    assert v["state"] == "processed"
    d = v["decision"]
    assert d["id"] == result.decision_id
    assert (d["category"], d["confidence"]) == ("order_status", 0.96)
    assert d["policy"]["outcome"] == "assist_note" and d["policy"]["rule"] == result.rule
    assert d["policy"]["trace"] and all("rule" in t for t in d["policy"]["trace"])
    assert [o["name"] for o in d["orders"]] == ["#1001"]
    assert d["suggested_reply"]  # the pipeline's suggestion, insertable from the panel
    # what the pipeline recorded, in words
    assert d["confidence_text"] == "96%" and d["category_label"] == "Order status"
    assert d["policy"]["outcome_text"] == "Suggested reply for an agent"
    assert d["policy"]["rule_text"] and "_" not in d["policy"]["rule_text"]
    assert all(t["text"] and "_" not in t["text"] for t in d["policy"]["trace_text"])
    order = d["orders"][0]
    assert order["financial_status_text"] and order["financial_status_text"] != order.get(
        "financial_status"
    )
    assert d["happened"]["kind"] == "note" and d["answered"] is False

    resp = client.post(
        f"/panel/api/{TENANT}/tickets/31/feedback",
        headers=agent_headers(token, runtime=runtime),
        json={"correct_category": "shipping_problem"},
    )
    assert resp.status_code == 201
    [row] = list(training_rows(runtime.db, TENANT))
    assert row["label"] == "shipping_problem" and row["subject"] == "Order late"
    assert "late" in row["body"]
    snapshot = json.loads(
        runtime.db.conn.execute(
            "SELECT input_snapshot FROM decisions WHERE id = ?", (result.decision_id,)
        ).fetchone()[0]
    )
    assert (row["subject"], row["body"]) == (snapshot["subject"], snapshot["body"])


def test_panel_shows_a_deferred_decision_under_the_kill_switch(client, runtime, desk):
    desk.add_ticket(32, "Where is my order #1001?")
    set_kill_switch(runtime.db, TENANT, True, actor="test")
    with pytest.raises(KillSwitchEngaged):
        process_ticket(runtime, TENANT, 32)
    token = issue_token(runtime.db, TENANT)[1]
    v = client.get(
        f"/panel/api/{TENANT}/tickets/32", headers=agent_headers(token, runtime=runtime)
    ).get_json()
    assert v["state"] == "deferred" and v["kill_switch"] is True and "kill switch" in v["message"]
    assert v["decision"]["category"] == "order_status"
    assert v["decision"]["happened"]["kind"] == "held" and v["decision"]["answered"] is False
