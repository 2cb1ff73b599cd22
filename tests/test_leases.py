"""Leader leases in the ledger (connector/leases.py) and the scheduler's use of one, driven by an
injected clock: take, renew, give back, expiry and takeover, and a leader that loses its lease."""

from __future__ import annotations

import os
import time

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from connector import leases
from connector.db import Ledger, migrate
from connector.scheduler import LEASE_NAME, SchedulerLease

T0 = 1_800_000_000.0


@pytest.fixture
def ledger(tmp_path):
    ledger = Ledger(str(tmp_path / "lease.db"))
    migrate(ledger.db)
    yield ledger
    ledger.close()


def test_the_first_owner_takes_a_free_lease_and_a_second_is_refused(ledger):
    db = ledger.db
    assert leases.holder(db, "scheduler", T0) is None
    assert leases.acquire(db, "scheduler", "a", 30, T0)
    assert not leases.acquire(db, "scheduler", "b", 30, T0 + 29.9)
    held = leases.holder(db, "scheduler", T0 + 29.9)
    assert held == leases.Lease("scheduler", "a", T0, T0 + 30)
    row = db.conn.execute("SELECT tenant_id FROM leader_leases WHERE name='scheduler'").fetchone()
    assert row == ("*",)


def test_other_names_are_independent(ledger):
    assert leases.acquire(ledger.db, "scheduler", "a", 30, T0)
    assert leases.acquire(ledger.db, "other-role", "b", 30, T0)
    assert leases.holder(ledger.db, "other-role", T0).owner == "b"


def test_the_owner_extends_its_lease_and_keeps_its_acquired_time(ledger):
    db = ledger.db
    assert leases.acquire(db, "scheduler", "a", 30, T0)
    assert leases.acquire(db, "scheduler", "a", 30, T0 + 10)  # re-acquire = extend
    assert leases.renew(db, "scheduler", "a", 30, T0 + 20)
    held = leases.holder(db, "scheduler", T0 + 49)
    assert held is not None and held.acquired_at == T0 and held.expires_at == T0 + 50
    assert not leases.acquire(db, "scheduler", "b", 30, T0 + 49)


def test_an_expired_lease_is_taken_over_and_the_old_owner_cannot_renew_it(ledger):
    db = ledger.db
    assert leases.acquire(db, "scheduler", "crashed", 30, T0)
    assert leases.holder(db, "scheduler", T0 + 30) is None  # expired at exactly T0 + 30
    assert leases.acquire(db, "scheduler", "b", 30, T0 + 30)
    assert leases.holder(db, "scheduler", T0 + 31) == leases.Lease(
        "scheduler", "b", T0 + 30, T0 + 60
    )
    assert not leases.renew(db, "scheduler", "crashed", 30, T0 + 31)
    assert not leases.release(db, "scheduler", "crashed")  # not its row any more
    assert leases.holder(db, "scheduler", T0 + 31).owner == "b"


def test_release_frees_the_lease_at_once(ledger):
    db = ledger.db
    assert leases.acquire(db, "scheduler", "a", 30, T0)
    assert leases.release(db, "scheduler", "a")
    assert leases.holder(db, "scheduler", T0 + 1) is None
    assert not leases.renew(db, "scheduler", "a", 30, T0 + 1)  # gone: the old owner must stop
    assert leases.acquire(db, "scheduler", "b", 30, T0 + 1)


def test_a_lease_needs_a_positive_ttl(ledger):
    with pytest.raises(ValueError, match="ttl"):
        leases.acquire(ledger.db, "scheduler", "a", 0, T0)


def test_a_second_ledger_connection_sees_the_same_lease(ledger):
    other = Ledger(ledger.path)
    try:
        assert leases.acquire(ledger.db, "scheduler", "a", 30, T0)
        assert not leases.acquire(other.db, "scheduler", "b", 30, T0 + 1)
    finally:
        other.close()


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_the_scheduler_lease_names_host_pid_and_a_random_part(ledger):
    a, b = SchedulerLease(ledger, 30), SchedulerLease(ledger, 30)
    host, pid, rand = a.owner.split(":")
    assert host and pid == str(os.getpid()) and len(rand) == 8
    assert a.owner != b.owner  # two claims in one process are still two owners


def test_a_scheduler_that_finds_another_owner_stops_itself(ledger, caplog):
    clock = Clock(T0)
    lease = SchedulerLease(ledger, 30, clock=clock)
    assert lease.acquire()
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.start()
    lease._scheduler = scheduler  # what keep() sets, without its timer thread
    try:
        clock.now = T0 + 10
        assert lease.renew_once() and lease.expires_at == T0 + 40
        # It stalled past its expiry and another process took over meanwhile.
        assert leases.acquire(ledger.db, LEASE_NAME, "other:1:ffff", 30, T0 + 41)
        clock.now = T0 + 42
        with caplog.at_level("ERROR"):
            assert not lease.renew_once()
        assert not scheduler.running
        assert any(r.getMessage() == "scheduler.lease_lost" for r in caplog.records)
        lease.release()  # does not free the other owner's lease
        assert leases.holder(ledger.db, LEASE_NAME, T0 + 43).owner == "other:1:ffff"
    finally:
        if scheduler.running:
            scheduler.shutdown(wait=False)


def test_the_keeper_thread_renews_until_released(ledger):
    lease = SchedulerLease(ledger, 0.3)  # renews every 0.1 s of real time
    assert lease.acquire()
    first = lease.expires_at
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.start()
    lease.keep(scheduler)
    try:
        deadline = time.monotonic() + 10
        while lease.expires_at == first and time.monotonic() < deadline:
            time.sleep(0.02)  # polling for the renewal to land
        assert lease.expires_at > first and scheduler.running
        assert leases.holder(ledger.db, LEASE_NAME, lease.clock()).owner == lease.owner
    finally:
        scheduler.shutdown(wait=False)
        lease.release()
    assert lease._thread is not None and not lease._thread.is_alive()
    assert leases.holder(ledger.db, LEASE_NAME, lease.clock()) is None
