"""End to end: a ticket created in the Zendesk sandbox reaches the sidecar by a signed webhook, the
worker runs the real pipeline through the zenpy adapter, and an internal note appears in the
sandbox; loop safety, duplicates and 429s along the way."""

from __future__ import annotations

import json
import time

import pytest
from zendesk_support import (  # noqa: F401  (fixtures)
    TENANT,
    deliver_and_drain,
    jobs,
    make_runtime,
    sandbox,
    settle,
    sidecar,
    zd_runtime,
    zendesk_config,
)

from connector.devkit.sandbox import serve_in_thread
from connector.domain import DESKGUARD_MARKER
from connector.jobs import drain
from connector.web import create_app
from connector.zendesk.setup import setup_zendesk


@pytest.fixture
def wired(sandbox, zd_runtime, sidecar):  # noqa: F811
    """Sandbox → webhook → sidecar, set up with the real `setup` flow."""
    setup_zendesk(zd_runtime, TENANT, sidecar.url)
    return sandbox, zd_runtime


def deskguard_notes(sb, ticket_id):
    return [c for c in sb.state.notes(ticket_id) if DESKGUARD_MARKER in c["body"]]


def new_ticket(sb, body="Where is my order #1001? It has been ten days.", email="jane@example.com"):
    return sb.state.customer_writes(
        subject="Order status", body=body, name="Jane Cooper", email=email
    )["id"]


def test_a_new_ticket_gets_an_internal_note_through_the_webhook(wired):
    sb, rt = wired
    tid = new_ticket(sb)
    assert sb.state.wait_for_deliveries(10)
    first = next(d for d in sb.state.deliveries if d.ticket_id == tid)
    assert first.attempts == [202]  # acknowledged before any processing
    drain(rt)
    [note] = deskguard_notes(sb, tid)
    assert note["public"] is False and note["author_id"] == sb.state.agent["id"]
    _, state, payload, _ = jobs(rt)[0]
    assert state == "done" and json.loads(payload) == {
        "ticket_id": tid,
        "updated_at": json.loads(first.body)["updated_at"],
        "source": "webhook",
    }


def test_the_sidecars_own_note_does_not_start_another_round(wired):
    sb, rt = wired
    tid = new_ticket(sb)
    assert settle(sb, rt) == 2  # the customer's ticket, then the echo of our own note
    deliveries = [d for d in sb.state.deliveries if d.ticket_id == tid]
    assert [d.attempts for d in deliveries] == [[202], [202]]  # the trigger did fire on our update
    assert len(deskguard_notes(sb, tid)) == 1
    assert [j[1] for j in jobs(rt)] == ["done", "done"]
    kinds = [
        r[0] for r in rt.db.conn.execute("SELECT kind FROM audit_log WHERE ticket_id = ?", (tid,))
    ]
    assert kinds.count("zendesk.own_echo_skipped") == 1
    # No Zendesk call was made for the echo: the last call is the note's PUT.
    assert sb.state.calls()[-1]["method"] == "PUT"


def test_loop_safety_holds_even_without_the_own_update_record(wired):
    """If the echo arrives before its version was recorded, the marker rule still skips it."""
    sb, rt = wired
    sb.state.deliveries_paused = True  # hold the echo until its own-update record is gone
    tid = new_ticket(sb)
    [created] = sb.state.deliveries
    sb.state.send_signed(created.webhook_id, created.body.encode())
    drain(rt)
    assert len(deskguard_notes(sb, tid)) == 1
    rt.db.conn.execute("DELETE FROM zendesk_own_updates")
    rt.db.conn.commit()
    calls_before = len(sb.state.calls())
    sb.state.deliveries_paused = False
    settle(sb, rt)
    assert len(deskguard_notes(sb, tid)) == 1
    reads = [c["path"] for c in sb.state.calls()[calls_before:]]
    assert reads == [
        f"/api/v2/tickets/{tid}.json"
    ]  # one read: its latest audit is our note, so skipped
    kinds = [
        r[0] for r in rt.db.conn.execute("SELECT kind FROM audit_log WHERE ticket_id = ?", (tid,))
    ]
    assert "zendesk.own_echo_skipped" not in kinds


def test_a_customer_reply_after_the_note_is_processed_again(wired):
    sb, rt = wired
    tid = new_ticket(sb)
    settle(sb, rt)
    sb.state.customer_replies(tid, "Any news? I still have nothing.")
    settle(sb, rt)
    assert len(deskguard_notes(sb, tid)) == 2
    # A field change by a person after our note is not new activity: no third note.
    sb.state.update_ticket(tid, {"priority": "urgent"}, author_id=sb.state.agent["id"])
    settle(sb, rt)
    assert len(deskguard_notes(sb, tid)) == 2


def test_duplicate_deliveries_yield_one_note(wired):
    sb, rt = wired
    sb.state.deliveries_paused = True
    tid = new_ticket(sb)
    [delivery] = [d for d in sb.state.deliveries if d.ticket_id == tid]
    # Zendesk may invoke a webhook more than once for one event; each invocation is signed anew.
    stamps = [time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - k)) for k in (1, 2, 3)]
    statuses = [
        sb.state.send_signed(delivery.webhook_id, delivery.body.encode(), timestamp=t)
        for t in stamps
    ]
    assert statuses == [202, 202, 202]  # all accepted …
    sb.state.deliveries_paused = False
    assert sb.state.wait_for_deliveries(10)
    assert delivery.attempts == [202]
    assert len(jobs(rt)) == 1  # … and deduplicated into one job
    settle(sb, rt)
    assert len(deskguard_notes(sb, tid)) == 1


def test_forged_stale_and_replayed_deliveries_enqueue_nothing(wired):
    sb, rt = wired
    sb.state.deliveries_paused = True
    tid = new_ticket(sb)
    [delivery] = [d for d in sb.state.deliveries if d.ticket_id == tid]
    hook_id = delivery.webhook_id
    stale = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 900))
    assert sb.state.send_signed(hook_id, delivery.body.encode(), secret="forged-secret") == 401
    assert sb.state.send_signed(hook_id, delivery.body.encode(), timestamp=stale) == 401
    fresh = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    assert sb.state.send_signed(hook_id, delivery.body.encode(), timestamp=fresh) == 202
    assert (
        sb.state.send_signed(hook_id, delivery.body.encode(), timestamp=fresh) == 401
    )  # same signature again
    assert len(jobs(rt)) == 1
    sb.state.deliveries_paused = False
    sb.state.wait_for_deliveries(10)


def test_429s_for_a_while_lose_no_work_and_retry_after_is_honoured(wired):
    sb, rt = wired
    tid = new_ticket(sb)
    assert sb.state.wait_for_deliveries(10)
    sb.state.throttle(2)
    started = time.monotonic()
    drain(rt)
    assert time.monotonic() - started >= 1.5
    assert len(deskguard_notes(sb, tid)) == 1
    statuses = [c["status"] for c in sb.state.calls()]
    assert 429 in statuses and statuses[-1] == 200


def test_429s_longer_than_the_budget_requeue_the_job_after_retry_after(sandbox, config, tmp_path):  # noqa: F811
    rt = make_runtime(
        zendesk_config(config, sandbox, zendesk_ratelimit_budget_seconds=1, queue_backoff_base=0.05)
    )
    server = serve_in_thread(create_app(runtime=rt))
    try:
        setup_zendesk(rt, TENANT, server.url)
        tid = new_ticket(sandbox)
        assert sandbox.state.wait_for_deliveries(10)
        sandbox.state.throttle(3)
        drain(rt)
        state, run_at, error = rt.db.conn.execute(
            "SELECT state, run_at, last_error FROM jobs"
        ).fetchone()
        assert state == "queued" and "429" in error
        assert (
            run_at - time.time() >= 1.0
        )  # the job waits out Retry-After, not just the short backoff
        assert deskguard_notes(sandbox, tid) == []
        deadline = time.monotonic() + 10
        while not deskguard_notes(sandbox, tid) and time.monotonic() < deadline:
            drain(rt)
            time.sleep(0.2)
        assert len(deskguard_notes(sandbox, tid)) == 1
    finally:
        server.stop()
        rt.close()


def test_api_calls_per_processed_ticket_via_webhook(wired):
    sb, rt = wired
    desk = rt.services(TENANT).require_desk()
    desk.get_ticket(
        new_ticket(sb, email="warmup@example.com")
    )  # first read also resolves the API user
    settle(sb, rt)
    before = len(sb.state.calls())
    ids = [new_ticket(sb, email=f"c{i}@example.com") for i in range(5)]
    settle(sb, rt)
    per_ticket = (len(sb.state.calls()) - before) / len(ids)
    assert all(len(deskguard_notes(sb, t)) == 1 for t in ids)
    assert (
        per_ticket == 2
    )  # one read (ticket + requester + latest audit) + the note; the echo costs nothing
