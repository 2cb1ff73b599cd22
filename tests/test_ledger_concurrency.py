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
