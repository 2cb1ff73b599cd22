"""POST /webhooks/stripe/<tenant>: signature checks, dedupe, jobs (real SDK verification)."""

from __future__ import annotations

import time

import pytest
from stripe_support import signed, stripe_sandbox_fixture, stripe_settings  # noqa: F401

from connector import audit
from connector.devkit.sandbox import serve_in_thread
from connector.devkit.sandbox.stripe import DEMO_WEBHOOK_SECRET

URL = "/webhooks/stripe/acme"


@pytest.fixture
def config(config, stripe_sandbox):
    return {**config, **stripe_settings(stripe_sandbox)}


def dispute_event(sandbox, email="pat.chargeback@example.com"):
    state = sandbox.state
    charge = state.charges_of(email)[0]
    dispute = (
        state.add_dispute(charge["id"])
        if not charge["disputed"]
        else next(d for d in state.disputes.values() if d["charge"] == charge["id"])
    )
    return state.event("charge.dispute.created", dispute)


def jobs(runtime, kind="stripe.dispute"):
    return runtime.db.conn.execute(
        "SELECT id, payload FROM jobs WHERE kind = ?", (kind,)
    ).fetchall()


def test_signed_dispute_event_enqueues_one_job(client, runtime, stripe_sandbox):
    event = dispute_event(stripe_sandbox)
    body, headers = signed(event)
    resp = client.post(URL, data=body, headers=headers)
    assert resp.status_code == 200, resp.json
    assert resp.json["duplicate"] is False and resp.json["job_id"]
    (job,) = jobs(runtime)
    assert job[0] == resp.json["job_id"] and event["id"] in job[1]
    kinds = [r["kind"] for r in audit.rows(runtime.db, tenant_id="acme")]
    assert "stripe.event_received" in kinds


def test_duplicate_delivery_is_deduped(client, runtime, stripe_sandbox):
    body, headers = signed(dispute_event(stripe_sandbox))
    first = client.post(URL, data=body, headers=headers)
    # Stripe retries with a fresh signature timestamp; the event id is what repeats.
    body2, headers2 = signed(__import__("json").loads(body), timestamp=int(time.time()) + 1)
    second = client.post(URL, data=body2, headers=headers2)
    assert first.status_code == second.status_code == 200
    assert second.json["duplicate"] is True
    assert len(jobs(runtime)) == 1
    assert runtime.db.conn.execute("SELECT COUNT(*) FROM stripe_events").fetchone()[0] == 1


@pytest.mark.parametrize("tamper", ["wrong_secret", "body_changed", "stale", "garbage_header"])
def test_bad_signatures_are_rejected_and_nothing_is_enqueued(
    client, runtime, stripe_sandbox, tamper
):
    event = dispute_event(stripe_sandbox)
    if tamper == "wrong_secret":
        body, headers = signed(event, secret="whsec_someone_else")
    elif tamper == "body_changed":
        body, headers = signed(event)
        body = body.replace(b'"fraudulent"', b'"duplicate"')
    elif tamper == "stale":
        body, headers = signed(event, timestamp=int(time.time()) - 301)
    else:
        body, headers = signed(event)
        headers["Stripe-Signature"] = "v1=deadbeef"
    resp = client.post(URL, data=body, headers=headers)
    assert resp.status_code == 401
    assert resp.json["error"]["code"] == "bad_signature"
    assert (
        jobs(runtime) == []
        and runtime.db.conn.execute("SELECT COUNT(*) FROM stripe_events").fetchone()[0] == 0
    )


def test_missing_signature_is_a_400(client, runtime, stripe_sandbox):
    body, _ = signed(dispute_event(stripe_sandbox))
    resp = client.post(URL, data=body, headers={"Content-Type": "application/json"})
    assert resp.status_code == 400 and resp.json["error"]["code"] == "missing_signature"
    assert jobs(runtime) == []


def test_signed_but_not_an_event_is_a_400(client, runtime):
    body, headers = signed({"hello": "world"})
    resp = client.post(URL, data=body, headers=headers)
    assert resp.status_code == 400 and resp.json["error"]["code"] == "bad_request"


def test_other_event_types_are_recorded_not_enqueued(client, runtime, stripe_sandbox):
    state = stripe_sandbox.state
    event = state.event("charge.refunded", state.charges_of("li.wei@example.com")[0])
    body, headers = signed(event)
    resp = client.post(URL, data=body, headers=headers)
    assert resp.status_code == 200 and resp.json["ignored"] is True and resp.json["job_id"] is None
    assert jobs(runtime) == []


def test_unknown_tenant_and_unconfigured_secret(client, runtime, stripe_sandbox):
    body, headers = signed(dispute_event(stripe_sandbox))
    assert client.post("/webhooks/stripe/nobody", data=body, headers=headers).status_code == 404
    runtime.secrets.delete(runtime.db, "acme", "stripe_webhook_secret")
    resp = client.post(URL, data=body, headers=headers)
    assert resp.status_code == 503 and resp.json["error"]["code"] == "not_configured"
    assert jobs(runtime) == []


def test_the_emulator_delivers_a_signed_event_to_the_running_sidecar(app, runtime, stripe_sandbox):
    sidecar = serve_in_thread(app)
    try:
        stripe_sandbox.state.add_webhook_endpoint(f"{sidecar.url}{URL}", DEMO_WEBHOOK_SECRET)
        charge = stripe_sandbox.state.charges_of("jane.doe@example.com")[0]
        dispute, event = stripe_sandbox.state.open_dispute(
            charge["id"], reason="product_not_received"
        )
        assert [d.status for d in stripe_sandbox.state.deliveries] == [200]
        (job,) = jobs(runtime)
        assert dispute["id"] in job[1]
        stripe_sandbox.state.deliver(event)  # a redelivery
        assert [d.status for d in stripe_sandbox.state.deliveries] == [200, 200] and len(
            jobs(runtime)
        ) == 1
    finally:
        sidecar.stop()


def test_sandbox_control_plane_opens_a_dispute_and_delivers_it(app, runtime):
    import requests

    from connector.devkit.sandbox.stripe import start_stripe_sandbox

    sidecar = serve_in_thread(app)
    sandbox = start_stripe_sandbox(webhook_url=f"{sidecar.url}{URL}")
    try:
        resp = requests.post(
            f"{sandbox.url}/_sandbox/disputes",
            json={"email": "marco.rossi@example.com"},
            timeout=10,
        )
        body = resp.json()
        assert resp.status_code == 200 and body["dispute"]["amount"] == 12900
        assert [d["status"] for d in body["deliveries"]] == [200]
        (job,) = jobs(runtime)
        assert body["dispute"]["id"] in job[1]
        assert (
            requests.post(
                f"{sandbox.url}/_sandbox/disputes", json={"email": "nobody@example.com"}, timeout=10
            ).status_code
            == 404
        )
    finally:
        sandbox.stop()
        sidecar.stop()
