"""Hold, don't spin: a job the kill switch blocks is parked with its decision recorded once, and
resumes (oldest first) once the switch is off, without a second classification."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime

from connector.devkit.fakes import FakeClassifier, FakeDesk, inject, make_reading
from connector.domain import Comment
from connector.pipeline.engine import process_ticket
from connector.pipeline.policy import set_category_modes
from connector.tenants import set_kill_switch
from connector.worker import WorkerPool, drain

TENANT = "acme"


def _ticket_job(runtime, job):
    process_ticket(runtime, job.tenant_id, job.payload["ticket_id"], job=job)


HANDLERS = {"fault.ticket": _ticket_job}


def _setup(runtime, n):
    desk, classifier = FakeDesk(), FakeClassifier(make_reading(category="product_question"))
    inject(runtime, desk=desk, classifier=classifier)
    set_category_modes(runtime.db, TENANT, {"*": "assist"}, actor="test")
    for tid in range(1, n + 1):
        desk.add_ticket(tid, f"Is jacket {tid} waterproof?", email=f"c{tid}@example.com")
        runtime.queue.enqueue(TENANT, "fault.ticket", {"ticket_id": tid}, f"t{tid}")
    return desk, classifier


def _decisions(runtime):
    return dict(
        runtime.db.conn.execute("SELECT status, COUNT(*) FROM decisions GROUP BY status").fetchall()
    )


def _audit(runtime, kind):
    q = "SELECT COUNT(*) FROM audit_log WHERE kind = ?"
    return runtime.db.conn.execute(q, (kind,)).fetchone()[0]


def test_a_held_ticket_is_decided_once_however_often_the_worker_looks(runtime):
    desk, classifier = _setup(runtime, 10)
    set_kill_switch(runtime.db, TENANT, True, actor="test", reason="incident")
    assert drain(runtime, HANDLERS) == 10  # each job runs once, then waits parked
    reads, calls = desk.api_calls, len(classifier.seen)
    for _ in range(20):  # the worker keeps polling: nothing is ready while the switch is on
        assert drain(runtime, HANDLERS) == 0
    assert (desk.api_calls, len(classifier.seen)) == (reads, calls) == (10, 10)
    assert _decisions(runtime) == {"deferred": 10}
    assert _audit(runtime, "action.blocked") == 10
    assert runtime.queue.parked(TENANT) == 10 and runtime.queue.status()["held"] == 10

    set_kill_switch(runtime.db, TENANT, False, actor="test", reason="over")
    assert drain(runtime, HANDLERS) == 10
    assert _decisions(runtime) == {"done": 10}  # the same 10 rows, finished
    assert len(classifier.seen) == 10  # no second classification
    assert [w[1] for w in desk.writes] == list(range(1, 11))  # oldest first
    assert runtime.queue.parked() == 0


def test_a_ticket_that_changed_while_held_is_read_and_decided_once_more(runtime):
    desk, classifier = _setup(runtime, 3)
    set_kill_switch(runtime.db, TENANT, True, actor="test")
    drain(runtime, HANDLERS)
    t = desk.tickets[2]
    newer = Comment(
        id=99_999,
        author_id=500,
        public=True,
        body="Also: does it come in blue?",
        created_at=datetime.now(UTC),
    )
    desk.tickets[2] = replace(t, comments=(*t.comments, newer), updated_at=datetime.now(UTC))
    set_kill_switch(runtime.db, TENANT, False, actor="test")
    drain(runtime, HANDLERS)
    assert _decisions(runtime) == {"done": 3, "superseded": 1}
    assert len(classifier.seen) == 4  # the changed ticket once more, the others not again
    assert sorted(w[1] for w in desk.writes) == [1, 2, 3]


def test_parked_work_resumes_within_ten_seconds_of_the_switch_turning_off(runtime):
    desk, _ = _setup(runtime, 30)
    set_kill_switch(runtime.db, TENANT, True, actor="test")
    pool = WorkerPool(runtime, HANDLERS, 1, idle_sleep=0.05)
    pool.start()
    try:
        deadline = time.monotonic() + 20
        while runtime.queue.parked(TENANT) < 30 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert runtime.queue.parked(TENANT) == 30
        t0 = time.monotonic()
        set_kill_switch(runtime.db, TENANT, False, actor="test")
        while len(desk.writes) < 30 and time.monotonic() - t0 < 10:
            time.sleep(0.01)
        elapsed = time.monotonic() - t0
    finally:
        pool.stop()
    assert len(desk.writes) == 30 and elapsed < 10
    assert [w[1] for w in desk.writes] == list(range(1, 31))  # oldest first
    print(f"30 parked jobs resumed and written {elapsed:.2f} s after the switch turned off")
