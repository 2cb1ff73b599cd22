"""POST /webhooks/zendesk/<tenant>: signature, tolerance, replay, size, payload, durable enqueue."""

from __future__ import annotations

import json
import time

import pytest

from connector.devkit.sandbox.zendesk_state import sign_webhook
from connector.zendesk.service import WEBHOOK_SECRET, normalize_updated_at
from connector.zendesk.web import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookRejected,
    compute_signature,
    sign_payload,
    verify_signature,
)

SECRET = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="  # Zendesk's documented sample secret
URL = "/webhooks/zendesk/acme"


def iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


@pytest.fixture
def hook_runtime(runtime):
    runtime.secrets.put(runtime.db, "acme", WEBHOOK_SECRET, SECRET)
    return runtime


def body(ticket_id=42, updated_at="2026-03-08T10:00:00Z", **extra) -> bytes:
    return json.dumps(
        {"ticket_id": str(ticket_id), "updated_at": updated_at, "status": "open", **extra}
    ).encode()


def post(client, data: bytes, headers: dict | None = None, url: str = URL):
    return client.post(
        url, data=data, headers=headers if headers is not None else sign_payload(SECRET, data)
    )


def job_count(runtime) -> int:
    return runtime.db.conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]


def test_valid_delivery_is_enqueued_and_acknowledged_202(hook_runtime, client):
    response = post(client, body())
    assert response.status_code == 202, response.get_json()
    data = response.get_json()
    assert data["status"] == "accepted" and data["duplicate"] is False
    row = hook_runtime.db.conn.execute(
        "SELECT kind, payload, dedupe_key, state FROM jobs"
    ).fetchone()
    assert row[0] == "zendesk.ticket"
    assert json.loads(row[1]) == {
        "ticket_id": 42,
        "updated_at": "2026-03-08T10:00:00Z",
        "source": "webhook",
    }
    assert row[2] == "zendesk.ticket:42:2026-03-08T10:00:00Z" and row[3] == "queued"


def test_signature_is_base64_hmac_over_timestamp_then_body():
    data, ts = b'{"ticket_id":"1"}', "2021-07-25T10:00:00Z"
    assert compute_signature(SECRET, ts, data) == sign_webhook(
        SECRET, ts, data
    )  # the sandbox signs the same way
    verify_signature(
        SECRET,
        ts,
        data,
        compute_signature(SECRET, ts, data),
        tolerance=300,
        now=time.mktime(time.strptime(ts, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone,
    )
    with pytest.raises(WebhookRejected):  # body + timestamp (the older doc's order) is not accepted
        verify_signature(
            SECRET, ts, data, compute_signature(SECRET, data.decode(), ts.encode()), tolerance=10**9
        )


@pytest.mark.parametrize(
    "case",
    [
        "wrong_secret",
        "tampered_body",
        "not_base64",
        "missing_signature",
        "missing_timestamp",
        "hex_digest",
    ],
)
def test_forged_deliveries_are_refused_401_and_nothing_is_enqueued(hook_runtime, client, case):
    data = body()
    headers = sign_payload(SECRET, data)
    if case == "wrong_secret":
        headers = sign_payload("not-the-secret", data)
    elif case == "tampered_body":
        data = body(ticket_id=43)
    elif case == "not_base64":
        headers[SIGNATURE_HEADER] = "%%%not-base64%%%"
    elif case == "missing_signature":
        del headers[SIGNATURE_HEADER]
    elif case == "missing_timestamp":
        del headers[TIMESTAMP_HEADER]
    elif case == "hex_digest":
        import hashlib
        import hmac

        headers[SIGNATURE_HEADER] = hmac.new(
            SECRET.encode(), headers[TIMESTAMP_HEADER].encode() + data, hashlib.sha256
        ).hexdigest()
    response = post(client, data, headers)
    assert response.status_code == 401
    error = response.get_json()["error"]
    assert set(error) >= {"code", "message"}
    assert job_count(hook_runtime) == 0


@pytest.mark.parametrize("offset", [-301, 301, -3600])
def test_stale_or_future_timestamps_are_refused(hook_runtime, client, offset):
    data = body()
    response = post(client, data, sign_payload(SECRET, data, timestamp=iso(time.time() + offset)))
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "stale_timestamp"
    assert job_count(hook_runtime) == 0


def test_timestamp_inside_the_tolerance_is_accepted(hook_runtime, client):
    data = body()
    assert (
        post(client, data, sign_payload(SECRET, data, timestamp=iso(time.time() - 290))).status_code
        == 202
    )


def test_replayed_signature_is_refused_even_though_the_first_was_accepted(hook_runtime, client):
    data = body()
    headers = sign_payload(SECRET, data)
    assert post(client, data, headers).status_code == 202
    again = post(client, data, headers)
    assert again.status_code == 401 and again.get_json()["error"]["code"] == "replayed"
    assert job_count(hook_runtime) == 1


def test_duplicate_deliveries_of_one_change_make_one_job(hook_runtime, client):
    data = body(updated_at="2026-03-08T10:00:00Z")
    first = post(client, data, sign_payload(SECRET, data, timestamp=iso(time.time() - 2)))
    # Zendesk retries with a fresh timestamp; the same change may also come with another offset.
    second = post(client, body(updated_at="2026-03-08T11:00:00+01:00"))
    assert first.status_code == second.status_code == 202
    assert (
        second.get_json()["duplicate"] is True
        and second.get_json()["job_id"] == first.get_json()["job_id"]
    )
    assert job_count(hook_runtime) == 1


def test_oversized_body_is_413_and_nothing_is_enqueued(hook_runtime, client):
    data = body(padding="x" * (hook_runtime.config.max_body_bytes + 10))
    response = post(client, data)
    assert response.status_code == 413
    assert "error" in response.get_json()
    assert job_count(hook_runtime) == 0


@pytest.mark.parametrize(
    "data,code",
    [
        (b"{not json", "invalid_json"),
        (b"[1, 2]", "invalid_payload"),
        (json.dumps({"updated_at": "2026-03-08T10:00:00Z"}).encode(), "invalid_payload"),
        (
            json.dumps({"ticket_id": "", "updated_at": "2026-03-08T10:00:00Z"}).encode(),
            "invalid_payload",
        ),
        (json.dumps({"ticket_id": "12"}).encode(), "invalid_payload"),
        (json.dumps({"ticket_id": "12", "updated_at": "March 8"}).encode(), "invalid_payload"),
    ],
)
def test_bad_payloads_are_400_after_a_valid_signature(hook_runtime, client, data, code):
    response = post(client, data)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == code
    assert job_count(hook_runtime) == 0


def test_bad_json_with_a_bad_signature_is_401_not_400(hook_runtime, client):
    """The signature is checked before the body is parsed."""
    response = post(client, b"{not json", sign_payload("wrong", b"{not json"))
    assert response.status_code == 401


def test_unknown_tenant_is_404_and_unconfigured_secret_is_401(hook_runtime, client, runtime):
    data = body()
    assert post(client, data, url="/webhooks/zendesk/nobody").status_code == 404
    runtime.secrets.delete(runtime.db, "acme", WEBHOOK_SECRET)
    response = post(client, data)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "webhook_not_configured"
    assert job_count(runtime) == 0


def test_rotated_secret_takes_effect_at_once(hook_runtime, client):
    data = body()
    assert post(client, data).status_code == 202
    hook_runtime.secrets.put(hook_runtime.db, "acme", WEBHOOK_SECRET, "a-new-secret")
    data2 = body(ticket_id=43)
    assert post(client, data2).status_code == 401
    assert post(client, data2, sign_payload("a-new-secret", data2)).status_code == 202


def test_no_secret_or_signature_reaches_the_log(hook_runtime, client):
    import io
    import logging

    from connector import logs

    root = logging.getLogger("deskguard")
    saved = (root.handlers[:], root.level, root.propagate)
    stream = io.StringIO()
    logs.configure("debug", "json", stream=stream)
    try:
        data = body()
        headers = sign_payload("wrong", data)
        post(client, data, headers)
    finally:
        root.handlers[:], root.level, root.propagate = saved
    assert "zendesk.webhook_refused" in stream.getvalue()
    assert SECRET not in stream.getvalue() and headers[SIGNATURE_HEADER] not in stream.getvalue()


@pytest.mark.parametrize(
    "value,expected",
    [
        ("2026-03-08T10:00:00Z", "2026-03-08T10:00:00Z"),
        ("2026-03-08T11:00:00+01:00", "2026-03-08T10:00:00Z"),
        ("2026-03-08T10:00:00.750Z", "2026-03-08T10:00:00Z"),
        (1772964000, "2026-03-08T10:00:00Z"),
        ("1772964000", "2026-03-08T10:00:00Z"),
    ],
)
def test_versions_are_normalised_so_webhook_and_poller_keys_match(value, expected):
    assert normalize_updated_at(value) == expected


@pytest.mark.parametrize("value", [None, "", "yesterday", True, [1]])
def test_bad_versions_are_rejected(value):
    with pytest.raises((ValueError, TypeError)):
        normalize_updated_at(value)
