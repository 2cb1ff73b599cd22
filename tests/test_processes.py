"""The long-running commands: `serve` (gunicorn), `worker` (+ the one-scheduler leader lease)."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from cryptography.fernet import Fernet
from helpers.processes import wait_for_line

from connector import leases
from connector.cli_context import ledger_env
from connector.db import Ledger, migrate

BIN = os.path.join(os.path.dirname(sys.executable), "deskguard")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def env(ledger_location):
    """The commands' environment, on the run's ledger (a file, or the PostgreSQL schema)."""
    return {
        **os.environ,
        **ledger_env(ledger_location),
        "LEDGER": ledger_location,
        "DESKGUARD_TENANT_ID": "acme",
        "DESKGUARD_SECRET_KEYS": Fernet.generate_key().decode(),
        "DESKGUARD_LOG_FORMAT": "json",
    }


def wait_http(url: str, timeout: float = 20) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as res:
                return json.loads(res.read())
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} never answered")


def test_serve_runs_gunicorn_and_is_ready(env):
    port = free_port()
    proc = subprocess.Popen(
        [BIN, "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert wait_http(f"http://127.0.0.1:{port}/readyz") == {"status": "ready"}
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert b"gunicorn" in err.lower() or b"Booting worker" in err


def test_worker_starts_scheduler_once_and_stops_on_sigterm(env, tmp_path):
    first = subprocess.Popen(
        [BIN, "worker", "--threads", "2"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        seen = wait_for_line(first, b"scheduler on, ready")  # the worker's readiness line
        # The language models load first: loading holds the GIL, so it must not happen while the
        # scheduler's lease needs renewing (or on the first ticket).
        assert b"language models loaded in" in seen.split(b"scheduler on, ready")[0]
        assert f":{first.pid}:" in _lease_owner(env)
        second = subprocess.run(
            [BIN, "worker", "--threads", "1"], env=env, capture_output=True, timeout=30
        )
        assert second.returncode != 0 and b"already runs the scheduler" in second.stderr
        third = subprocess.Popen(
            [BIN, "worker", "--no-scheduler"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        wait_for_line(third, b"scheduler off, ready")
        assert third.poll() is None  # extra workers without the scheduler are fine
        third.send_signal(signal.SIGTERM)
        assert third.wait(20) == 0
    finally:
        first.send_signal(signal.SIGTERM)
        assert first.wait(20) == 0


def test_a_worker_stopped_while_it_starts_exits_cleanly(env):
    """SIGTERM the moment the worker command runs (before migrations, the scheduler or threads):
    the handler is already installed, so it stops with 0, not killed by the signal (-15)."""
    proc = subprocess.Popen(
        [BIN, "worker", "--threads", "1"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        wait_for_line(proc, b"deskguard worker: starting")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def _lease_owner(env: dict[str, str], at: float | None = None) -> str | None:
    ledger = Ledger(env["LEDGER"])
    try:
        held = leases.holder(ledger.db, "scheduler", time.time() if at is None else at)
        return held.owner if held else None
    finally:
        ledger.close()


def _outcome(proc: subprocess.Popen) -> tuple[str, bytes]:
    """('leader', stderr) once the worker says its scheduler is on; ('refused', stderr) when it
    exits first."""
    assert proc.stderr is not None
    seen, deadline = b"", time.monotonic() + 60
    while b"scheduler on, ready" not in seen:
        assert time.monotonic() < deadline, f"no outcome within 60 s: {seen[-2000:]!r}"
        ready, _, _ = select.select([proc.stderr], [], [], 1)
        chunk = os.read(proc.stderr.fileno(), 65536) if ready else None
        if chunk == b"":
            proc.wait(30)
            return "refused", seen
        seen += chunk or b""
    return "leader", seen


def _stop(proc: subprocess.Popen) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    return proc.wait(30)


def test_two_workers_started_together_run_exactly_one_scheduler(env):
    migrate(Ledger(env["LEDGER"]).db)  # both start on a ready ledger
    procs = [
        subprocess.Popen(
            [BIN, "worker", "--threads", "1"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    try:
        outcomes = [_outcome(p) for p in procs]
        assert sorted(o for o, _ in outcomes) == ["leader", "refused"]
        leader, refused = procs if outcomes[0][0] == "leader" else procs[::-1]
        refusal = outcomes[procs.index(refused)][1]
        assert refused.returncode != 0
        assert b"another process already runs the scheduler (lease held by" in refusal
        assert f":{leader.pid}:".encode() in refusal  # it names the holder
        assert f":{leader.pid}:" in _lease_owner(env)
    finally:
        codes = [_stop(p) for p in procs]
    assert codes[procs.index(leader)] == 0
    assert _lease_owner(env) is None  # a clean stop gives the lease back


def test_a_killed_leaders_lease_is_taken_over_once_it_expires(env):
    env = {**env, "DESKGUARD_SCHEDULER_LEASE_SECONDS": "3"}
    first = subprocess.Popen(
        [BIN, "worker", "--threads", "1"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        wait_for_line(first, b"scheduler on, ready")
        first.send_signal(signal.SIGKILL)
        first.wait(20)
        killed_at = time.time()
        # The crashed leader gave nothing back: its lease stands until it expires ...
        assert f":{first.pid}:" in _lease_owner(env, at=killed_at)
        deadline = time.monotonic() + 20
        while _lease_owner(env) is not None:  # ... within one lease length of its last renewal
            assert time.monotonic() < deadline, "the dead leader's lease never expired"
            time.sleep(0.1)
        ledger = Ledger(env["LEDGER"])
        row = ledger.db.conn.execute("SELECT owner, expires_at FROM leader_leases").fetchone()
        ledger.close()
        assert f":{first.pid}:" in row[0] and row[1] <= killed_at + 3  # renewed until the kill
    finally:
        if first.poll() is None:
            first.kill()
    second = subprocess.Popen(
        [BIN, "worker", "--threads", "1"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        wait_for_line(second, b"scheduler on, ready")
        assert f":{second.pid}:" in _lease_owner(env)
    finally:
        assert _stop(second) == 0


def test_python_m_connector(env):
    out = subprocess.run(
        [sys.executable, "-m", "connector", "--help"], env=env, capture_output=True, timeout=60
    )
    assert out.returncode == 0 and b"Deskguard" in out.stdout


@pytest.mark.parametrize("key", [None, "definitely-not-a-key"])
@pytest.mark.parametrize("command", [["secrets", "rotate"], ["worker", "--threads", "1"]])
def test_missing_or_malformed_secret_key_fails_at_startup(env, key, command):
    env = {k: v for k, v in env.items() if k != "DESKGUARD_SECRET_KEYS"}
    if key:
        env["DESKGUARD_SECRET_KEYS"] = key
    out = subprocess.run([BIN, *command], env=env, capture_output=True, timeout=60)
    assert out.returncode != 0 and b"DESKGUARD_SECRET_KEYS" in out.stderr
    assert b"definitely-not-a-key" not in out.stderr


def test_standby_workers_run_one_scheduler_and_one_takes_over_when_the_leader_dies(env):
    """Identical `worker --standby` processes (one per machine): one schedules; when it is
    SIGKILLed, another takes the scheduler over once the dead leader's lease expires."""
    env = {**env, "DESKGUARD_SCHEDULER_LEASE_SECONDS": "3"}
    migrate(Ledger(env["LEDGER"]).db)
    procs = [
        subprocess.Popen(
            [BIN, "worker", "--threads", "1", "--standby"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    try:
        said = [wait_for_line(p, b", ready", timeout=60) for p in procs]
        states = [b"scheduler on" in s for s in said]
        assert sorted(states) == [False, True], said
        leader, standby = procs if states[0] else procs[::-1]
        assert b"scheduler standby" in said[procs.index(standby)]
        assert f":{leader.pid}:" in _lease_owner(env)
        leader.send_signal(signal.SIGKILL)
        leader.wait(20)
        wait_for_line(standby, b"took over the scheduler", timeout=60)
        assert f":{standby.pid}:" in _lease_owner(env)
    finally:
        codes = [_stop(p) for p in procs]
    assert codes[procs.index(standby)] == 0
    assert _lease_owner(env) is None
