"""A worker killed with SIGKILL mid-work: after a restart every job completes, and its side effect
happens exactly once (the idempotency key is recorded before the send; reconcile after a crash)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from connector import audit
from connector.db import Ledger, migrate
from connector.queue import Queue
from connector.tenants import ensure_tenant

HELPER = Path(__file__).parent / "helpers" / "crash_worker.py"
JOBS = 40


def start_worker(db, vendor, **env):
    return subprocess.Popen(
        [sys.executable, str(HELPER), str(db), str(vendor)],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_sigkill_mid_work_then_restart_completes_every_job_once(tmp_path, ledger_location):
    db_path, vendor = ledger_location, tmp_path / "vendor.db"
    ledger = Ledger(db_path)
    db = ledger.db
    migrate(db)
    ensure_tenant(db, "acme")

    q = Queue(ledger)
    for i in range(JOBS):
        q.enqueue("acme", "crashtest.effect", {"i": i}, f"effect-{i}")

    pause_at = 7
    proc = start_worker(db_path, vendor, PAUSE_AFTER_SEND=str(pause_at))
    paused = Path(str(vendor) + ".paused")
    deadline = time.time() + 30
    while not paused.exists() and time.time() < deadline:
        time.sleep(0.02)
    assert paused.exists(), (
        proc.stderr.read().decode()[-2000:] if proc.poll() is not None else "never paused"
    )
    os.kill(proc.pid, signal.SIGKILL)  # after the vendor write, before the outcome was recorded
    proc.wait(10)

    state = dict(db.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall())
    assert state.get("done", 0) < JOBS  # the kill really interrupted work

    restarted = start_worker(db_path, vendor)
    _out, err = restarted.communicate(timeout=90)
    assert restarted.returncode == 0, err.decode()[-3000:]

    rows = dict(db.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall())
    assert rows == {"done": JOBS}
    effects = (
        sqlite3.connect(vendor).execute("SELECT key, COUNT(*) FROM effects GROUP BY key").fetchall()
    )
    assert len(effects) == JOBS
    assert all(n == 1 for _, n in effects), [e for e in effects if e[1] != 1]
    # Jobs interrupted after their send (the paused one, and any other thread caught mid-send)
    # were completed by reconciliation, not by a second send.
    reconciled = {
        r["data"]["idempotency_key"]
        for r in audit.rows(db)
        if r["kind"] == "action.succeeded" and r["data"]["reconciled"]
    }
    assert f"crash-{pause_at}" in reconciled
    assert audit.verify(db).ok


def test_a_second_sender_backs_off_while_the_first_holds_the_key(runtime):
    """Two workers with the same idempotency key at the same moment: only one reaches the vendor."""
    import threading

    import pytest

    from connector import actions
    from connector.errors import TransientError

    sent, entered, release = [], threading.Event(), threading.Event()

    def slow_send(key):
        sent.append(key)
        entered.set()
        release.wait(5)
        return {"ok": True}

    def action():
        return actions.WriteAction(
            "zendesk", "test.note", "same-key", {}, send=slow_send, reconcile=lambda key: None
        )

    first = threading.Thread(target=lambda: actions.execute(runtime.ledger.db, "acme", action()))
    first.start()
    assert entered.wait(5)
    with pytest.raises(TransientError) as exc:
        actions.execute(runtime.db, "acme", action())
    assert exc.value.should_retry and exc.value.retry_after >= 1
    release.set()
    first.join(5)
    replay = actions.execute(runtime.db, "acme", action())
    assert replay.replayed and sent == ["same-key"]
