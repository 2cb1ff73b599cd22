"""The ledger: one scheduler however the path is spelled, health that tells the truth about a
read-only or corrupted file, CLI commands that say so, and no descriptor growth under a threaded
server."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from connector.db import Ledger, migrate
from connector.scheduler import SchedulerLease
from connector.web import create_app

BIN = str(Path(sys.executable).with_name("deskguard"))


def test_a_symlinked_ledger_path_cannot_start_a_second_scheduler(tmp_path):
    real = tmp_path / "data" / "ledger.db"
    real.parent.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real.parent)
    spellings = [Ledger(str(real)), Ledger(str(link / "ledger.db")), Ledger(os.path.relpath(real))]
    migrate(spellings[0].db)
    try:
        first = SchedulerLease(spellings[0], 30)
        assert first.acquire()
        # The lease is a row in the ledger itself: however the path is spelled, it is one row.
        assert not SchedulerLease(spellings[1], 30).acquire()
        assert not SchedulerLease(spellings[2], 30).acquire()
        first.release()
        assert SchedulerLease(spellings[1], 30).acquire()
    finally:
        for ledger in spellings:
            ledger.close()


def _corrupt(path: Path) -> None:
    data = bytearray(path.read_bytes())
    for offset in range(4096 + 16, len(data), 4096):  # every page after the header page
        data[offset : offset + 64] = b"\xa5" * 64
    path.write_bytes(bytes(data))


def _read_only(path: Path) -> None:
    """chmod for ordinary users; root ignores modes, so it gets the immutable attribute."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        return
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(path)]).returncode:
        pytest.skip("cannot make a file read-only for root here (no chattr)")


def _writable(path: Path) -> None:
    if os.geteuid() == 0 and shutil.which("chattr"):
        subprocess.run(["chattr", "-i", str(path)], check=False)
    path.chmod(0o644)


@pytest.mark.sqlite_only
def test_readyz_fails_on_a_read_only_ledger(runtime, client):
    assert client.get("/readyz").status_code == 200
    runtime.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    path = Path(runtime.config.db_path)
    _read_only(path)
    try:
        res = client.get("/readyz")
    finally:
        _writable(path)
    assert res.status_code == 503
    error = res.get_json()["error"]
    assert error["code"] == "ledger_unavailable" and "cannot be written" in error["message"]
    assert client.get("/readyz").status_code == 200


@pytest.mark.sqlite_only
def test_readyz_and_cli_commands_fail_clearly_on_a_corrupted_ledger(runtime, config, cli_runner):
    runtime.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    runtime.close()
    path = Path(config["db_path"])
    _corrupt(path)
    res = create_app(config).test_client().get("/readyz")
    assert res.status_code == 503
    assert res.get_json()["error"]["code"] == "ledger_unavailable"
    env = {
        **os.environ,
        "DESKGUARD_DB_PATH": str(path),
        "DESKGUARD_TENANT_ID": "acme",
        "DESKGUARD_SECRET_KEYS": config["secret_keys"][0],
    }
    for args in (["migrate"], ["queue", "status"], ["audit", "verify"]):
        proc = subprocess.run([BIN, *args], env=env, capture_output=True, text=True, timeout=60)
        assert proc.returncode != 0, (args, proc.stdout)
        assert "Traceback" not in proc.stderr, proc.stderr
        assert "ledger" in proc.stderr and ("corrupt" in proc.stderr or "malformed" in proc.stderr)


@pytest.mark.postgres_only
def test_readyz_fails_on_a_read_only_postgresql_ledger(runtime, config):
    """A server that takes no writes (a standby, or read-only by default) is not ready."""
    assert create_app(runtime=runtime).test_client().get("/readyz").status_code == 200
    read_only = {
        **config,
        "database_url": config["database_url"] + "%20-cdefault_transaction_read_only%3Don",
    }
    res = create_app(read_only).test_client().get("/readyz")
    assert res.status_code == 503
    error = res.get_json()["error"]
    assert error["code"] == "ledger_unavailable"
    assert "default_transaction_read_only is on" in error["message"]


@pytest.mark.postgres_only
def test_cli_commands_fail_in_one_line_when_the_server_is_unreachable(config, tmp_path):
    """No server at the URL (down, wrong host): one line naming the ledger, no traceback."""
    env = {
        **os.environ,
        "DESKGUARD_DATABASE_URL": f"postgresql://deskguard@/deskguard?host={tmp_path}&connect_timeout=2",
        "DESKGUARD_BUSY_TIMEOUT_MS": "2000",
        "DESKGUARD_TENANT_ID": "acme",
        "DESKGUARD_SECRET_KEYS": config["secret_keys"][0],
    }
    for args in (["migrate"], ["queue", "status"]):
        proc = subprocess.run([BIN, *args], env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode != 0, (args, proc.stdout)
        assert "Traceback" not in proc.stderr, proc.stderr
        assert "PostgreSQL ledger cannot be reached" in proc.stderr, proc.stderr
        assert "DESKGUARD_DATABASE_URL" in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs /proc")
def test_a_threaded_server_keeps_descriptors_flat_over_2000_requests(runtime):
    server = make_server("127.0.0.1", 0, create_app(runtime=runtime), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/api/v1/tenants/acme/kill-switch"
    request = urllib.request.Request(url, headers={"Authorization": "Bearer test-admin-token"})
    try:
        for _ in range(50):  # warm up: imports, first connections
            urllib.request.urlopen(request, timeout=5).read()
        before = _fds()
        for _ in range(2000):
            urllib.request.urlopen(request, timeout=5).read()
        after = _fds()
    finally:
        server.shutdown()
    print(f"descriptors: {before} before, {after} after 2,000 requests")
    assert after - before <= 10
    assert runtime.ledger.open_connections <= 10
