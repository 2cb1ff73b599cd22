"""The long-running commands: `serve` (gunicorn), `worker` (+ the one-process scheduler lock)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from cryptography.fernet import Fernet
from helpers.processes import wait_for_line

from connector.scheduler import SchedulerLock

BIN = os.path.join(os.path.dirname(sys.executable), "deskguard")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def env(tmp_path):
    return {
        **os.environ,
        "DESKGUARD_DB_PATH": str(tmp_path / "p.db"),
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
        wait_for_line(first, b"scheduler on, ready")  # the worker's readiness line
        assert os.path.exists(f"{tmp_path / 'p.db'}.scheduler.lock")
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


def test_scheduler_lock_is_exclusive(tmp_path):
    a, b = SchedulerLock(str(tmp_path / "x.db")), SchedulerLock(str(tmp_path / "x.db"))
    assert a.acquire() and not b.acquire()
    a.release()
    assert b.acquire()
    b.release()


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
