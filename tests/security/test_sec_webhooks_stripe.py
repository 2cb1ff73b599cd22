"""Attacks on POST /webhooks/stripe/<tenant> with signed (or almost signed) Stripe events: each
is refused and nothing is stored or enqueued.

- a signature dated in the future (the SDK refuses only old ones; a future date would keep a
  captured delivery replayable until then) or in the past, beyond the tolerance;
- a signature made with a secret the endpoint does not hold, while a rotation is under way
  (several secrets accepted; a delivery signed with any of them passes, and once the old one is
  dropped its signatures fail);
- a signed event whose ``data`` / ``data.object`` is not an object, or a dispute event whose
  object lacks the fields the dispute job reads: 400 at intake, never a job that fails on every
  attempt.
"""

from __future__ import annotations

import copy
import json
import time

import pytest
from stripe_support import signed, stripe_sandbox_fixture, stripe_settings  # noqa: F401

from connector.devkit.sandbox.stripe import DEMO_WEBHOOK_SECRET, sign_payload

URL = "/webhooks/stripe/acme"
OLD, NEW = DEMO_WEBHOOK_SECRET, "whsec_rotated_new_secret_0123456789"


@pytest.fixture
def config(config, stripe_sandbox):
    return {**config, **stripe_settings(stripe_sandbox)}


@pytest.fixture
def rotating(config):
    """The endpoint mid-rotation: DESKGUARD_STRIPE_WEBHOOK_SECRET holds the new and the old."""
    return {**config, "stripe_webhook_secret": f"{NEW},{OLD}"}


def dispute_event(sandbox) -> dict:
    state = sandbox.state
    charge = state.charges_of("pat.chargeback@example.com")[0]
    return state.event("charge.dispute.created", state.add_dispute(charge["id"]))


def stored(runtime) -> tuple[int, int]:
    db = runtime.db
    return (
        db.conn.execute("SELECT count(*) FROM stripe_events").fetchone()[0],
        db.conn.execute("SELECT count(*) FROM jobs").fetchone()[0],
    )


# --- timestamps ---------------------------------------------------------------------------------
@pytest.mark.parametrize("offset", [301, 3600, 86400 * 365, -301, -86400])
def test_a_signature_beyond_the_tolerance_either_way_is_refused(
    client, runtime, stripe_sandbox, offset
):
    body, headers = signed(dispute_event(stripe_sandbox), timestamp=int(time.time()) + offset)
    response = client.post(URL, data=body, headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "bad_signature"
    assert stored(runtime) == (0, 0)


def test_small_clock_skew_either_way_is_accepted(client, runtime, stripe_sandbox):
    for offset in (30, -30):
        body, headers = signed(dispute_event(stripe_sandbox), timestamp=int(time.time()) + offset)
        assert client.post(URL, data=body, headers=headers).status_code == 200
    assert stored(runtime) == (2, 2)


# --- secret rotation ----------------------------------------------------------------------------
@pytest.fixture
def rotating_client(rotating):
    from connector.bootstrap import ensure_env_tenant
    from connector.db import migrate
    from connector.runtime import Runtime
    from connector.web import create_app

    rt = Runtime(rotating)
    migrate(rt.db)
    ensure_env_tenant(rt)
    yield create_app(runtime=rt).test_client(), rt
    rt.close()


@pytest.mark.parametrize("secret", [OLD, NEW, f"{NEW},{OLD}"], ids=["old", "new", "both-v1"])
def test_during_a_rotation_either_secret_passes(rotating_client, stripe_sandbox, secret):
    client, rt = rotating_client
    body, headers = signed(dispute_event(stripe_sandbox), secret=secret)
    response = client.post(URL, data=body, headers=headers)
    assert response.status_code == 200, response.get_json()
    assert stored(rt) == (1, 1)


def test_during_a_rotation_a_third_secret_still_fails(rotating_client, stripe_sandbox):
    client, rt = rotating_client
    body, headers = signed(dispute_event(stripe_sandbox), secret="whsec_attacker")
    assert client.post(URL, data=body, headers=headers).status_code == 401
    assert stored(rt) == (0, 0)


def test_once_the_old_secret_is_dropped_its_signatures_fail(rotating_client, stripe_sandbox):
    client, rt = rotating_client
    rt.secrets.put(rt.db, "acme", "stripe_webhook_secret", NEW)  # rotation finished
    body, headers = signed(dispute_event(stripe_sandbox), secret=OLD)
    assert client.post(URL, data=body, headers=headers).status_code == 401
    body, headers = signed(dispute_event(stripe_sandbox), secret=NEW)
    assert client.post(URL, data=body, headers=headers).status_code == 200
    assert stored(rt) == (1, 1)


def test_the_emulator_signs_with_both_secrets_while_rolling(rotating_client, stripe_sandbox):
    client, rt = rotating_client
    event = dispute_event(stripe_sandbox)
    body = json.dumps(event).encode()
    header = sign_payload(body, f"{NEW},{OLD}")
    assert header.count("v1=") == 2
    response = client.post(URL, data=body, headers={"Stripe-Signature": header})
    assert response.status_code == 200 and stored(rt) == (1, 1)


# --- shapes -------------------------------------------------------------------------------------
def _broken(event: dict, path: tuple[str, ...], value) -> dict:
    out = copy.deepcopy(event)
    target = out
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        target.pop(path[-1])
    else:
        target[path[-1]] = value
    return out


BAD = [
    (("data",), "a string"),
    (("data",), ["a", "list"]),
    (("data",), None),
    (("data",), 7),
    (("data", "object"), "dp_123"),
    (("data", "object"), None),
    (("data", "object"), [1]),
    (("data", "object", "id"), KeyError),
    (("data", "object", "id"), ""),
    (("data", "object", "id"), 123),
    (("data", "object", "object"), "charge"),
    (("data", "object", "amount"), 1e20),
    (("data", "object", "amount"), "100"),
    (("data", "object", "amount"), -5),
    (("data", "object", "created"), 10**20),
    (("data", "object", "evidence_details"), "soon"),
    (("data", "object", "evidence_details", "due_by"), 1e20),
    (("data", "object", "charge"), 12345),
    (("data", "object", "payment_intent"), {"no": "id"}),
    (("created",), 10**20),
]


@pytest.mark.parametrize("path, value", BAD, ids=[f"{'.'.join(p)}={v!r}"[:40] for p, v in BAD])
def test_a_signed_event_of_the_wrong_shape_is_400_and_nothing_is_enqueued(
    client, runtime, stripe_sandbox, path, value
):
    body, headers = signed(_broken(dispute_event(stripe_sandbox), path, value))
    response = client.post(URL, data=body, headers=headers)
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"]["code"] in ("invalid_payload", "bad_request")
    assert stored(runtime) == (0, 0)


RAW = [
    b'{"id": "evt_1", "type": "charge.dispute.created", "created": NaN, "data": {"object": {}}}',
    b'{"id": "evt_1", "type": "charge.dispute.created", "data": {"object": {"id": "dp_1",'
    b' "amount": Infinity}}}',
    b'{"id": "evt_1", "type": "charge.dispute.created", "data": {"object": {"id": "dp_1"}},'
    b' "x": ' + b"[" * 5000 + b"]" * 5000 + b"}",
]


@pytest.mark.parametrize("raw", RAW, ids=["nan", "infinity", "deep"])
def test_signed_non_standard_json_is_400(client, runtime, raw):
    response = client.post(URL, data=raw, headers={"Stripe-Signature": sign_payload(raw, OLD)})
    assert response.status_code == 400, response.get_json()
    assert stored(runtime) == (0, 0)


def test_the_documented_dispute_event_still_enqueues_its_job(client, runtime, stripe_sandbox):
    body, headers = signed(dispute_event(stripe_sandbox))
    response = client.post(URL, data=body, headers=headers)
    assert response.status_code == 200 and response.get_json()["job_id"]
    assert stored(runtime) == (1, 1)
