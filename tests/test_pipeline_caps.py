"""Hourly/daily caps on automated replies: atomic under concurrency, honest about retries."""

from __future__ import annotations

import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.db import Ledger, migrate
from connector.devkit.fakes import FakeClassifier, FakeDesk, FakeOrders, inject, make_reading
from connector.devkit.fakes import make_order as shipped_order
from connector.pipeline import caps
from connector.pipeline.engine import process_ticket
from connector.pipeline.policy import set_category_modes
from connector.tenants import ensure_tenant
from connector.worker import WorkerPool

TENANT = "acme"


_EXAMPLES = itertools.count()


def ledger_with_fresh_tenant(location: str) -> tuple[Ledger, str]:
    """The test's ledger (migrated by the first example) and a tenant no example used yet, so
    each hypothesis example starts from an empty rate ledger."""
    ledger = Ledger(location)
    migrate(ledger.db)
    tenant = f"caps{next(_EXAMPLES)}"
    ensure_tenant(ledger.db, tenant)
    return ledger, tenant


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    per_hour=st.integers(0, 30),
    per_day=st.integers(0, 40),
    requests=st.integers(1, 64),
    retries=st.integers(0, 8),
)
def test_caps_are_never_exceeded_by_16_concurrent_workers(
    ledger_location, per_hour, per_day, requests, retries
):
    ledger, tenant = ledger_with_fresh_tenant(ledger_location)
    barrier = threading.Barrier(16)
    keys = [f"k{i}" for i in range(requests)] + [
        f"k{i}" for i in range(min(retries, requests))
    ]  # retried keys

    def worker(index: int) -> list[tuple[str, bool]]:
        db = ledger.db  # one connection per thread, as in the worker pool
        barrier.wait()
        return [
            (k, caps.reserve(db, tenant, k, per_hour=per_hour, per_day=per_day).allowed)
            for k in keys[index::16]
        ]

    with ThreadPoolExecutor(16) as pool:
        results = [r for chunk in pool.map(worker, range(16)) for r in chunk]
    granted_keys = {k for k, ok in results if ok}
    rows = ledger.db.conn.execute(
        "SELECT COUNT(*), COUNT(DISTINCT key) FROM rate_ledger WHERE tenant_id = ?", (tenant,)
    ).fetchone()
    assert rows[0] == rows[1] == len(granted_keys)
    assert len(granted_keys) == min(per_hour, per_day, requests)
    used_hour, used_day = caps.usage(ledger.db, tenant)
    assert used_hour <= per_hour and used_day <= per_day
    ledger.close()


def test_windows_slide(runtime):
    db, now = runtime.db, time.time()
    for i in range(3):
        assert caps.reserve(db, TENANT, f"old{i}", per_hour=3, per_day=5, now=now - 7200).allowed
    # Two hours later the hourly window is empty again but the day already holds 3 of 5.
    assert caps.usage(db, TENANT, now=now) == (0, 3)
    assert caps.reserve(db, TENANT, "a", per_hour=3, per_day=5, now=now).allowed
    assert caps.reserve(db, TENANT, "b", per_hour=3, per_day=5, now=now).allowed
    denied = caps.reserve(db, TENANT, "c", per_hour=3, per_day=5, now=now)
    assert not denied.allowed and "daily cap" in denied.reason
    assert caps.reserve(db, TENANT, "a", per_hour=3, per_day=5, now=now).already_reserved
    assert caps.reserve(db, TENANT, "d", per_hour=3, per_day=5, now=now + 86400).allowed


def test_at_the_cap_auto_falls_back_to_assist_and_tags(runtime):
    desk = FakeDesk()
    inject(runtime, desk=desk)
    inject(runtime, classifier=FakeClassifier(make_reading()))
    inject(runtime, orders=FakeOrders([shipped_order()]))
    set_category_modes(
        runtime.db, TENANT, {"order_status": "auto"}, actor="t", override_reason="test"
    )
    from connector.pipeline import policy

    policy.update(runtime.db, TENANT, {"caps": {"auto_replies_per_hour": 2}}, actor="t")
    outcomes = []
    for tid in range(1, 5):
        desk.add_ticket(tid, "Where is my parcel?", email=f"c{tid}@example.com")
        inject(runtime, orders=FakeOrders([shipped_order(email=f"c{tid}@example.com")]))
        outcomes.append(process_ticket(runtime, TENANT, tid))
    assert [o.outcome for o in outcomes] == [
        "auto_reply",
        "auto_reply",
        "assist_note",
        "assist_note",
    ]
    assert outcomes[2].rule == "caps"
    note = next(w for w in desk.writes if w[1] == 3)
    assert note[0] == "internal_note" and "deskguard_cap_reached" in note[2]["tags"]
    assert "hourly cap reached (2/2" in note[2]["body"]
    assert len([w for w in desk.writes if w[0] == "public_reply"]) == 2


def _caps_job(runtime, job):
    process_ticket(runtime, job.tenant_id, job.payload["ticket_id"], job=job)


HANDLERS = {"pipeline.caps_test_ticket": _caps_job}


def test_sixteen_worker_threads_never_send_more_replies_than_the_cap(runtime):
    desk = FakeDesk()
    inject(runtime, desk=desk)
    inject(runtime, classifier=FakeClassifier(make_reading()))
    n = 60
    inject(
        runtime,
        orders=FakeOrders(
            [shipped_order(email=f"c{i}@example.com", name=f"#{2000 + i}") for i in range(1, n + 1)]
        ),
    )
    set_category_modes(
        runtime.db, TENANT, {"order_status": "auto"}, actor="t", override_reason="test"
    )
    from connector.pipeline import policy

    policy.update(runtime.db, TENANT, {"caps": {"auto_replies_per_hour": 10}}, actor="t")
    for tid in range(1, n + 1):
        desk.add_ticket(tid, "Where is my parcel?", email=f"c{tid}@example.com")
        runtime.queue.enqueue(TENANT, "pipeline.caps_test_ticket", {"ticket_id": tid}, f"caps{tid}")
    pool = WorkerPool(runtime, HANDLERS, 16, idle_sleep=0.01)
    pool.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            done = runtime.db.conn.execute(
                "SELECT COUNT(*) FROM jobs WHERE state = 'done'"
            ).fetchone()[0]
            if done == n:
                break
            time.sleep(0.05)
    finally:
        pool.stop()
    replies = [w for w in desk.writes if w[0] == "public_reply"]
    notes = [w for w in desk.writes if w[0] == "internal_note"]
    assert len(replies) == 10 and len(notes) == n - 10
    assert all("deskguard_cap_reached" in w[2]["tags"] for w in notes)
    assert caps.usage(runtime.db, TENANT) == (10, 10)
