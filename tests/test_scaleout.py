"""Many processes on one ledger: 2 web processes take signed webhooks (each delivered twice, once
to each), 3 worker processes claim the jobs, reserve capped reply slots and write to a vendor; one
worker is SIGKILLed right after a vendor write. Every job ends done exactly once, no reply is sent
twice, the cap is never exceeded, and the audit chain is intact.

It runs on the engine of the run: a SQLite file in the normal run, the PostgreSQL server in the
PostgreSQL run (where the processes could as well be on different machines).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from helpers.processes import wait_for_line

from connector import audit
from connector.cli_context import ledger_env
from connector.db import migrate
from connector.runtime import Runtime
from connector.tenants import ensure_tenant
from connector.zendesk.service import WEBHOOK_SECRET
from connector.zendesk.web import sign_payload

BIN = os.path.join(os.path.dirname(sys.executable), "deskguard")
HELPER = Path(__file__).parent / "helpers" / "scaleout_worker.py"
TICKETS = 60
CAP = 25
PAUSE_TICKET = 1007
HOOK_SECRET = "scaleout-webhook-secret"

pytestmark = pytest.mark.slow


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as res:
                if json.loads(res.read()) == {"status": "ready"}:
                    return
        except (OSError, ValueError):
            pass
        time.sleep(0.1)  # polling interval while waiting for readiness, not a wait for it
    raise AssertionError(f"web process on {port} never became ready")


def deliver(port: int, ticket: int, updated_at: str, delivery: int) -> dict:
    # Each delivery is its own signed request (a retried webhook is signed anew).
    body = json.dumps(
        {"ticket_id": ticket, "updated_at": updated_at, "delivery": delivery}
    ).encode()
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/webhooks/zendesk/acme",
        data=body,
        headers={"Content-Type": "application/json", **sign_payload(HOOK_SECRET, body)},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            return {**json.loads(res.read()), "http": res.status}
    except urllib.error.HTTPError as exc:
        return {**json.loads(exc.read() or b"{}"), "http": exc.code}


def stop(proc: subprocess.Popen) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(10)


def test_two_web_and_three_workers_with_a_kill_lose_and_double_nothing(ledger_location, tmp_path):
    key = Fernet.generate_key().decode()
    base = {"secret_keys": (key,), "tenant_id": "acme"}
    if ledger_location.startswith("postgresql://"):
        rt = Runtime({**base, "database_url": ledger_location})
    else:
        rt = Runtime({**base, "db_path": ledger_location})
    migrate(rt.db)
    ensure_tenant(rt.db, "acme")
    rt.secrets.put(rt.db, "acme", WEBHOOK_SECRET, HOOK_SECRET)

    vendor = tmp_path / "vendor.db"
    env = {
        **os.environ,
        **ledger_env(ledger_location),
        "DESKGUARD_SECRET_KEYS": key,
        "DESKGUARD_TENANT_ID": "acme",
        "DESKGUARD_LOG_FORMAT": "json",
        "CAP": str(CAP),
        "PAUSE_TICKET": str(PAUSE_TICKET),
    }
    ports = [free_port(), free_port()]
    webs = [
        subprocess.Popen(
            [BIN, "serve", "--port", str(p), "--workers", "1", "--threads", "4"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for p in ports
    ]
    workers: list[subprocess.Popen] = []
    try:
        for port, web in zip(ports, webs, strict=True):
            wait_ready(port, web)

        # Every ticket change arrives twice, once at each web process (a retried delivery).
        answers = []
        for i in range(TICKETS):
            ticket, version = 1000 + i, f"2026-12-07T10:{i // 60:02d}:{i % 60:02d}Z"
            answers.append(deliver(ports[i % 2], ticket, version, 1))
            answers.append(deliver(ports[(i + 1) % 2], ticket, version, 2))
        assert all(a["http"] == 202 for a in answers), [a for a in answers if a["http"] != 202]
        assert sum(a["duplicate"] for a in answers) == TICKETS
        assert len({a["job_id"] for a in answers}) == TICKETS

        # The workers start on a full queue, so their nine threads race for jobs and for the
        # last reply slots at once.
        workers.extend(
            subprocess.Popen(
                [sys.executable, str(HELPER), ledger_location, str(vendor)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            for _ in range(3)
        )
        for w in workers:
            wait_for_line(w, b"ready", timeout=60)

        # Kill the worker that is inside the send of PAUSE_TICKET (if the cap let it send).
        paused = Path(str(vendor) + ".paused")
        deadline = time.monotonic() + 120
        killed = None
        while time.monotonic() < deadline:
            if paused.exists() and paused.read_text():
                pid = int(paused.read_text())
                victim = next(w for w in workers if w.pid == pid)
                victim.send_signal(signal.SIGKILL)
                victim.wait(10)
                killed = pid
                break
            done = rt.db.conn.execute(
                "SELECT COUNT(*) FROM jobs WHERE state = 'done' AND kind = 'zendesk.ticket'"
            ).fetchone()[0]
            if done == TICKETS:
                break
            time.sleep(0.05)  # polling interval while waiting for the pause signal
        assert killed is not None, "the paused send never happened (was its slot capped?)"

        # The other two take over the killed worker's job once its lease runs out.
        deadline = time.monotonic() + 180
        while True:
            states = dict(
                rt.db.conn.execute(
                    "SELECT state, COUNT(*) FROM jobs WHERE kind = 'zendesk.ticket' GROUP BY state"
                ).fetchall()
            )
            if states == {"done": TICKETS}:
                break
            assert time.monotonic() < deadline, states
            time.sleep(0.1)  # polling interval while the queue drains
    finally:
        codes = [stop(p) for p in webs + workers]
    assert [c for p, c in zip(webs + workers, codes, strict=True) if p.pid != killed] == [0] * 4

    effects = sqlite3.connect(vendor).execute("SELECT key, COUNT(*) FROM effects GROUP BY key")
    sent = dict(effects.fetchall())
    assert len(sent) == CAP  # exactly as many replies as the cap allows, no more
    assert all(n == 1 for n in sent.values()), {k: n for k, n in sent.items() if n != 1}
    assert f"reply-{PAUSE_TICKET}" in sent
    slots = rt.db.conn.execute(
        "SELECT COUNT(*) FROM rate_ledger WHERE tenant_id = 'acme'"
    ).fetchone()[0]
    assert slots == CAP
    reconciled = [
        r for r in audit.rows(rt.db) if r["kind"] == "action.succeeded" and r["data"]["reconciled"]
    ]
    assert f"reply-{PAUSE_TICKET}" in {r["data"]["idempotency_key"] for r in reconciled}
    result = audit.verify(rt.db)
    assert result.ok, result.problem
    rt.close()
