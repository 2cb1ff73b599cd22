"""Polling the incremental cursor export: missed webhooks, restarts, cursor persistence, the
export's own rate limit, dedupe with webhooks, and the per-tenant APScheduler jobs."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from zendesk_support import (  # noqa: F401  (fixtures)
    TENANT,
    jobs,
    make_runtime,
    sandbox,
    settle,
    sidecar,
    wait_until,
    zd_runtime,
    zendesk_config,
)

from connector.domain import DESKGUARD_MARKER
from connector.jobs import drain
from connector.zendesk.poller import (
    poll_state,
    poll_tenant,
    register_schedules,
    reset_cursor,
    sync_poll_jobs,
)
from connector.zendesk.setup import setup_zendesk


def customer(sb, i: int) -> int:
    return sb.state.customer_writes(
        subject=f"Question {i}",
        body=f"Where is order #{1000 + i}?",
        name=f"Customer {i}",
        email=f"c{i}@example.com",
    )["id"]


def notes(sb, ticket_id):
    return [c for c in sb.state.notes(ticket_id) if DESKGUARD_MARKER in c["body"]]


class Clock:
    def __init__(self):
        self.now = time.time()

    def __call__(self):
        return self.now


def test_tickets_created_while_the_sidecar_was_down_are_polled_after_restart(sandbox, config):  # noqa: F811
    cfg = zendesk_config(config, sandbox)
    first = make_runtime(cfg)
    from connector.devkit.sandbox import serve_in_thread
    from connector.web import create_app

    server = serve_in_thread(create_app(runtime=first))
    setup_zendesk(first, TENANT, server.url)
    early = customer(sandbox, 0)
    settle(sandbox, first)
    assert poll_tenant(
        first, TENANT
    ).caught_up  # establishes the cursor; the early ticket was handled
    cursor = poll_state(first.db, TENANT)["cursor"]
    assert cursor
    server.stop()  # the sidecar goes down …
    first.close()

    sandbox.state.delivery_retries = 0
    missed = [customer(sandbox, i) for i in (1, 2, 3)]
    assert sandbox.state.wait_for_deliveries(10)
    assert all(
        isinstance(d.attempts[0], str) for d in sandbox.state.deliveries if d.ticket_id in missed
    )

    restarted = make_runtime(cfg)  # … and comes back on the same ledger
    try:
        assert poll_state(restarted.db, TENANT)["cursor"] == cursor
        result = poll_tenant(restarted, TENANT)
        export_calls = sandbox.state.calls("GET", "/incremental/tickets/cursor")
        assert parse_qs(export_calls[-1]["query"])["cursor"] == [
            cursor
        ]  # resumed from the stored cursor
        assert result.enqueued == 3 and result.caught_up
        assert sorted(json.loads(p)["ticket_id"] for _, _, p, _ in jobs(restarted)[-3:]) == missed
        assert all(json.loads(p)["source"] == "poll" for _, _, p, _ in jobs(restarted)[-3:])
        drain(restarted)
        assert all(len(notes(sandbox, t)) == 1 for t in missed)
        assert len(notes(sandbox, early)) == 1
        # Our notes changed the tickets again: the next poll sees them and skips them as our own.
        again = poll_tenant(restarted, TENANT)
        assert again.enqueued == 0 and again.skipped == 3
    finally:
        restarted.close()


def test_webhook_and_poller_deduplicate_against_each_other(sandbox, zd_runtime, sidecar):  # noqa: F811
    setup_zendesk(zd_runtime, TENANT, sidecar.url)
    tid = customer(sandbox, 1)
    assert sandbox.state.wait_for_deliveries(10)
    assert len(jobs(zd_runtime)) == 1
    result = poll_tenant(zd_runtime, TENANT)
    assert result.enqueued == 0 and result.duplicates == 1
    assert len(jobs(zd_runtime)) == 1
    settle(sandbox, zd_runtime)
    assert len(notes(sandbox, tid)) == 1


def test_the_poller_keeps_to_the_export_rate_limit_and_resumes_later(sandbox, zd_runtime):  # noqa: F811
    ids = [customer(sandbox, i) for i in range(7)]
    zd_runtime.config = zd_runtime.config.replace(zendesk_export_requests_per_minute=3)
    clock = Clock()
    first = poll_tenant(zd_runtime, TENANT, per_page=2, clock=clock)
    assert (
        first.requests == 3 and first.rate_limited and not first.caught_up and first.enqueued == 6
    )
    again = poll_tenant(
        zd_runtime, TENANT, per_page=2, clock=clock
    )  # same minute: no request at all
    assert again.requests == 0 and again.rate_limited
    clock.now += 61
    rest = poll_tenant(zd_runtime, TENANT, per_page=2, clock=clock)
    assert rest.caught_up and rest.enqueued == 1
    assert sorted(json.loads(p)["ticket_id"] for _, _, p, _ in jobs(zd_runtime)) == ids
    assert len(sandbox.state.calls("GET", "/incremental/")) == 4


def test_a_backlog_poll_never_draws_a_429_from_the_export_limit(config):
    from connector.devkit.sandbox.zendesk import start_zendesk_sandbox

    sb = start_zendesk_sandbox(rate_limit_per_minute=None, export_rate_limit_per_minute=10)
    rt = make_runtime(zendesk_config(config, sb))
    try:
        for i in range(15):
            customer(sb, i)
        result = poll_tenant(rt, TENANT, per_page=1)
        assert result.requests == 10 and result.rate_limited and result.enqueued == 10
        statuses = [c["status"] for c in sb.state.calls("GET", "/incremental/")]
        assert statuses == [200] * 10
        # The window is in the ledger, so a restarted process does not start a fresh minute.
        rt.close()
        rt = make_runtime(zendesk_config(config, sb))
        assert poll_tenant(rt, TENANT, per_page=1).requests == 0
        assert len(sb.state.calls("GET", "/incremental/")) == 10
    finally:
        rt.close()
        sb.stop(wait=False)


def test_a_crash_mid_walk_loses_nothing(sandbox, zd_runtime):  # noqa: F811
    ids = [customer(sandbox, i) for i in range(5)]
    first = poll_tenant(zd_runtime, TENANT, per_page=2, max_requests=1)
    assert first.enqueued == 2 and not first.caught_up
    sandbox.state.fail_next.append((500, "InternalError"))
    failed = poll_tenant(zd_runtime, TENANT, per_page=2)
    assert failed.error and failed.enqueued == 0
    assert (
        poll_state(zd_runtime.db, TENANT)["cursor"] == first.cursor
    )  # not advanced past unprocessed tickets
    rest = poll_tenant(zd_runtime, TENANT, per_page=2)
    assert rest.caught_up
    assert sorted(json.loads(p)["ticket_id"] for _, _, p, _ in jobs(zd_runtime)) == ids


def test_reset_cursor_starts_over_and_duplicates_collapse(sandbox, zd_runtime):  # noqa: F811
    ids = [customer(sandbox, i) for i in range(3)]
    assert poll_tenant(zd_runtime, TENANT).enqueued == 3
    reset_cursor(zd_runtime, TENANT, start_time=0, actor="test")
    result = poll_tenant(zd_runtime, TENANT)
    assert result.enqueued == 0 and result.duplicates == 3
    assert len(jobs(zd_runtime)) == len(ids)
    kinds = [r[0] for r in zd_runtime.db.conn.execute("SELECT kind FROM audit_log")]
    assert "zendesk.poll_cursor_reset" in kinds


def test_closed_and_deleted_tickets_are_not_enqueued(sandbox, zd_runtime):  # noqa: F811
    open_id, closed_id = customer(sandbox, 1), customer(sandbox, 2)
    sandbox.state.update_ticket(
        closed_id, {"status": "closed"}, author_id=sandbox.state.agent["id"], fire=False
    )
    result = poll_tenant(zd_runtime, TENANT)
    assert result.enqueued == 1 and result.skipped == 1
    assert json.loads(jobs(zd_runtime)[0][2])["ticket_id"] == open_id


def test_the_scheduler_runs_one_poll_job_per_configured_tenant(sandbox, zd_runtime):  # noqa: F811
    zd_runtime.config = zd_runtime.config.replace(zendesk_poll_interval_seconds=0.2)
    from connector.tenants import ensure_tenant

    ensure_tenant(zd_runtime.db, "no-zendesk")  # a tenant without credentials gets no poll job
    scheduler = BackgroundScheduler(timezone="UTC")
    register_schedules(scheduler, zd_runtime)
    scheduler.start()
    try:
        wait_until(lambda: scheduler.get_job(f"zendesk.poll.{TENANT}") is not None)
        assert scheduler.get_job("zendesk.poll.no-zendesk") is None
        tid = customer(sandbox, 1)
        wait_until(lambda: len(jobs(zd_runtime)) == 1, timeout=10)
        assert json.loads(jobs(zd_runtime)[0][2]) == {
            "ticket_id": tid,
            "source": "poll",
            "updated_at": sandbox.state.get_ticket(tid)["updated_at"],
        }
        assert sync_poll_jobs(scheduler, zd_runtime) == [TENANT]
    finally:
        scheduler.shutdown(wait=True)


def test_polling_can_be_switched_off(sandbox, zd_runtime):  # noqa: F811
    zd_runtime.config = zd_runtime.config.replace(zendesk_poll=False)
    scheduler = BackgroundScheduler(timezone="UTC")
    register_schedules(scheduler, zd_runtime)
    assert [j.id for j in scheduler.get_jobs()] == ["zendesk.prune"]


@pytest.mark.parametrize("lookback", [0, 120])
def test_the_first_poll_starts_at_least_a_minute_back(sandbox, zd_runtime, lookback):  # noqa: F811
    zd_runtime.config = zd_runtime.config.replace(zendesk_poll_lookback_seconds=lookback)
    poll_tenant(zd_runtime, TENANT)
    [call] = sandbox.state.calls("GET", "/incremental/")
    start = int(call["query"].split("start_time=")[1].split("&")[0])
    assert time.time() - start >= max(lookback, 60) - 2
