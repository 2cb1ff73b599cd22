"""The ledger's guarantees under concurrent writers, each thread on its own connection (as separate
processes or machines would be): caps stay exact, the audit chain stays one unbroken chain, a job
is claimed by one worker at a time. Runs on the engine of the run (SQLite or PostgreSQL)."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from connector import audit
from connector.db import Ledger, migrate, transaction
from connector.errors import TransientError
from connector.pipeline import caps
from connector.queue import Queue
from connector.tenants import ensure_tenant

THREADS = 8


def ready_ledger(location: str) -> Ledger:
    ledger = Ledger(location)
    migrate(ledger.db)
    ensure_tenant(ledger.db, "acme")
    return ledger


def run_threads(target, n: int = THREADS) -> None:
    start = threading.Barrier(n)
    errors: list[BaseException] = []

    def body(i: int) -> None:
        try:
            start.wait()
            target(i)
        except BaseException as exc:  # reported below, with the thread's own traceback
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors


def test_caps_are_exact_when_many_connections_reserve_at_once(ledger_location):
    ledger = ready_ledger(ledger_location)
    allowed: list[str] = []

    def reserve(n: int) -> None:
        own = Ledger(ledger_location)
        for i in range(20):
            check = caps.reserve(own.db, "acme", f"k{n}-{i}", per_hour=25, per_day=250)
            if check.allowed:
                allowed.append(f"k{n}-{i}")
        own.close()

    run_threads(reserve)
    rows = ledger.db.conn.execute("SELECT COUNT(*) FROM rate_ledger").fetchone()[0]
    assert len(allowed) == rows == 25
    ledger.close()


def test_concurrent_audit_appends_make_one_unbroken_chain(ledger_location):
    ledger = ready_ledger(ledger_location)

    def append(n: int) -> None:
        own = Ledger(ledger_location)
        for i in range(15):
            audit.record(
                own.db, "acme", audit.SettingChanged(name=f"t{n}", old=i, new=i + 1, actor="t")
            )
        own.close()

    run_threads(append)
    ids = [r[0] for r in ledger.db.conn.execute("SELECT id FROM audit_log ORDER BY id")]
    assert len(ids) >= THREADS * 15 and ids == list(range(1, len(ids) + 1))
    result = audit.verify(ledger.db)
    assert result.ok, result.problem
    ledger.close()


def test_each_job_is_claimed_once_by_concurrent_workers(ledger_location):
    ledger = ready_ledger(ledger_location)
    queue = Queue(ledger)
    for i in range(120):
        queue.enqueue("acme", "k", {"i": i}, f"job-{i}")
    acked: Counter[int] = Counter()
    lock = threading.Lock()

    def work(n: int) -> None:
        own = Queue(Ledger(ledger_location))
        while (job := own.claim(f"w{n}")) is not None:
            assert own.ack(job)
            with lock:
                acked[job.id] += 1
        own.ledger.close()

    run_threads(work)
    assert len(acked) == 120 and set(acked.values()) == {1}
    assert queue.status()["counts"]["done"] == 120
    ledger.close()


@pytest.mark.postgres_only  # SQLite's own busy timeout and BEGIN retries do this for the file
def test_a_lock_never_granted_fails_as_transient_instead_of_hanging(ledger_location):
    """A writer stuck holding the ledger lock (or a thread wanting a lock it already holds) must
    not hang the others: after the busy timeout they fail with a transient error and retry."""
    ledger = ready_ledger(ledger_location)
    holder = Ledger(ledger_location, busy_timeout_ms=1000)
    waiter = Ledger(ledger_location, busy_timeout_ms=1000)
    with transaction(holder.db):
        holder.db.conn.execute("UPDATE tenants SET name = 'held' WHERE id = 'acme'")
        with pytest.raises(TransientError, match="LockNotAvailable"), transaction(waiter.db):
            waiter.db.conn.execute("UPDATE tenants SET name = 'waited' WHERE id = 'acme'")
    holder.close()
    waiter.close()
    ledger.close()


def test_a_ticket_version_is_queued_once_when_webhooks_and_the_poller_race(config):
    """Webhooks (single jobs) and the poller (batches) report the same ticket versions at the
    same moment, from their own connections: each version ends up in exactly one place."""
    from connector.bootstrap import ensure_env_tenant
    from connector.runtime import Runtime
    from connector.zendesk.batch import enqueue_batches
    from connector.zendesk.intake import enqueue_ticket

    setup = Runtime(config)
    migrate(setup.db)
    ensure_env_tenant(setup)
    versions = [(5000 + i, f"2026-12-07T11:{i // 60:02d}:{i % 60:02d}Z") for i in range(240)]

    def report(n: int) -> None:
        rt = Runtime(config)
        mine = versions[n % 3 :: 2] if n % 2 else versions[::-1]
        for start in range(0, len(mine), 3):
            chunk = mine[start : start + 3]
            if n % 2:
                for ticket_id, updated_at in chunk:
                    enqueue_ticket(rt.queue, "acme", ticket_id, updated_at, "webhook")
            else:
                with transaction(rt.db):
                    enqueue_batches(rt, "acme", chunk)
        rt.close()

    run_threads(report, 8)
    singles = {
        r[0]
        for r in setup.db.conn.execute("SELECT dedupe_key FROM jobs WHERE kind = 'zendesk.ticket'")
    }
    batched = [r[0] for r in setup.db.conn.execute("SELECT dedupe_key FROM zendesk_batch_tickets")]
    assert len(batched) == len(set(batched))  # no version in two batches
    assert not singles & set(batched), sorted(singles & set(batched))[:5]
    assert len(singles) + len(batched) == len(versions)
    setup.close()
