"""The durable queue: idempotent enqueue, leases, backoff, dead letters, concurrency properties."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.db import IntegrityErrors, Ledger, migrate
from connector.queue import Queue
from connector.tenants import ensure_tenant


class FakeClock:
    """Advances a little on every read, so leases expire without real sleeping."""

    def __init__(self, step: float = 0.0):
        self.now = 1_000_000.0
        self.step = step
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            self.now += self.step
            return self.now


def make_queue(location, **kwargs) -> Queue:
    ledger = Ledger(location)
    migrate(ledger.db)
    ensure_tenant(ledger.db, "acme")
    return Queue(ledger, **kwargs)


def test_enqueue_is_idempotent_on_dedupe_key(ledger_location):
    q = make_queue(ledger_location)
    first = q.enqueue("acme", "k", {"n": 1}, "ticket-1@t1")
    again = q.enqueue("acme", "k", {"n": 2}, "ticket-1@t1")
    other = q.enqueue("acme", "k", {"n": 3}, "ticket-1@t2")
    assert first == (first[0], True)
    assert again == (first[0], False)
    assert other[1] is True and other[0] != first[0]
    assert q.status()["counts"]["queued"] == 2


def test_unknown_tenant_is_rejected(ledger_location):
    q = make_queue(ledger_location)
    with pytest.raises(IntegrityErrors):
        q.enqueue("nobody", "k", {}, "x")


def test_claim_ack_and_lease_ownership(ledger_location):
    clock = FakeClock()
    q = make_queue(ledger_location, lease_seconds=10, clock=clock)
    q.enqueue("acme", "k", {}, "a")
    job = q.claim("w1")
    assert job and job.attempts == 1 and job.lease_owner == "w1"
    assert q.claim("w2") is None  # leased
    clock.now += 11  # lease expires: the job is claimable again
    taken = q.claim("w2")
    assert taken and taken.id == job.id and taken.attempts == 2
    assert q.ack(job) is False  # the first worker lost its lease
    assert q.ack(taken) is True
    assert q.status()["counts"]["done"] == 1


def test_fail_backs_off_exponentially_with_injected_jitter(ledger_location):
    clock = FakeClock()
    q = make_queue(
        ledger_location,
        backoff_base=2.0,
        backoff_max=100,
        jitter=lambda: 0.5,
        clock=clock,
        max_attempts=5,
    )
    q.enqueue("acme", "k", {}, "a")
    delays = []
    for _ in range(4):
        job = q.claim("w")
        assert job is not None
        start = clock.now
        assert q.fail(job, "boom") == "queued"
        assert q.claim("w") is None  # not before its run_at
        row = q.ledger.db.conn.execute("SELECT run_at FROM jobs WHERE id = ?", (job.id,)).fetchone()
        delays.append(round(row[0] - start, 6))
        clock.now = row[0]
    assert delays == [2.0, 4.0, 8.0, 16.0]  # base·2^(n-1), jitter pinned to the midpoint (×1.0)


def test_retry_after_is_honoured_when_longer_than_backoff(ledger_location):
    clock = FakeClock()
    q = make_queue(ledger_location, backoff_base=1.0, jitter=lambda: 0.5, clock=clock)
    q.enqueue("acme", "k", {}, "a")
    job = q.claim("w")
    q.fail(job, "429", retry_after=30)
    run_at = q.ledger.db.conn.execute("SELECT run_at FROM jobs").fetchone()[0]
    assert run_at - clock.now == pytest.approx(30, abs=0.01)


def test_dead_letter_after_max_attempts_and_retry_dead(ledger_location):
    clock = FakeClock()
    q = make_queue(ledger_location, max_attempts=3, backoff_base=1, jitter=lambda: 0.0, clock=clock)
    q.enqueue("acme", "k", {}, "a")
    states = []
    for _ in range(3):
        clock.now += 10
        job = q.claim("w")
        states.append(q.fail(job, "still broken"))
    assert states == ["queued", "queued", "dead"]
    clock.now += 100
    assert q.claim("w") is None
    status = q.status()
    assert status["counts"]["dead"] == 1 and status["dead_recent"][0]["error"] == "still broken"
    assert q.retry_dead("acme") == 1
    job = q.claim("w")
    assert job and job.attempts == 1
    # the dead-lettering was audited
    kinds = [r[0] for r in q.ledger.db.conn.execute("SELECT kind FROM audit_log")]
    assert "job.dead_lettered" in kinds


def test_permanent_failure_dead_letters_at_once(ledger_location):
    q = make_queue(ledger_location)
    q.enqueue("acme", "k", {}, "a")
    assert q.fail(q.claim("w"), "401", permanent=True) == "dead"


def test_expired_lease_on_last_attempt_goes_dead(ledger_location):
    clock = FakeClock()
    q = make_queue(ledger_location, max_attempts=1, lease_seconds=5, clock=clock)
    q.enqueue("acme", "k", {}, "a")
    assert q.claim("w1") is not None  # the worker dies without ack
    clock.now += 6
    assert q.claim("w2") is None
    assert q.status()["counts"]["dead"] == 1


def test_defer_does_not_spend_an_attempt(ledger_location):
    clock = FakeClock()
    q = make_queue(ledger_location, clock=clock)
    q.enqueue("acme", "k", {}, "a")
    job = q.claim("w")
    assert q.defer(job, 5, "kill switch on")
    clock.now += 6
    again = q.claim("w")
    assert again.attempts == 1


# --- property: many claimers, random failures and worker deaths; no job lost or doubled ---
outcome = st.sampled_from(["ok", "ok", "fail", "die"])


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    plans=st.lists(st.lists(outcome, min_size=1, max_size=6), min_size=1, max_size=25),
    threads=st.integers(min_value=2, max_value=6),
)
def test_every_job_completes_exactly_once_or_is_dead_lettered(new_ledger_location, plans, threads):
    tmp = new_ledger_location("prop.db")
    clock = FakeClock(step=0.01)  # leases of 0.5 "seconds" expire after ~50 clock reads
    q = make_queue(
        tmp, lease_seconds=0.5, max_attempts=4, backoff_base=0.01, backoff_max=0.05, clock=clock
    )
    ids = {}
    for i, plan in enumerate(plans):
        job_id, _ = q.enqueue("acme", "prop", {"i": i}, f"job-{i}")
        ids[job_id] = plan
    completions: Counter[int] = Counter()
    attempts_seen: Counter[int] = Counter()
    zombies = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        wq = Queue(
            Ledger(q.ledger.path),
            lease_seconds=0.5,
            max_attempts=4,
            backoff_base=0.01,
            backoff_max=0.05,
            clock=clock,
        )
        idle = 0
        while idle < 400:
            job = wq.claim(f"w{n}")
            if job is None:
                idle += 1
                continue
            idle = 0
            with lock:
                k = attempts_seen[job.id]
                attempts_seen[job.id] += 1
            plan = ids[job.id]
            action = plan[k] if k < len(plan) else "ok"
            if action == "ok":
                if wq.ack(job):
                    with lock:
                        completions[job.id] += 1
            elif action == "fail":
                wq.fail(job, "random failure")
            else:  # the worker "dies": keeps the job, never answers; a zombie ack comes later
                zombies.append((wq, job))
        wq.ledger.close()

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(60)
    # Zombie workers wake up late and try to ack: they must not complete a job twice.
    for wq, job in zombies:
        if wq.ack(job):  # only possible when nobody else took the job over
            completions[job.id] += 1
    rows = dict(q.ledger.db.conn.execute("SELECT id, state FROM jobs").fetchall())
    assert set(rows) == set(ids)  # none lost
    for job_id, state in rows.items():
        assert state in ("done", "dead"), (job_id, state)
        assert completions[job_id] == (1 if state == "done" else 0)
    q.ledger.close()
