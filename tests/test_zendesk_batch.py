"""Backlogs in batches: the poller's ``zendesk.batch`` jobs read 100 tickets per request and run the
pipeline per ticket with the preloaded ticket. Real zenpy against the sandbox, plus unit tests of
the handler's failure rules with the pipeline's in-memory FakeDesk."""

from __future__ import annotations

import json

import pytest
from zendesk_support import (  # noqa: F401  (fixtures)
    TENANT,
    jobs,
    make_runtime,
    sandbox,
    settle,
    sidecar,
    zd_runtime,
    zendesk_config,
)

from connector import tenants
from connector.devkit.fakes import FakeClassifier, FakeDesk, inject
from connector.domain import DESKGUARD_MARKER
from connector.errors import PermanentError, TransientError
from connector.jobs import drain
from connector.pipeline.engine import process_ticket
from connector.zendesk.batch import BATCH_KIND, batch_outcomes, enqueue_batches
from connector.zendesk.intake import enqueue_ticket
from connector.zendesk.poller import poll_tenant
from connector.zendesk.setup import setup_zendesk


def customers(sb, n: int, start: int = 0) -> list[int]:
    return sb.state.seed(
        [
            {
                "subject": f"Where is order #{1000 + i}?",
                "body": f"Order #{1000 + i} is late.",
                "name": f"Customer {i}",
                "email": f"c{i}@example.com",
            }
            for i in range(start, start + n)
        ]
    )


def our_notes(sb, ticket_id: int) -> list[dict]:
    return [c for c in sb.state.notes(ticket_id) if DESKGUARD_MARKER in c["body"]]


def requests_since(sb, start: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    for call in sb.state.calls()[start:]:
        path = call["path"].split("/api/v2/")[1]
        key = (
            call["method"]
            + " "
            + "/".join("{id}" if part.split(".")[0].isdigit() else part for part in path.split("/"))
        )
        counts[key] = counts.get(key, 0) + 1
    return counts


# --- end to end over HTTP -------------------------------------------------------------------------
def test_a_backlog_is_read_100_tickets_per_request_and_noted_once_each(sandbox, zd_runtime):  # noqa: F811
    ids = customers(sandbox, 120)
    # once per process, not per ticket
    assert zd_runtime.services(TENANT).require_desk().api_user_id
    start = len(sandbox.state.calls())
    polled = poll_tenant(zd_runtime, TENANT)
    assert polled.enqueued == 120 and polled.batches == 2 and polled.caught_up
    batches = jobs(zd_runtime, BATCH_KIND)
    assert [len(json.loads(p)["tickets"]) for _, _, p, _ in batches] == [100, 20]
    assert jobs(zd_runtime) == []  # no per-ticket jobs
    assert drain(zd_runtime) == 2
    counts = requests_since(sandbox, start)
    assert counts == {
        "GET incremental/tickets/cursor.json": 1,
        "GET tickets/show_many.json": 2,
        "PUT tickets/{id}": 120,
    }
    assert all(len(our_notes(sandbox, t)) == 1 for t in ids)
    assert set(batch_outcomes(zd_runtime.db, TENANT, batches[0][0]).values()) == {"assist_note"}
    # Our 120 notes changed 120 tickets: the next poll sees them and enqueues nothing (own
    # versions).
    again = poll_tenant(zd_runtime, TENANT)
    assert again.tickets_seen == 120 and again.enqueued == 0 and again.skipped == 120
    assert drain(zd_runtime) == 0


def test_a_backlog_in_shadow_mode_costs_one_read_per_100_tickets_and_no_write(sandbox, zd_runtime):  # noqa: F811
    tenants.set_setting(zd_runtime.db, TENANT, "default_mode", "shadow", actor="test")
    ids = customers(sandbox, 30)
    assert zd_runtime.services(TENANT).require_desk().api_user_id
    start = len(sandbox.state.calls())
    assert poll_tenant(zd_runtime, TENANT).batches == 1
    drain(zd_runtime)
    assert requests_since(sandbox, start) == {
        "GET incremental/tickets/cursor.json": 1,
        "GET tickets/show_many.json": 1,
    }
    rows = zd_runtime.db.conn.execute(
        "SELECT ticket_id, outcome FROM decisions WHERE tenant_id = ?", (TENANT,)
    )
    assert sorted(rows.fetchall()) == [(t, "shadow") for t in ids]


def test_small_pages_still_get_one_job_per_ticket(sandbox, zd_runtime):  # noqa: F811
    customers(sandbox, 9)  # below DESKGUARD_ZENDESK_BATCH_THRESHOLD (10)
    result = poll_tenant(zd_runtime, TENANT)
    assert result.enqueued == 9 and result.batches == 0 and len(jobs(zd_runtime)) == 9


def test_batching_can_be_switched_off(sandbox, config):  # noqa: F811
    rt = make_runtime(zendesk_config(config, sandbox, zendesk_batch_threshold=0))
    try:
        customers(sandbox, 12)
        assert poll_tenant(rt, TENANT).batches == 0 and len(jobs(rt)) == 12
    finally:
        rt.close()


def test_webhooks_and_batches_deduplicate_against_each_other(sandbox, zd_runtime, sidecar):  # noqa: F811
    setup_zendesk(zd_runtime, TENANT, sidecar.url)
    # Webhooks first: the poller finds every version already queued and builds no batch.
    first = customers(sandbox, 12)
    assert sandbox.state.wait_for_deliveries(10)
    assert len(jobs(zd_runtime)) == 12
    polled = poll_tenant(zd_runtime, TENANT)
    assert polled.batches == 0 and polled.enqueued == 0 and polled.duplicates == 12
    settle(sandbox, zd_runtime)
    # The poller first: the webhooks that arrive later for the same versions are duplicates.
    sandbox.state.deliveries_paused = True
    second = customers(sandbox, 12, start=100)
    assert poll_tenant(zd_runtime, TENANT).batches == 1
    sandbox.state.deliveries_paused = False
    assert sandbox.state.wait_for_deliveries(10)
    singles = {json.loads(p)["ticket_id"] for _, _, p, _ in jobs(zd_runtime)}
    assert singles.isdisjoint(second)
    settle(sandbox, zd_runtime)
    assert all(
        len(our_notes(sandbox, t)) == 1 for t in first + second
    )  # our echoes started nothing


# --- the handler's rules, with the pipeline's in-memory desk --------------------------------------
@pytest.fixture
def fake(runtime):
    desk = FakeDesk()
    for i in range(1, 13):
        desk.add_ticket(i, f"Where is order #{1000 + i}?", email=f"c{i}@example.com")
    inject(runtime, desk=desk)
    inject(runtime, classifier=FakeClassifier())
    tenants.set_setting(runtime.db, TENANT, "default_mode", "assist", actor="test")
    return desk


def batch_of_twelve(runtime) -> int:
    [job_id], _ = enqueue_batches(
        runtime, TENANT, [(i, f"2026-01-01T00:00:{i:02d}Z") for i in range(1, 13)]
    )
    return job_id


def test_a_permanent_failure_hands_that_ticket_to_its_own_job(runtime, fake):
    job_id = batch_of_twelve(runtime)
    fake.fail_next = PermanentError("closed", vendor="zendesk", status=422)  # the first write fails
    before = fake.api_calls
    assert drain(runtime, kinds=(BATCH_KIND,)) == 1
    assert (
        fake.api_calls - before == 1 + 12
    )  # one batch read, twelve note attempts (the first failed)
    outcomes = batch_outcomes(runtime.db, TENANT, job_id)
    assert outcomes[1] == "handed_off" and all(outcomes[i] == "assist_note" for i in range(2, 13))
    [(_, state, payload, _)] = jobs(runtime)
    assert json.loads(payload)["ticket_id"] == 1 and state == "queued"
    events = runtime.db.conn.execute(
        "SELECT kind FROM audit_log WHERE kind = 'zendesk.batch_ticket_handed_off'"
    )
    assert len(events.fetchall()) == 1
    assert drain(runtime) == 1  # the single job reads ticket 1 again and writes its note
    assert [w[1] for w in fake.writes].count(1) == 1


def test_a_ticket_deleted_since_the_export_is_left_out(runtime, fake):
    job_id = batch_of_twelve(runtime)
    fake.tickets.pop(12)
    drain(runtime, kinds=(BATCH_KIND,))
    assert sorted(w[1] for w in fake.writes) == list(range(1, 12))
    assert batch_outcomes(runtime.db, TENANT, job_id)[12] == "missing"


def test_a_retryable_failure_retries_the_batch_where_it_stopped(runtime, fake):
    job_id = batch_of_twelve(runtime)
    real = fake.add_internal_note
    calls = {"n": 0}

    def flaky(ticket_id, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise TransientError(
                "zendesk tickets.internal_note: HTTP 503", vendor="zendesk", status=503
            )
        return real(ticket_id, *args, **kwargs)

    fake.add_internal_note = flaky
    drain(runtime, kinds=(BATCH_KIND,))
    state, attempts = runtime.db.conn.execute(
        "SELECT state, attempts FROM jobs WHERE id = ?", (job_id,)
    ).fetchone()
    assert state == "queued" and attempts == 1  # the worker's backoff, not dead
    assert sum(v is not None for v in batch_outcomes(runtime.db, TENANT, job_id).values()) == 3
    runtime.db.conn.execute("UPDATE jobs SET run_at = 0 WHERE id = ?", (job_id,))
    drain(runtime, kinds=(BATCH_KIND,))
    assert all(v == "assist_note" for v in batch_outcomes(runtime.db, TENANT, job_id).values())
    assert sorted(w[1] for w in fake.writes) == list(
        range(1, 13)
    )  # each once: the retry went on from the 4th


def test_the_kill_switch_defers_the_batch_and_nothing_is_lost(runtime, fake):
    job_id = batch_of_twelve(runtime)
    tenants.set_kill_switch(runtime.db, TENANT, True, actor="test")
    drain(runtime, kinds=(BATCH_KIND,))
    state, attempts = runtime.db.conn.execute(
        "SELECT state, attempts FROM jobs WHERE id = ?", (job_id,)
    ).fetchone()
    assert state == "queued" and attempts == 0 and fake.writes == []
    tenants.set_kill_switch(runtime.db, TENANT, False, actor="test")
    runtime.db.conn.execute("UPDATE jobs SET run_at = 0 WHERE id = ?", (job_id,))
    drain(runtime, kinds=(BATCH_KIND,))
    assert sorted(w[1] for w in fake.writes) == list(range(1, 13))


def test_versions_already_queued_are_left_out_and_the_webhook_sees_the_batch(runtime, fake):
    enqueue_ticket(runtime.queue, TENANT, 1, "2026-01-01T00:00:01Z", "webhook")
    job_ids, duplicates = enqueue_batches(
        runtime, TENANT, [(i, f"2026-01-01T00:00:{i:02d}Z") for i in range(1, 13)]
    )
    assert duplicates == 1 and len(job_ids) == 1
    assert sorted(batch_outcomes(runtime.db, TENANT, job_ids[0])) == list(range(2, 13))
    assert enqueue_ticket(runtime.queue, TENANT, 5, "2026-01-01T00:00:05Z", "webhook") == (
        job_ids[0],
        False,
    )
    assert enqueue_batches(runtime, TENANT, [(5, "2026-01-01T00:00:05Z")]) == ([], 1)


# --- the pipeline seam and the marker convention --------------------------------------------------
def test_a_preloaded_ticket_skips_the_read(runtime, fake):
    before = fake.api_calls
    result = process_ticket(runtime, TENANT, 3, ticket=fake.tickets[3])
    assert result.outcome == "assist_note" and fake.api_calls - before == 1  # the note only
    with pytest.raises(ValueError):
        process_ticket(runtime, TENANT, 4, ticket=fake.tickets[3])


def test_fake_desk_keeps_the_adapter_marker_convention(fake):
    fake.add_internal_note(1, "Brief", marker="acme:1:10:zendesk.internal_note")
    body = fake.tickets[1].comments[-1].body
    assert body.count(DESKGUARD_MARKER) == 1 and body.endswith(
        f"{DESKGUARD_MARKER} acme:1:10:zendesk.internal_note"
    )
    assert fake.find_comment_with_marker(1, "acme:1:10:zendesk.internal_note") is not None
    assert (
        fake.find_comment_with_marker(1, "acme:1:1") is None
    )  # a prefix of the key is another key
    with pytest.raises(ValueError):
        fake.add_internal_note(1, "Brief", marker=f"{DESKGUARD_MARKER} acme:1:10")
