"""Attacks on POST /webhooks/zendesk/<tenant> by someone holding one signed delivery, or a
signed body with values no real ticket has: each is refused, and the queue is unchanged.

- a captured signature re-sent in another base64 spelling (same digest, different text) is a
  replay (401 ``replayed``), caught by the replay table itself, not only by the job dedupe;
- a signed body whose ``ticket_id`` / ``updated_at`` is not the documented shape (ids of 2^63 and
  beyond, floats, booleans, non-ASCII digits; ``1e20``, ``Infinity``, ``NaN`` as a timestamp;
  JSON nested past the parser's limit) is 400 in the one JSON error shape, never a 500, and
  never a job that would fail on every attempt.
"""

from __future__ import annotations

import base64
import json

import pytest

from connector.zendesk.service import WEBHOOK_SECRET
from connector.zendesk.web import SIGNATURE_HEADER, sign_payload

SECRET = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="
URL = "/webhooks/zendesk/acme"
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


@pytest.fixture
def hook_runtime(runtime):
    runtime.secrets.put(runtime.db, "acme", WEBHOOK_SECRET, SECRET)
    return runtime


def jobs(runtime) -> list[tuple]:
    return runtime.db.conn.execute("SELECT id, kind, payload, state FROM jobs").fetchall()


def spellings(signature: str) -> list[str]:
    """Every other base64 spelling of the same 32-byte digest: the last data character carries
    2 unused low bits, which decoders ignore."""
    assert signature.endswith("=") and not signature.endswith("==")
    last = ALPHABET.index(signature[-2])
    variants = [signature[:-2] + ALPHABET[(last & ~0b11) | low] + "=" for low in range(4)]
    out = [v for v in variants if v != signature]
    assert all(base64.b64decode(v) == base64.b64decode(signature) for v in out)
    return out


def _first_signed(client, data: bytes) -> dict[str, str]:
    headers = sign_payload(SECRET, data)
    assert client.post(URL, data=data, headers=headers).status_code == 202
    return headers


@pytest.mark.parametrize("variant", range(3))
def test_a_base64_respelling_of_a_captured_signature_is_a_replay(hook_runtime, client, variant):
    data = json.dumps({"ticket_id": "42", "updated_at": "2026-03-08T10:00:00Z"}).encode()
    headers = _first_signed(client, data)
    before = jobs(hook_runtime)
    forged = {**headers, SIGNATURE_HEADER: spellings(headers[SIGNATURE_HEADER])[variant]}
    response = client.post(URL, data=data, headers=forged)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "replayed"  # the replay table, not the dedupe
    assert jobs(hook_runtime) == before


def test_a_respelling_sent_first_makes_the_canonical_one_a_replay(hook_runtime, client):
    data = json.dumps({"ticket_id": "43", "updated_at": "2026-03-08T10:00:00Z"}).encode()
    headers = sign_payload(SECRET, data)
    respelled = {**headers, SIGNATURE_HEADER: spellings(headers[SIGNATURE_HEADER])[0]}
    assert client.post(URL, data=data, headers=respelled).status_code == 202
    again = client.post(URL, data=data, headers=headers)
    assert again.status_code == 401 and again.get_json()["error"]["code"] == "replayed"
    assert len(jobs(hook_runtime)) == 1


BAD_TICKET_IDS = [
    10**26,
    2**63,
    -1,
    0,
    1.5,
    1e20,
    True,
    "²",
    "١٢٣",
    "1e3",
    " ",
    "9" * 5000,
    [1],
    {"id": 1},
]
BAD_UPDATED_AT = [
    1e20,
    -1,
    10**30,
    True,
    "99999999999999999999",
    "9" * 5000,
    "10000-01-01T00:00:00Z",
    "March 8",
    [],
    {},
    None,
]
# Literals Python's json module accepts by default, and nesting past its recursion limit.
RAW_BODIES = [
    b'{"ticket_id": "42", "updated_at": Infinity}',
    b'{"ticket_id": "42", "updated_at": -Infinity}',
    b'{"ticket_id": "42", "updated_at": NaN}',
    b'{"ticket_id": NaN, "updated_at": "2026-03-08T10:00:00Z"}',
    b'{"ticket_id": "42", "updated_at": "2026-03-08T10:00:00Z", "x": '
    + b"[" * 5000
    + b"]" * 5000
    + b"}",
]


def _signed_bad_body_is_400(runtime, client, data: bytes) -> dict:
    response = client.post(URL, data=data, headers=sign_payload(SECRET, data))
    assert response.status_code == 400, (data[:80], response.status_code)
    error = response.get_json()["error"]
    assert set(error) >= {"code", "message"}
    assert error["code"] in ("invalid_payload", "invalid_json")
    assert jobs(runtime) == []
    return error


@pytest.mark.parametrize("ticket_id", BAD_TICKET_IDS, ids=repr)
def test_a_signed_ticket_id_no_ticket_can_have_is_400(hook_runtime, client, ticket_id):
    data = json.dumps({"ticket_id": ticket_id, "updated_at": "2026-03-08T10:00:00Z"}).encode()
    _signed_bad_body_is_400(hook_runtime, client, data)


@pytest.mark.parametrize("updated_at", BAD_UPDATED_AT, ids=repr)
def test_a_signed_updated_at_that_is_no_timestamp_is_400(hook_runtime, client, updated_at):
    data = json.dumps({"ticket_id": "42", "updated_at": updated_at}).encode()
    _signed_bad_body_is_400(hook_runtime, client, data)


@pytest.mark.parametrize("data", RAW_BODIES, ids=lambda b: b[:40].decode())
def test_signed_non_standard_json_is_400(hook_runtime, client, data):
    _signed_bad_body_is_400(hook_runtime, client, data)


@pytest.mark.parametrize(
    "ticket_id, updated_at",
    [(2**63 - 1, "2026-03-08T10:00:00Z"), ("42", 1772964000), ("42", "1772964000")],
)
def test_the_edges_of_the_documented_shape_are_still_accepted(
    hook_runtime, client, ticket_id, updated_at
):
    data = json.dumps({"ticket_id": ticket_id, "updated_at": updated_at}).encode()
    response = client.post(URL, data=data, headers=sign_payload(SECRET, data))
    assert response.status_code == 202, response.get_json()
    ((_, kind, payload, state),) = jobs(hook_runtime)
    assert kind == "zendesk.ticket" and state == "queued"
    assert json.loads(payload)["ticket_id"] == int(ticket_id)
