"""The admin can always get in: guessers cannot lock the correct token out of the kill switch
or the approvals API, in the Flask app and under gunicorn (several workers, one ledger)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from cryptography.fernet import Fernet

GOOD = "test-admin-token"
SLASH64 = "2001:db8:77:1"


def kill_switch_v1(client, token, ip, on=False):
    return client.post(
        "/api/v1/tenants/acme/kill-switch",
        json={"on": on, "reason": "security test"},
        headers={"Authorization": f"Bearer {token}"},
        environ_base={"REMOTE_ADDR": ip},
    )


def kill_switch_admin(client, token, ip, on=False):
    return client.post(
        "/admin/api/acme/kill-switch",
        json={"on": on, "reason": "security test"},
        headers={"Authorization": f"Bearer {token}"},
        environ_base={"REMOTE_ADDR": ip},
    )


def approvals_v1(client, token, ip):
    return client.get(
        "/api/v1/tenants/acme/approvals",
        headers={"Authorization": f"Bearer {token}"},
        environ_base={"REMOTE_ADDR": ip},
    )


def form_login(client, token, ip):
    return client.post("/admin/login", data={"token": token}, environ_base={"REMOTE_ADDR": ip})


def test_50_wrong_bearers_from_one_ipv6_64_then_the_correct_token_gets_200(client, runtime):
    statuses = [
        kill_switch_v1(client, f"guess-{i}", f"{SLASH64}::{i + 1:x}").status_code for i in range(50)
    ]
    # one /64 is one client: after its 5 counted failures the rest answer 429
    assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}
    counted = runtime.db.conn.execute("SELECT COUNT(*) FROM admin_login_failures").fetchone()[0]
    assert counted == 5  # the flood past the limit adds no rows (and no audit rows)
    # the correct token, from inside the same /64 and from elsewhere, on every admin API
    for ip in (f"{SLASH64}::ffff", "2001:db8:99::1", "203.0.113.9"):
        assert kill_switch_v1(client, GOOD, ip, on=True).status_code == 200, ip
        assert kill_switch_admin(client, GOOD, ip, on=False).status_code == 200, ip
        assert approvals_v1(client, GOOD, ip).status_code == 200, ip


def test_50_wrong_bearers_from_50_different_64s_then_the_correct_token_gets_200(client):
    for i in range(50):
        assert kill_switch_v1(client, "guess", f"2001:db8:{i:x}::1").status_code == 401
    assert kill_switch_v1(client, GOOD, "2001:db8:ffff::1", on=True).status_code == 200
    assert kill_switch_admin(client, GOOD, "198.51.100.1").status_code == 200


def test_5_wrong_form_logins_then_the_correct_bearer_on_both_apis_and_the_form_only_slowed(
    client, runtime
):
    ip = "203.0.113.7"
    for i in range(5):
        assert form_login(client, f"guess-{i}", ip).status_code == 401
    assert kill_switch_v1(client, GOOD, ip, on=True).status_code == 200
    assert kill_switch_admin(client, GOOD, ip, on=False).status_code == 200
    assert approvals_v1(client, GOOD, ip).status_code == 200
    # the correct bearer cleared the client; guess again and try the form with the right token
    for i in range(5):
        form_login(client, f"guess-{i}", ip)
    slowed = form_login(client, GOOD, ip)
    assert slowed.status_code == 429 and slowed.headers["Retry-After"] == "1"
    # one second later (the failures moved into the past instead of sleeping) it works
    runtime.db.conn.execute("UPDATE admin_login_failures SET ts = ts - 1.5")
    runtime.db.conn.commit()
    assert form_login(client, GOOD, ip).status_code == 302


# --- the same under gunicorn: two workers, limiter state in the ledger --------------------------
BIN = os.path.join(os.path.dirname(sys.executable), "deskguard")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _request(url, *, method="GET", token=None, forwarded=None, form=None, body=None):
    headers = {}
    data = None
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if forwarded:
        headers["X-Forwarded-For"] = forwarded
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, headers=headers, method=method)

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(req, timeout=10) as res:
            return res.status, dict(res.headers)
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers)


@pytest.fixture
def served(tmp_path, config):
    port = _free_port()
    env = {
        **os.environ,
        "DESKGUARD_DB_PATH": str(tmp_path / "g.db"),
        "DESKGUARD_DATABASE_URL": config["database_url"],  # the engine of the run
        "DESKGUARD_TENANT_ID": "acme",
        "DESKGUARD_SECRET_KEYS": Fernet.generate_key().decode(),
        "DESKGUARD_ADMIN_TOKEN": GOOD,
        "DESKGUARD_TRUSTED_PROXY_HOPS": "1",  # as behind nginx: the client is in X-Forwarded-For
        "DESKGUARD_LOG_FORMAT": "json",
    }
    proc = subprocess.Popen(
        [BIN, "serve", "--port", str(port), "--workers", "2", "--threads", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=1):
                break
        except OSError:
            if proc.poll() is not None:
                pytest.fail("deskguard serve exited")
            time.sleep(0.1)
    else:
        pytest.fail("deskguard serve never answered /readyz")
    yield base
    proc.send_signal(signal.SIGTERM)
    proc.wait(20)


@pytest.mark.slow
def test_under_gunicorn_guessers_cannot_lock_out_the_correct_token(served):
    base = served
    ks_v1 = f"{base}/api/v1/tenants/acme/kill-switch"
    ks_admin = f"{base}/admin/api/acme/kill-switch"
    codes = [
        _request(ks_v1, method="POST", token=f"g{i}", forwarded=f"{SLASH64}::{i + 1:x}", body={})[0]
        for i in range(50)
    ]
    assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}  # counted across both workers
    on = {"on": True, "reason": "security test"}
    assert _request(ks_v1, method="POST", token=GOOD, forwarded=f"{SLASH64}::1", body=on)[0] == 200
    # 5 wrong form logins from one address, then the correct bearer on both APIs from it
    ip = "203.0.113.7"
    for i in range(5):
        assert (
            _request(f"{base}/admin/login", method="POST", forwarded=ip, form={"token": i})[0]
            == 401
        )
    off = {"on": False, "reason": "security test"}
    assert _request(ks_v1, method="POST", token=GOOD, forwarded=ip, body=off)[0] == 200
    assert _request(ks_admin, method="POST", token=GOOD, forwarded=ip, body=off)[0] == 200
    # the form with the correct token, from a client that guessed: slowed, never locked out
    for i in range(5):
        _request(f"{base}/admin/login", method="POST", forwarded=ip, form={"token": i})
    status, headers = _request(
        f"{base}/admin/login", method="POST", forwarded=ip, form={"token": GOOD}
    )
    assert status == 429 and headers["Retry-After"] == "1"
    deadline = time.time() + 10
    while time.time() < deadline:  # poll for the end of the 1 s wait the server announced
        status, headers = _request(
            f"{base}/admin/login", method="POST", forwarded=ip, form={"token": GOOD}
        )
        if status != 429:
            break
        time.sleep(0.2)
    assert status == 302 and "deskguard_admin=" in headers.get("Set-Cookie", "")
