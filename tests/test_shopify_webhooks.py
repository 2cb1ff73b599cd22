"""Shopify webhooks: signature before anything, dedupe, app/uninstalled, and the mandatory privacy
topics (data_request export, customers/redact and shop/redact erasure with a verifiable audit
chain)."""

from __future__ import annotations

import hashlib
import json
import os
import stat

import pytest
import shopify_support
from shopify_support import API_SECRET, SHOP, shop_settings

from connector import actions, audit
from connector.cli import cli
from connector.commerce.shopify_webhooks import sign, verify_signature
from connector.db import table_names, transaction
from connector.devkit.sandbox import serve_in_thread
from connector.devkit.sandbox.shopify import send_state_webhook, webhook_headers
from connector.errors import PermanentError
from connector.tenants import ensure_tenant
from connector.web import create_app

JANE, LI = "jane.doe@example.com", "li.wei@example.com"
JANE_ORDER, LI_ORDER = 5500001001, 5500001003

shop_server = (
    shopify_support.shop_server
)  # fixtures: one sandbox server per process, a fresh shop per test
shop = shopify_support.shop


@pytest.fixture
def config(config, shop):  # the conftest config plus the sandbox shop
    return {**config, **shop_settings(shop)}


def post(
    client,
    topic: str,
    payload: dict,
    *,
    tenant: str | None = "acme",
    secret: str = API_SECRET,
    shop_domain: str = SHOP,
    webhook_id: str | None = None,
    event_id: str | None = None,
    body: bytes | None = None,
    signature: str | None = None,
):
    raw = body if body is not None else json.dumps(payload).encode()
    headers = webhook_headers(
        topic, raw, secret=secret, shop_domain=shop_domain, webhook_id=webhook_id, event_id=event_id
    )
    if signature is not None:
        headers["X-Shopify-Hmac-Sha256"] = signature
    url = f"/webhooks/shopify/{tenant}" if tenant else "/webhooks/shopify"
    return client.post(url, data=raw, headers=headers)


def redact_payload(email=JANE, customer_id=7001, orders=(JANE_ORDER,)):
    return {
        "shop_id": 954889,
        "shop_domain": SHOP,
        "customer": {"id": customer_id, "email": email, "phone": "555-625-1199"},
        "orders_to_redact": list(orders),
    }


def shop_payload(shop_domain=SHOP, shop_id=954889):
    """The ``app/uninstalled`` body: the shop, as Shopify's REST Shop resource."""
    return {
        "id": shop_id,
        "name": "Deskguard Demo",
        "domain": "shop.example.com",
        "myshopify_domain": shop_domain,
    }


def data_request_payload(email=JANE, customer_id=7001, request_id=9999):
    return {
        "shop_id": 954889,
        "shop_domain": SHOP,
        "orders_requested": [JANE_ORDER],
        "customer": {"id": customer_id, "email": email, "phone": "555-625-1199"},
        "data_request": {"id": request_id},
    }


def seed_customer_data(runtime, ticket_id: int, email: str, order_id: int, name: str) -> None:
    """What the pipeline leaves behind for one customer's ticket: a decision, feedback, a keyed
    Zendesk write (with its audit rows) and the queue job."""
    db = runtime.db
    context = {"orders": [{"id": f"gid://shopify/Order/{order_id}", "name": name, "email": email}]}
    with transaction(db):
        decision_id = db.conn.execute(
            "INSERT INTO decisions (tenant_id, ticket_id, created_at, category, outcome, context,"
            " brief, requester_hash)"
            " VALUES ('acme', ?, '2025-01-01T00:00:00Z', 'order_status', 'assist_note', ?, ?, ?)"
            " RETURNING id",
            (
                ticket_id,
                json.dumps(context),
                f"Customer {email} asks about {name}",
                hashlib.sha256(email.encode()).hexdigest(),
            ),
        ).fetchone()[0]
        db.conn.execute(
            "INSERT INTO feedback"
            " (tenant_id, ticket_id, decision_id, agent_id, verdict, created_at)"
            " VALUES ('acme', ?, ?, 'agent-1', 'right', '2025-01-01T00:00:00Z')",
            (ticket_id, decision_id),
        )
    actions.execute(
        db,
        "acme",
        actions.WriteAction(
            "zendesk",
            "zendesk.internal_note",
            f"note-{ticket_id}",
            {"ticket_id": ticket_id, "body": f"Order {name} for {email}"},
            send=lambda key: {"comment_id": ticket_id * 10},
            ticket_id=ticket_id,
        ),
    )
    runtime.queue.enqueue("acme", "zendesk.ticket", {"ticket_id": ticket_id}, f"ticket-{ticket_id}")
    runtime.queue.enqueue(
        "acme",
        "zendesk.ticket.done",
        {"ticket_id": ticket_id, "requester": email},
        f"ticket-{ticket_id}-done",
    )


@pytest.fixture
def seeded(runtime):
    seed_customer_data(runtime, 101, JANE, JANE_ORDER, "#1001")
    seed_customer_data(runtime, 103, LI, LI_ORDER, "#1003")
    return runtime


def table_text(db) -> str:
    """Every text value in every table (to prove an address is gone from the ledger)."""
    out = []
    for table in sorted(table_names(db)):
        for row in db.conn.execute(f'SELECT * FROM "{table}"'):
            out += [v for v in row if isinstance(v, str)]
    return "\n".join(out).lower()


def audit_count(db) -> int:
    return db.conn.execute("SELECT count(*) FROM audit_log").fetchone()[0]


def has_token(runtime) -> bool:
    return runtime.secrets.get(runtime.db, "acme", "shopify_access_token") is not None


# --- signature ------------------------------------------------------------------------------------
def test_sign_matches_the_emulator_and_verify_is_strict():
    body = b'{"id": 1}'
    from connector.devkit.sandbox.shopify import sign_webhook

    assert sign(body, "s") == sign_webhook(body, "s")
    assert verify_signature(body, sign(body, "s"), "s")
    assert verify_signature(body, sign(body, "old"), "new,old")  # during a secret rotation
    assert not verify_signature(body + b" ", sign(body, "s"), "s")
    assert not verify_signature(body, sign(body, "s"), None)
    assert not verify_signature(body, "", "s") and not verify_signature(body, "ünïcode", "s")


@pytest.mark.parametrize(
    "topic", ["customers/redact", "shop/redact", "customers/data_request", "app/uninstalled"]
)
def test_bad_signature_is_401_and_nothing_happens(client, seeded, topic):
    db = seeded.db
    before_audit, before_text = audit_count(db), table_text(db)
    payload = redact_payload() if topic != "customers/data_request" else data_request_payload()
    for kwargs in (
        {"secret": "not-the-secret"},
        {"signature": ""},
        {"signature": "bm90IGEgc2lnbmF0dXJl"},
    ):
        response = post(client, topic, payload, **kwargs)
        assert response.status_code == 401
        assert response.get_json()["error"]["code"] == "invalid_signature"
    # a body changed after signing fails too
    raw = json.dumps(payload).encode()
    response = post(client, topic, payload, body=raw + b" ", signature=sign(raw, API_SECRET))
    assert response.status_code == 401
    assert audit_count(db) == before_audit and table_text(db) == before_text and has_token(seeded)
    assert db.conn.execute("SELECT count(*) FROM shopify_webhook_deliveries").fetchone()[0] == 0


def test_without_a_configured_secret_every_webhook_is_401(config, tmp_path):
    from connector.bootstrap import ensure_env_tenant
    from connector.db import migrate
    from connector.runtime import Runtime

    rt = Runtime({**config, "shopify_api_secret": None})
    try:
        migrate(rt.db)
        ensure_env_tenant(rt)
        response = post(create_app(runtime=rt).test_client(), "app/uninstalled", {"id": 1})
        assert response.status_code == 401
    finally:
        rt.close()


# --- routing, headers ---------------------------------------------------------------------------
def test_shop_must_be_connected_to_the_tenant(client, runtime):
    assert (
        post(
            client,
            "app/uninstalled",
            shop_payload("other-store.myshopify.com"),
            shop_domain="other-store.myshopify.com",
        ).status_code
        == 404
    )
    assert post(client, "app/uninstalled", shop_payload(), tenant="nobody").status_code == 404
    assert (
        post(
            client, "app/uninstalled", shop_payload(), shop_domain="evil.com/x.myshopify.com"
        ).status_code
        == 400
    )
    assert has_token(runtime)


def test_malformed_body_with_a_valid_signature_is_400(client, runtime):
    response = post(client, "customers/redact", {}, body=b"not json")
    assert response.status_code == 400 and has_token(runtime)


def test_app_level_route_finds_the_tenant_by_shop(client, runtime):
    response = post(client, "app/uninstalled", shop_payload(), tenant=None)
    assert response.status_code == 200
    assert [d["tenant"] for d in response.get_json()["deliveries"]] == ["acme"]
    assert not has_token(runtime)
    # a shop no tenant is connected to: nothing is held, nothing to do
    response = post(
        client,
        "shop/redact",
        {"shop_id": 1, "shop_domain": "unknown.myshopify.com"},
        tenant=None,
        shop_domain="unknown.myshopify.com",
    )
    assert response.status_code == 200 and response.get_json()["deliveries"] == []


# --- dedupe, app/uninstalled ----------------------------------------------------------------------
def test_app_uninstalled_purges_the_token_and_redelivery_is_deduped(client, runtime):
    adapter = runtime.services("acme").require_orders()
    assert adapter.find_orders(order_name="1001")
    response = post(
        client,
        "app/uninstalled",
        shop_payload(),
        webhook_id="wh-1",
        event_id="ev-1",
    )
    assert (
        response.status_code == 200 and response.get_json()["deliveries"][0]["duplicate"] is False
    )
    assert not has_token(runtime)
    with pytest.raises(PermanentError):
        runtime.services("acme").require_orders().find_orders(order_name="1001")
    kinds = [r["kind"] for r in audit.rows(runtime.db, tenant_id="acme")]
    assert kinds.count("shopify.token_purged") == 1 and kinds.count("shopify.webhook_received") == 1

    # The uninstall also unlinked the shop; a reinstall links it again with a new token.
    ensure_tenant(runtime.db, "acme", shopify_shop=SHOP)
    runtime.secrets.put(runtime.db, "acme", "shopify_access_token", "shpat_reinstalled")
    again = post(
        client,
        "app/uninstalled",
        shop_payload(),
        webhook_id="wh-1",
        event_id="ev-1",
    )
    assert again.status_code == 200 and again.get_json()["deliveries"][0]["duplicate"] is True
    assert has_token(runtime)  # the redelivery did nothing
    row = runtime.db.conn.execute(
        "SELECT event_id, topic, outcome FROM shopify_webhook_deliveries"
    ).fetchall()
    assert row == [("ev-1", "app/uninstalled", "token purged (1 secret)")]


def test_other_topics_are_recorded_and_ignored(client, runtime):
    response = post(client, "orders/updated", {"id": JANE_ORDER})
    assert response.status_code == 200
    assert response.get_json()["deliveries"][0]["outcome"] == "ignored" and has_token(runtime)


def test_real_http_delivery_from_the_emulator(runtime, shop):
    sidecar = serve_in_thread(create_app(runtime=runtime))
    try:
        response = send_state_webhook(
            shop.state,
            f"{sidecar.url}/webhooks/shopify/acme",
            "app/uninstalled",
            shop_payload(),
        )
        assert response.status_code == 200
        assert not has_token(runtime)
    finally:
        sidecar.stop()


# --- privacy topics -------------------------------------------------------------------------------
def test_data_request_exports_what_we_hold_about_that_customer(client, seeded, tmp_path):
    response = post(
        client, "customers/data_request", data_request_payload(), webhook_id="wh-export"
    )
    assert response.status_code == 200
    path = tmp_path / "privacy-exports" / "acme" / "shopify-data-request-9999.json"
    assert path.is_file() and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    export = json.loads(path.read_text())
    data = export["data"]
    assert export["customer"]["email"] == JANE and data["tickets"] == [101]
    assert [d["ticket_id"] for d in data["decisions"]] == [101]
    assert [f["ticket_id"] for f in data["feedback"]] == [101]
    assert [a["idempotency_key"] for a in data["actions"]] == ["note-101"]
    assert sorted(j["dedupe_key"] for j in data["jobs"]) == ["ticket-101", "ticket-101-done"]
    assert data["audit_log"] and all(r["ticket_id"] == 101 for r in data["audit_log"])
    assert LI not in path.read_text()
    exported = [
        r for r in audit.rows(seeded.db, tenant_id="acme") if r["kind"] == "privacy.data_exported"
    ]
    assert len(exported) == 1 and exported[0]["data"]["counts"]["decisions"] == 1
    assert JANE not in json.dumps(exported[0]["data"])  # the audit names the customer by id only


def test_customers_redact_erases_that_customer_and_audit_verify_passes(
    client, seeded, cli_runner, ledger_location
):
    db = seeded.db
    assert JANE in table_text(db)
    response = post(client, "customers/redact", redact_payload(), webhook_id="wh-redact")
    assert response.status_code == 200, response.get_json()

    assert JANE not in table_text(db) and "#1001" not in table_text(db)
    assert (
        db.conn.execute("SELECT count(*) FROM decisions WHERE ticket_id = 101").fetchone()[0] == 0
    )
    assert db.conn.execute("SELECT count(*) FROM feedback WHERE ticket_id = 101").fetchone()[0] == 0
    params, result = db.conn.execute(
        "SELECT params, result FROM actions WHERE idempotency_key = 'note-101'"
    ).fetchone()
    assert json.loads(params) == {"redacted": 1} and json.loads(result) == {"redacted": 1}
    jobs = dict(
        db.conn.execute(
            "SELECT dedupe_key, state FROM jobs WHERE dedupe_key LIKE 'ticket-101%'"
        ).fetchall()
    )
    assert jobs == {"ticket-101": "dead", "ticket-101-done": "dead"}  # never runs on erased data
    # the other customer is untouched
    assert LI in table_text(db)
    assert (
        db.conn.execute("SELECT count(*) FROM decisions WHERE ticket_id = 103").fetchone()[0] == 1
    )
    assert (
        db.conn.execute("SELECT state FROM jobs WHERE dedupe_key = 'ticket-103'").fetchone()[0]
        == "queued"
    )

    redacted = db.conn.execute("SELECT count(*) FROM audit_log WHERE redacted = 1").fetchone()[0]
    assert redacted >= 2
    event = [r for r in audit.rows(db, tenant_id="acme") if r["kind"] == "data.redacted"][-1]
    assert event["data"]["subject"] == "customer:gid://shopify/Customer/7001"
    assert event["data"]["tables"]["decisions"] == 1
    assert audit.verify(db).ok
    result = cli_runner.invoke(cli, ["--db", ledger_location, "audit", "verify"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["ok"] is True


def test_customer_redact_by_email_only_and_for_an_unknown_customer(client, seeded):
    db = seeded.db
    response = post(
        client, "customers/redact", redact_payload(email=LI, customer_id=None, orders=())
    )
    assert response.status_code == 200 and LI not in table_text(db) and JANE in table_text(db)
    response = post(
        client,
        "customers/redact",
        redact_payload(email="nobody@example.com", customer_id=1, orders=()),
    )
    assert response.status_code == 200 and JANE in table_text(db)
    assert audit.verify(db).ok


def test_an_underscore_or_percent_in_the_email_matches_only_itself(client, seeded):
    """The address is matched literally on both engines: ``_`` and ``%`` are no wildcards."""
    db = seeded.db
    seed_customer_data(seeded, 105, "pat_lee@example.com", 5500001005, "#1005")
    seed_customer_data(seeded, 106, "patxlee@example.com", 5500001006, "#1006")
    seed_customer_data(seeded, 107, "pat%lee@example.com", 5500001007, "#1007")
    seed_customer_data(seeded, 108, "patyylee@example.com", 5500001008, "#1008")
    for email in ("pat_lee@example.com", "pat%lee@example.com"):
        payload = redact_payload(email=email, customer_id=None, orders=())
        assert post(client, "customers/redact", payload).status_code == 200
    text = table_text(db)
    assert "pat_lee@example.com" not in text and "pat%lee@example.com" not in text
    assert "patxlee@example.com" in text and "patyylee@example.com" in text
    left = {r[0] for r in db.conn.execute("SELECT ticket_id FROM decisions")}
    assert left == {101, 103, 106, 108}
    assert audit.verify(db).ok


def test_shop_redact_erases_the_shop_and_audit_verify_passes(client, seeded):
    db = seeded.db
    response = post(
        client, "shop/redact", {"shop_id": 954889, "shop_domain": SHOP}, webhook_id="wh-shop"
    )
    assert response.status_code == 200
    assert JANE not in table_text(db) and LI not in table_text(db)
    assert db.conn.execute("SELECT count(*) FROM decisions").fetchone()[0] == 0
    assert db.conn.execute("SELECT count(*) FROM feedback").fetchone()[0] == 0
    assert not has_token(seeded)
    assert audit.verify(db).ok
    # no job runs on an erased payload
    assert {r[0] for r in db.conn.execute("SELECT state FROM jobs")} == {"dead"}
