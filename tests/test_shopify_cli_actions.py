"""`deskguard lookup orders`, and the approved cancellation as a keyed, audited vendor write."""

from __future__ import annotations

import json

import pytest
import shopify_support
from shopify_support import SHOP, TOKEN, shop_settings

from connector import actions, audit
from connector.cli import cli
from connector.commerce.service import cancel_write_action
from connector.errors import KillSwitchEngaged
from connector.tenants import set_kill_switch

shop_server = (
    shopify_support.shop_server
)  # fixtures: one sandbox server per process, a fresh shop per test
shop = shopify_support.shop


@pytest.fixture
def config(config, shop):  # the conftest config plus the sandbox shop
    return {**config, **shop_settings(shop)}


# --- lookup orders --------------------------------------------------------------------------------
@pytest.fixture
def cli_env(config, shop):
    return {
        "DESKGUARD_DB_PATH": config["db_path"],
        "DESKGUARD_DATABASE_URL": config["database_url"],
        "DESKGUARD_SECRET_KEYS": config["secret_keys"][0],
        "DESKGUARD_TENANT_ID": "acme",
        "DESKGUARD_SHOPIFY_SHOP": SHOP,
        "DESKGUARD_SHOPIFY_ACCESS_TOKEN": TOKEN,
        "DESKGUARD_SHOPIFY_ADMIN_URL": shop.url,
    }


def test_lookup_orders_by_name_and_email(cli_runner, cli_env):
    result = cli_runner.invoke(
        cli, ["lookup", "orders", "--tenant", "acme", "--order", "order 1001"], env=cli_env
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["count"] == 1 and out["orders"][0]["name"] == "#1001"
    assert out["orders"][0]["fulfillments"][0]["tracking_company"] == "UPS"

    result = cli_runner.invoke(
        cli,
        ["lookup", "orders", "--tenant", "acme", "--email", "sam.vip@example.com", "--summary"],
        env=cli_env,
    )
    out = json.loads(result.output)
    assert [o["name"] for o in out["orders"]] == ["#1004", "#1009"]
    assert out["wismo_ready"]["ready"] is False and "2 orders" in out["wismo_ready"]["reason"]
    assert out["summaries"][0].startswith("#1004 · ")


def test_lookup_orders_needs_a_query_and_reports_vendor_errors(cli_runner, cli_env):
    result = cli_runner.invoke(cli, ["lookup", "orders", "--tenant", "acme"], env=cli_env)
    assert result.exit_code == 2 and "--email or --order" in result.output
    bad = {**cli_env, "DESKGUARD_SHOPIFY_ACCESS_TOKEN": "shpat_wrong"}
    result = cli_runner.invoke(
        cli, ["lookup", "orders", "--tenant", "acme", "--order", "1001"], env=bad
    )
    assert result.exit_code == 1 and "401" in result.output


def test_lookup_help_has_an_example(cli_runner):
    result = cli_runner.invoke(cli, ["lookup", "orders", "--help"])
    assert "Example: deskguard lookup orders" in result.output


# --- cancel as a WriteAction ----------------------------------------------------------------------
def marco_order(runtime) -> str:
    [order] = runtime.services("acme").require_orders().find_orders(order_name="1002")
    return order.id


def cancel_action(runtime, order_id: str, key: str = "approval-7-cancel_order"):
    return cancel_write_action(
        runtime,
        "acme",
        order_id=order_id,
        reason="CUSTOMER",
        notify_customer=True,
        restock=True,
        staff_note="Approved by jo@example.com",
        idempotency_key=key,
        ticket_id=42,
    )


def test_cancel_runs_once_through_actions_execute(runtime, shop):
    order_id = marco_order(runtime)
    outcome = actions.execute(runtime.db, "acme", cancel_action(runtime, order_id))
    assert outcome.state == "done" and outcome.result["order_id"] == order_id
    again = actions.execute(runtime.db, "acme", cancel_action(runtime, order_id))
    assert again.replayed and len(shop.state.cancellations) == 1
    kinds = [r["kind"] for r in audit.rows(runtime.db, tenant_id="acme", ticket_id=42)]
    assert kinds == ["action.requested", "action.succeeded"]


def test_unknown_outcome_is_reconciled_instead_of_cancelling_twice(runtime, shop):
    order_id = marco_order(runtime)
    # an earlier attempt reached Shopify, then the process died before recording the outcome
    runtime.services("acme").require_orders().cancel_order(
        order_id, reason="CUSTOMER", notify_customer=True, restock=True, staff_note=""
    )
    runtime.db.conn.execute(
        "INSERT INTO actions (tenant_id, idempotency_key, vendor, kind, ticket_id, params, state,"
        " attempts, created_at, updated_at)"
        " VALUES ('acme', 'approval-7-cancel_order', 'shopify', 'shopify.cancel_order',"
        " 42, '{}', 'sending', 1, 'x', 'x')"
    )
    outcome = actions.execute(runtime.db, "acme", cancel_action(runtime, order_id))
    assert outcome.reconciled and outcome.result["already_cancelled"] is True
    assert len(shop.state.cancellations) == 1


def test_kill_switch_blocks_the_cancel(runtime, shop):
    order_id = marco_order(runtime)
    set_kill_switch(runtime.db, "acme", True, actor="test")
    with pytest.raises(KillSwitchEngaged):
        actions.execute(runtime.db, "acme", cancel_action(runtime, order_id))
    assert shop.state.cancellations == []


def test_sandbox_shopify_command_prints_settings_and_serves():
    import json
    import os
    import signal
    import subprocess
    import sys
    import time
    import urllib.request

    binary = os.path.join(os.path.dirname(sys.executable), "deskguard")
    proc = subprocess.Popen(
        [binary, "sandbox", "shopify", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        lines, deadline = b"", time.time() + 30
        while not lines.rstrip().endswith(b"}") and time.time() < deadline:
            lines += proc.stdout.readline()
        info = json.loads(lines)
        assert info["env"]["DESKGUARD_SHOPIFY_ADMIN_URL"] == info["url"]
        assert "jane.doe@example.com" in info["customers"]
        req = urllib.request.Request(
            f"{info['url']}/admin/api/2025-01/graphql.json", data=b"{}", method="POST"
        )
        try:
            urllib.request.urlopen(req, timeout=5)
        except urllib.error.HTTPError as exc:
            assert exc.code == 401  # no access token: refused like Shopify does
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
