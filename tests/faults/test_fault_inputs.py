"""No input reaches a 500: ids beyond 64 bits, malformed or over-deep JSON, payloads a job cannot
use (dead-lettered at once, never retried)."""

from __future__ import annotations

import pytest

from connector.jobs import JOB_HANDLERS
from connector.worker import drain

AUTH = {"Authorization": "Bearer test-admin-token"}


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/tenants/acme/tickets/{n}/decision",
        "/api/v1/tenants/acme/approvals/{n}",
        "/api/v1/tenants/acme/tickets/{n}/approvals",
    ],
)
@pytest.mark.parametrize("n", [2**63, 2**64 + 5, 10**26, "٣"])
def test_path_ids_beyond_64_bits_or_non_ascii_are_404(client, path, n):
    res = client.get(path.format(n=n), headers=AUTH)
    assert res.status_code == 404
    assert res.get_json()["error"]["code"] == "not_found"


def test_the_largest_64_bit_id_is_an_ordinary_lookup(client):
    res = client.get(f"/api/v1/tenants/acme/tickets/{2**63 - 1}/decision", headers=AUTH)
    assert res.status_code < 500


@pytest.mark.parametrize(
    "body",
    [b"[" * 20_000 + b"]" * 20_000, b'{"a":' * 5_000 + b"1" + b"}" * 5_000, b"{nope", b"\xff"],
)
def test_malformed_or_over_deep_json_is_a_400_in_the_one_error_shape(client, body):
    res = client.patch(
        "/api/v1/tenants/acme/policy",
        data=body,
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert res.status_code == 400, res.data[:200]
    assert set(res.get_json()["error"]) >= {"code", "message"}


@pytest.mark.parametrize(
    "kind, payload",
    [
        ("zendesk.ticket", {"ticket_id": 10**26, "updated_at": "2026-01-01T00:00:00Z"}),
        ("zendesk.ticket", {"ticket_id": "²"}),
        ("zendesk.ticket", {"ticket_id": None}),
        ("zendesk.ticket", {"ticket_id": 5, "updated_at": 1e20}),
        ("stripe.dispute", {"event_id": "evt_1", "type": "charge.dispute.created", "object": {}}),
        ("stripe.dispute", {"event_id": "evt_2", "object": "du_1"}),
        ("stripe.dispute", {"event_id": "evt_3", "object": {"id": "du_1", "amount": "lots"}}),
    ],
)
def test_a_job_that_fails_on_its_own_payload_is_dead_lettered_at_once(runtime, kind, payload):
    runtime.queue.enqueue("acme", kind, payload, "bad")
    drain(runtime, JOB_HANDLERS)
    state, attempts, error = runtime.db.conn.execute(
        "SELECT state, attempts, last_error FROM jobs"
    ).fetchone()
    assert (state, attempts) == ("dead", 1), error
    assert error.startswith("PermanentError")


def test_an_over_large_body_is_refused_before_parsing_in_the_one_error_shape(client, runtime):
    body = b"[" + b"1," * runtime.config.max_body_bytes + b"1]"
    res = client.patch(
        "/api/v1/tenants/acme/policy",
        data=body,
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert res.status_code == 413
    assert res.get_json()["error"]["code"] == "request_entity_too_large"
