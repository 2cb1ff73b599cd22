"""Attacks on POST /webhooks/shopify[/<tenant>] by someone holding one signed Shopify body.

The signature covers the body only; the topic, shop and delivery ids travel in unsigned headers.
Each attack re-sends a captured signed body with other headers, and each must fail with a 4xx (or
be answered as a duplicate) while nothing is erased, exported or purged:

- a body signed for one topic re-sent as any other topic (the issue's case: a
  ``customers/data_request`` body as ``customers/redact`` and as ``app/uninstalled``);
- a body naming another shop than the header, or another shop id than the shop has;
- the same body under a new ``X-Shopify-Webhook-Id`` (and event id): a body-digest duplicate;
- a new webhook id with a known ``X-Shopify-Event-Id``;
- a signed body whose fields are not the documented types (``customer`` not an object, ids of
  2^63 and beyond, ``NaN``, JSON nested past the parser's limit): 400, never a 500.

And the exports a data request writes are personal data too: ``customers/redact`` deletes that
customer's files, ``shop/redact`` all of them, and they expire after the configured TTL.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import time

import pytest
import shopify_support
from shopify_support import API_SECRET, SHOP, shop_settings

from connector.commerce import privacy
from connector.db import transaction
from connector.devkit.sandbox.shopify.webhooks import topic_payload, webhook_headers
from connector.tenants import ensure_tenant

shop_server = shopify_support.shop_server
shop = shopify_support.shop

JANE, LI = "jane.doe@example.com", "li.wei@example.com"
TOPICS = ("customers/data_request", "customers/redact", "shop/redact", "app/uninstalled")


@pytest.fixture
def config(config, shop):
    return {**config, **shop_settings(shop)}


def body_for(topic: str, email: str = JANE, customer_id: int = 7001, request_id: int = 9999):
    return topic_payload(
        topic,
        SHOP,
        customer={"id": customer_id, "email": email, "phone": None},
        orders=[5500001001],
        request_id=request_id,
    )


def post(client, topic, payload=None, *, raw=None, tenant="acme", shop_domain=SHOP, **ids):
    raw = raw if raw is not None else json.dumps(payload).encode()
    headers = webhook_headers(topic, raw, secret=API_SECRET, shop_domain=shop_domain, **ids)
    url = f"/webhooks/shopify/{tenant}" if tenant else "/webhooks/shopify"
    return client.post(url, data=raw, headers=headers)


def accepted(response) -> bool:
    return response.status_code == 200


def seed(runtime, ticket_id: int, email: str) -> None:
    """A decision and a queued job that mention the customer (what an erasure would remove)."""
    with transaction(runtime.db):
        runtime.db.conn.execute(
            "INSERT INTO decisions (tenant_id, ticket_id, created_at, category, outcome, brief,"
            " requester_hash) VALUES ('acme', ?, '2025-01-01T00:00:00Z', 'order_status',"
            " 'assist_note', ?, ?)",
            (ticket_id, f"Customer {email} asks", hashlib.sha256(email.encode()).hexdigest()),
        )
    runtime.queue.enqueue(
        "acme", "zendesk.ticket", {"ticket_id": ticket_id, "requester": email}, f"t-{ticket_id}"
    )


@pytest.fixture
def seeded(runtime):
    seed(runtime, 101, JANE)
    seed(runtime, 103, LI)
    return runtime


def state(runtime, tmp_path) -> dict:
    """Everything an attack could change: ledger rows, audit rows, the token, export files."""
    db = runtime.db
    exports = tmp_path / "privacy-exports"
    return {
        "decisions": db.conn.execute("SELECT count(*) FROM decisions").fetchone()[0],
        "open_jobs": db.conn.execute("SELECT count(*) FROM jobs WHERE state = 'queued'").fetchone()[
            0
        ],
        "audit": db.conn.execute("SELECT count(*) FROM audit_log").fetchone()[0],
        "deliveries": db.conn.execute("SELECT count(*) FROM shopify_webhook_deliveries").fetchone()[
            0
        ],
        "token": runtime.secrets.get(db, "acme", "shopify_access_token") is not None,
        "exports": sorted(p.name for p in exports.rglob("*.json")) if exports.exists() else [],
    }


# --- replay as another topic --------------------------------------------------------------------
REPLAYS = [
    (signed_as, sent_as) for signed_as in TOPICS for sent_as in TOPICS if signed_as != sent_as
]


@pytest.mark.parametrize("signed_as, sent_as", REPLAYS, ids=[f"{a}->{b}" for a, b in REPLAYS])
def test_a_body_signed_for_one_topic_fails_as_another(client, seeded, tmp_path, signed_as, sent_as):
    before = state(seeded, tmp_path)
    response = post(client, sent_as, body_for(signed_as))
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"]["code"] in ("invalid_payload", "shop_mismatch")
    assert state(seeded, tmp_path) == before  # nothing erased, exported, purged or recorded


def test_the_issue_attack_data_request_as_redact_and_as_uninstall(client, seeded, tmp_path):
    captured = json.dumps(body_for("customers/data_request")).encode()
    assert post(client, "customers/data_request", raw=captured).status_code == 200
    before = state(seeded, tmp_path)
    assert before["decisions"] == 2 and before["token"]
    for topic in ("customers/redact", "app/uninstalled"):
        response = post(client, topic, raw=captured)
        assert response.status_code == 400 and state(seeded, tmp_path) == before


# --- shop binding -------------------------------------------------------------------------------
@pytest.mark.parametrize("topic", TOPICS)
def test_a_body_naming_another_shop_than_the_header_is_refused(client, seeded, tmp_path, topic):
    before = state(seeded, tmp_path)
    payload = copy.deepcopy(body_for(topic))
    key = "myshopify_domain" if topic == "app/uninstalled" else "shop_domain"
    payload[key] = "other-store.myshopify.com"
    response = post(client, topic, payload)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "shop_mismatch"
    assert state(seeded, tmp_path) == before


def test_another_shops_signed_body_cannot_reach_this_tenant(client, seeded, tmp_path):
    before = state(seeded, tmp_path)
    payload = topic_payload("shop/redact", "other-store.myshopify.com")
    response = post(client, "shop/redact", payload, shop_domain="other-store.myshopify.com")
    assert response.status_code == 404 and state(seeded, tmp_path) == before


def test_a_body_naming_another_shop_id_for_this_shop_is_refused(client, seeded, tmp_path):
    assert accepted(post(client, "customers/data_request", body_for("customers/data_request")))
    before = state(seeded, tmp_path)
    payload = {**body_for("customers/redact"), "shop_id": 1}
    response = post(client, "customers/redact", payload)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "shop_mismatch"
    assert state(seeded, tmp_path) == before


# --- dedupe beyond the webhook id ---------------------------------------------------------------
def test_the_same_body_under_new_ids_is_a_duplicate_and_erases_nothing_new(
    client, seeded, tmp_path
):
    captured = json.dumps(body_for("customers/redact")).encode()
    first = post(client, "customers/redact", raw=captured, webhook_id="wh-1", event_id="ev-1")
    assert first.status_code == 200 and first.get_json()["deliveries"][0]["duplicate"] is False
    seed(seeded, 201, JANE)  # Jane writes again after her erasure
    before = state(seeded, tmp_path)
    again = post(client, "customers/redact", raw=captured, webhook_id="wh-2", event_id="ev-2")
    assert again.status_code == 200
    assert again.get_json()["deliveries"][0] == {
        "tenant": "acme",
        "duplicate": True,
        "same": "body_sha256",
    }
    assert state(seeded, tmp_path) == before


def test_a_replayed_uninstall_does_not_purge_the_reinstalled_token(client, seeded, tmp_path):
    captured = json.dumps(body_for("app/uninstalled")).encode()
    assert post(client, "app/uninstalled", raw=captured, webhook_id="wh-u1").status_code == 200
    assert not state(seeded, tmp_path)["token"]
    # The uninstall also unlinked the shop; a reinstall links it again with a new token.
    ensure_tenant(seeded.db, "acme", shopify_shop=SHOP)
    seeded.secrets.put(seeded.db, "acme", "shopify_access_token", "shpat_reinstalled")
    before = state(seeded, tmp_path)
    replay = post(client, "app/uninstalled", raw=captured, webhook_id="wh-u2", event_id="ev-u2")
    assert replay.status_code == 200 and replay.get_json()["deliveries"][0]["duplicate"] is True
    assert state(seeded, tmp_path) == before and before["token"]


def test_a_known_event_id_under_a_new_webhook_id_is_a_duplicate(client, seeded, tmp_path):
    assert (
        post(
            client, "customers/data_request", body_for("customers/data_request"), event_id="ev-9"
        ).status_code
        == 200
    )
    before = state(seeded, tmp_path)
    # Another body (another request id), same event id: Shopify's own duplicate marker.
    other = body_for("customers/data_request", request_id=10000)
    response = post(client, "customers/data_request", other, webhook_id="wh-new", event_id="ev-9")
    assert response.get_json()["deliveries"][0]["same"] == "event_id"
    assert state(seeded, tmp_path) == before


# --- shapes -------------------------------------------------------------------------------------
def _with(topic: str, **changes) -> dict:
    payload = copy.deepcopy(body_for(topic))
    payload.update(changes)
    return payload


BAD_SHAPES = [
    ("customers/redact", _with("customers/redact", customer="jane.doe@example.com")),
    ("customers/redact", _with("customers/redact", customer=["jane"])),
    ("customers/redact", _with("customers/redact", customer=7001)),
    ("customers/redact", _with("customers/redact", customer={"phone": "1"})),
    ("customers/redact", _with("customers/redact", customer={"id": 1.5, "email": JANE})),
    ("customers/redact", _with("customers/redact", customer={"id": 2**63, "email": JANE})),
    ("customers/redact", _with("customers/redact", customer={"id": 1, "email": 5})),
    ("customers/redact", _with("customers/redact", orders_to_redact="5500001001")),
    ("customers/redact", _with("customers/redact", orders_to_redact=[1e20])),
    ("customers/redact", _with("customers/redact", shop_id=10**26)),
    ("customers/redact", _with("customers/redact", shop_id=True)),
    ("customers/data_request", _with("customers/data_request", data_request=9999)),
    ("customers/data_request", _with("customers/data_request", data_request={"id": "x"})),
    ("customers/data_request", _with("customers/data_request", customer=None)),
    ("shop/redact", _with("shop/redact", shop_id="abc")),
    ("shop/redact", {"shop_domain": SHOP}),
    ("app/uninstalled", _with("app/uninstalled", id=-1)),
    ("app/uninstalled", _with("app/uninstalled", domain=["x"])),
]


@pytest.mark.parametrize(
    "topic, payload", BAD_SHAPES, ids=[f"{t}:{i}" for i, (t, _) in enumerate(BAD_SHAPES)]
)
def test_a_signed_body_of_the_wrong_shape_is_400(client, seeded, tmp_path, topic, payload):
    before = state(seeded, tmp_path)
    response = post(client, topic, payload)
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"]["code"] == "invalid_payload"
    assert state(seeded, tmp_path) == before


RAW_BODIES = [
    b'{"shop_id": NaN, "shop_domain": "deskguard-demo.myshopify.com"}',
    b'{"shop_id": Infinity, "shop_domain": "deskguard-demo.myshopify.com"}',
    b'{"shop_id": 1, "shop_domain": "deskguard-demo.myshopify.com", "x": '
    + b"[" * 5000
    + b"]" * 5000
    + b"}",
    b"[1, 2]",
    b"\xff\xfe",
]


@pytest.mark.parametrize("raw", RAW_BODIES, ids=lambda b: b[:30].decode(errors="replace"))
def test_signed_non_standard_json_is_400(client, seeded, tmp_path, raw):
    before = state(seeded, tmp_path)
    response = post(client, "shop/redact", raw=raw)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] in ("invalid_payload", "invalid_json")
    assert state(seeded, tmp_path) == before


# --- export files -------------------------------------------------------------------------------
def export_files(tmp_path) -> list[str]:
    return sorted(p.name for p in (tmp_path / "privacy-exports").rglob("*.json"))


def test_customers_redact_deletes_that_customers_export_files(client, seeded, tmp_path):
    assert accepted(post(client, "customers/data_request", body_for("customers/data_request")))
    li = body_for("customers/data_request", email=LI, customer_id=7003, request_id=10001)
    assert post(client, "customers/data_request", li).status_code == 200
    assert export_files(tmp_path) == [
        "shopify-data-request-10001.json",
        "shopify-data-request-9999.json",
    ]
    response = post(client, "customers/redact", body_for("customers/redact"))
    assert '"export_files": 1' in response.get_json()["deliveries"][0]["outcome"]
    assert export_files(tmp_path) == ["shopify-data-request-10001.json"]  # Li's stays


def test_shop_redact_deletes_every_export_file(client, seeded, tmp_path):
    assert accepted(post(client, "customers/data_request", body_for("customers/data_request")))
    response = post(client, "shop/redact", body_for("shop/redact"))
    assert (
        response.status_code == 200
        and '"export_files": 1' in response.get_json()["deliveries"][0]["outcome"]
    )
    assert export_files(tmp_path) == []


def test_exports_expire_after_the_ttl(client, seeded, tmp_path, runtime):
    assert accepted(post(client, "customers/data_request", body_for("customers/data_request")))
    li = body_for("customers/data_request", email=LI, customer_id=7003, request_id=10001)
    assert post(client, "customers/data_request", li).status_code == 200
    folder = privacy.tenant_export_dir(runtime.config, "acme")
    ttl = runtime.config.privacy_export_ttl_days * 86400
    old = time.time() - ttl - 60
    os.utime(folder / "shopify-data-request-9999.json", (old, old))
    assert privacy.expire_exports(runtime.config) == 1
    assert export_files(tmp_path) == ["shopify-data-request-10001.json"]
    # ... and at intake: the next delivery for the tenant sweeps its expired files.
    os.utime(folder / "shopify-data-request-10001.json", (old, old))
    assert post(client, "orders/updated", {"id": 1}).status_code == 200
    assert export_files(tmp_path) == []


def test_the_scheduler_sweeps_expired_exports_hourly(runtime):
    from connector import scheduler

    jobs = {job.id: job for job in scheduler.build(runtime).get_jobs()}
    assert privacy.EXPIRE_JOB_ID in jobs
    assert jobs[privacy.EXPIRE_JOB_ID].trigger.interval.total_seconds() == 3600
