"""Crashes repair themselves: a write interrupted after the vendor applied it is finished by the
reconciler (or by the job's re-run), and its decision is completed; nothing stays
``sending``/``pending``, nothing is written twice."""

from __future__ import annotations

import time

import pytest

from connector import jobs
from connector.db import transaction
from connector.devkit.fakes import FakeClassifier, FakeDesk, inject, make_reading
from connector.pipeline.engine import process_ticket
from connector.pipeline.policy import set_category_modes
from connector.worker import drain

TENANT = "acme"


class Crash(BaseException):
    """Stands for the process dying (SIGKILL): nothing after it runs, no handler records it."""


class CrashingDesk(FakeDesk):
    """Applies the note, then dies before the caller hears back (the worst moment)."""

    crash_after_write = True

    def add_internal_note(self, *args, **kwargs):
        result = super().add_internal_note(*args, **kwargs)
        if self.crash_after_write:
            self.crash_after_write = False
            raise Crash()
        return result


def _ticket_job(runtime, job):
    process_ticket(runtime, job.tenant_id, job.payload["ticket_id"], job=job)


HANDLERS = {"fault.ticket": _ticket_job}


@pytest.fixture
def crashed(runtime):
    """One ticket whose note reached Zendesk while the worker died: action ``sending``, decision
    ``pending``, job ``running``."""
    desk, classifier = CrashingDesk(), FakeClassifier(make_reading(category="product_question"))
    inject(runtime, desk=desk, classifier=classifier)
    set_category_modes(runtime.db, TENANT, {"*": "assist"}, actor="test")
    desk.add_ticket(1, "Is this jacket waterproof?")
    runtime.queue.enqueue(TENANT, "fault.ticket", {"ticket_id": 1}, "t1")
    with pytest.raises(Crash):
        drain(runtime, HANDLERS)
    assert _states(runtime) == (["sending"], ["pending"], ["running"])
    return desk, classifier


def _states(runtime):
    q = runtime.db.conn.execute
    return (
        [r[0] for r in q("SELECT state FROM actions")],
        [r[0] for r in q("SELECT status FROM decisions")],
        [r[0] for r in q("SELECT state FROM jobs")],
    )


def test_the_reconciler_finishes_the_write_and_completes_its_decision(runtime, crashed):
    desk, classifier = crashed
    counts = jobs.reconcile(runtime)
    assert counts == {"done": 1, "failed": 0, "skipped": 0, "decisions": 1}
    assert _states(runtime)[:2] == (["done"], ["done"])
    # The job's lease runs out; its re-run sees our note and skips (nothing new from a person).
    runtime.queue.clock = lambda: time.time() + 3600
    drain(runtime, HANDLERS)
    assert _states(runtime) == (["done"], ["done"], ["done"])
    assert len(desk.writes) == 1 and len(classifier.seen) == 1


def test_the_jobs_rerun_reconciles_before_the_loop_safety_skip(runtime, crashed):
    desk, classifier = crashed
    runtime.queue.clock = lambda: time.time() + 3600  # the lease ran out before any reconcile
    drain(runtime, HANDLERS)
    assert _states(runtime) == (["done"], ["done"], ["done"])
    assert len(desk.writes) == 1  # found at the vendor, not sent again
    assert len(classifier.seen) == 1  # the recorded decision was finished, not made again
    kinds = [r[0] for r in runtime.db.conn.execute("SELECT kind FROM audit_log ORDER BY id")]
    assert "pipeline.skipped" not in kinds


def test_a_write_that_never_reached_the_vendor_is_sent_by_the_rerun(runtime):
    desk = FakeDesk()
    inject(runtime, desk=desk, classifier=FakeClassifier(make_reading(category="product_question")))
    set_category_modes(runtime.db, TENANT, {"*": "assist"}, actor="test")
    desk.add_ticket(1, "Is this jacket waterproof?")
    desk.fail_next = Crash()  # dies before the write is applied
    runtime.queue.enqueue(TENANT, "fault.ticket", {"ticket_id": 1}, "t1")
    with pytest.raises(Crash):
        drain(runtime, HANDLERS)
    assert jobs.reconcile(runtime)["failed"] == 1  # not found at Zendesk: to be sent again
    runtime.queue.clock = lambda: time.time() + 3600
    drain(runtime, HANDLERS)
    assert _states(runtime) == (["done"], ["done"], ["done"])
    assert len(desk.writes) == 1


def test_the_worker_pool_reconciles_at_start(runtime, crashed):
    pool = jobs.worker_pool(runtime, 1, idle_sleep=0.05)
    pool.start()
    try:
        deadline = time.monotonic() + 10
        while _states(runtime)[0] != ["done"] and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        pool.stop()
    assert _states(runtime)[:2] == (["done"], ["done"])


def test_a_decision_left_pending_after_its_write_completed_is_completed(runtime):
    """Killed between the recorded write and completing the decision: the reconciler completes
    it once it is older than a job lease (a live worker may still be completing a newer one)."""
    desk = FakeDesk()
    inject(runtime, desk=desk, classifier=FakeClassifier(make_reading(category="product_question")))
    set_category_modes(runtime.db, TENANT, {"*": "assist"}, actor="test")
    desk.add_ticket(1, "Is this jacket waterproof?")
    process_ticket(runtime, TENANT, 1)
    with transaction(
        runtime.db
    ):  # what the kill left: the note is written and recorded, not completed
        runtime.db.conn.execute("UPDATE decisions SET status = 'pending'")
    assert jobs.reconcile(runtime)["decisions"] == 0  # too new: maybe a live worker's
    with transaction(runtime.db):
        runtime.db.conn.execute("UPDATE decisions SET created_at = '2026-01-01T00:00:00+00:00'")
    assert jobs.reconcile(runtime)["decisions"] == 1
    assert _states(runtime)[:2] == (["done"], ["done"])
    assert len(desk.writes) == 1
