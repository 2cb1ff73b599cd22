"""Wrong admin tokens are rate limited per client IP and overall, across workers, and audited
without the token."""

from __future__ import annotations

import json
import logging

import pytest

from connector import audit
from connector.dashboard import login_limit
from connector.runtime import Runtime
from connector.web import create_app

GOOD = "test-admin-token"


def login(client, token, ip="203.0.113.7", **headers):
    return client.post(
        "/admin/login", data={"token": token}, environ_base={"REMOTE_ADDR": ip}, headers=headers
    )


def api(client, token, ip="203.0.113.7"):
    return client.get(
        "/admin/api/acme/metrics",
        headers={"Authorization": f"Bearer {token}"},
        environ_base={"REMOTE_ADDR": ip},
    )


def failures(db):
    return db.conn.execute(
        "SELECT tenant_id, client_ip FROM admin_login_failures ORDER BY id"
    ).fetchall()


def age_failures(db, seconds):
    """Move every recorded failure ``seconds`` into the past (instead of sleeping through the
    window)."""
    db.conn.execute("UPDATE admin_login_failures SET ts = ts - ?", (seconds,))
    db.conn.commit()


def test_five_wrong_form_tokens_slow_that_client_down_without_comparing(client, runtime):
    for i in range(5):
        resp = login(client, f"guess-{i}")
        assert resp.status_code == 401, i
    resp = login(client, GOOD)  # inside the first wait: refused before the token is compared
    assert resp.status_code == 429
    assert resp.headers["Retry-After"] == "1"
    assert "Too many wrong admin tokens from your address" in resp.get_data(as_text=True)
    assert "Set-Cookie" not in resp.headers
    # the refused attempt was not compared, so it is not counted either
    assert len(failures(runtime.db)) == 5
    # another address is not affected
    assert login(client, GOOD, ip="198.51.100.2").status_code == 302


def test_the_wait_doubles_per_failure_and_a_good_login_clears_the_client(client, runtime):
    for i in range(5):
        login(client, f"guess-{i}")
    age_failures(runtime.db, 2)  # the 1 s wait has passed
    assert login(client, "guess-5").status_code == 401
    assert login(client, GOOD).headers["Retry-After"] == "2"
    age_failures(runtime.db, 3)
    assert login(client, "guess-6").status_code == 401
    assert login(client, GOOD).headers["Retry-After"] == "4"
    age_failures(runtime.db, 5)
    assert login(client, GOOD).status_code == 302
    assert failures(runtime.db) == []  # the good login forgot this client's failures


def test_the_wait_never_exceeds_the_window(runtime):
    config, db = runtime.config, runtime.db
    for t in range(40):
        login_limit.record_failure(db, config, "192.0.2.1", via="form", now=1000.0 + t)
    wait = login_limit.form_delay(db, config, "192.0.2.1", now=1040.0)
    assert wait == login_limit.Lockout("ip", 299)  # capped at the 300 s window after the last


def test_bearer_guesses_never_lock_out_the_correct_bearer_token(client, runtime):
    for _ in range(3):
        assert api(client, "wrong").status_code == 401
    for i in range(2):
        assert login(client, f"guess-{i}").status_code == 401
    wrong = api(client, "wrong")
    assert wrong.status_code == 429
    body = wrong.get_json()
    assert body["error"]["code"] == "too_many_attempts" and body["error"]["retry_after"] > 0
    assert wrong.headers["Retry-After"] == str(body["error"]["retry_after"])
    assert len(failures(runtime.db)) == 5  # past the limit a wrong bearer is logged, not counted
    assert api(client, GOOD).status_code == 200
    assert failures(runtime.db) == []  # the correct token cleared the client


def test_global_limit_slows_guessing_clients_but_not_a_clean_address(runtime, config):
    rt = Runtime(config | {"admin_login_global_max_failures": "8", "admin_login_max_failures": "5"})
    try:
        c = create_app(runtime=rt).test_client()
        for i in range(8):
            assert login(c, "guess", ip=f"192.0.2.{i}").status_code == 401
        # one failure from a client is now enough to make it wait
        resp = login(c, GOOD, ip="192.0.2.3")
        assert resp.status_code == 429 and resp.headers["Retry-After"] == "1"
        assert "from many addresses" in resp.get_data(as_text=True)
        # the admin at an address without failures signs in, and the bearer is never refused
        assert login(c, GOOD, ip="192.0.2.200").status_code == 302
        assert api(c, GOOD, ip="192.0.2.201").status_code == 200
        assert rt.db.conn.execute("SELECT COUNT(*) FROM admin_login_failures").fetchone()[0] == 8
    finally:
        rt.close()


def test_the_count_is_shared_by_workers_on_one_ledger(runtime, config):
    """Two apps with their own runtimes on the same SQLite file, as two gunicorn workers."""
    other = Runtime(config)
    try:
        worker_a = create_app(runtime=runtime).test_client()
        worker_b = create_app(runtime=other).test_client()
        for i in range(5):
            assert login(worker_a if i % 2 else worker_b, f"guess-{i}").status_code == 401
        assert login(worker_a, GOOD).status_code == 429
        assert login(worker_b, GOOD).status_code == 429
    finally:
        other.close()


@pytest.mark.parametrize(
    ("ip", "client"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("::ffff:198.51.100.4", "198.51.100.4"),
        ("fe80::1%eth0", "fe80::/64"),
        ("unknown", "unknown"),
    ],
)
def test_clients_are_ipv4_addresses_and_ipv6_64_prefixes(ip, client):
    assert login_limit.client_key(ip) == client


def test_failures_are_audited_without_the_token(client, runtime, caplog):
    secret_guess = "my-very-secret-guess-4711"
    with caplog.at_level(logging.INFO, logger="deskguard"):
        for _ in range(5):
            login(client, secret_guess)
        api(client, secret_guess, ip="198.51.100.9")
        login(client, secret_guess)  # 429: logged, not audited
    events = [
        r
        for r in audit.rows(runtime.db, tenant_id=login_limit.ADMIN_SCOPE)
        if r["kind"] == "admin.login_failed"
    ]
    assert [
        (
            e["data"]["client_ip"],
            e["data"]["via"],
            e["data"]["failures_from_ip"],
            e["data"]["locked"],
        )
        for e in events
    ] == [("203.0.113.7", "form", n, "ip" if n == 5 else "") for n in range(1, 6)] + [
        ("198.51.100.9", "bearer", 1, "")
    ]
    assert secret_guess not in json.dumps(list(audit.rows(runtime.db)))
    logged = " ".join(f"{r.getMessage()} {getattr(r, 'fields', '')}" for r in caplog.records)
    assert "admin.login_failed" in logged and "admin.login_rate_limited" in logged
    assert secret_guess not in logged and GOOD not in logged
    assert audit.verify(runtime.db).ok


@pytest.mark.parametrize(
    ("hops", "forwarded", "counted_as"),
    [
        (0, "1.1.1.1", "10.0.0.1"),  # no trusted proxy: the header is ignored
        (1, "1.1.1.1, 203.0.113.7", "203.0.113.7"),  # behind nginx: the address nginx saw
        (1, "", "10.0.0.1"),  # a proxy that sent nothing: the peer
        (2, "203.0.113.7, 172.16.0.5", "203.0.113.7"),  # two proxies
    ],
)
def test_client_address_behind_trusted_proxies(runtime, config, hops, forwarded, counted_as):
    rt = Runtime(config | {"trusted_proxy_hops": str(hops)})
    try:
        c = create_app(runtime=rt).test_client()
        headers = {"X-Forwarded-For": forwarded} if forwarded else {}
        login(c, "guess", ip="10.0.0.1", **headers)
        assert failures(rt.db) == [("*", counted_as)]
    finally:
        rt.close()


def test_a_client_cannot_dodge_the_limit_by_forging_forwarded_for(runtime, config):
    rt = Runtime(config | {"trusted_proxy_hops": "1"})
    try:
        c = create_app(runtime=rt).test_client()
        for i in range(5):  # each request claims a new origin; nginx appends the real one last
            login(c, "guess", ip="127.0.0.1", **{"X-Forwarded-For": f"10.9.9.{i}, 203.0.113.7"})
        assert (
            login(
                c, GOOD, ip="127.0.0.1", **{"X-Forwarded-For": "10.9.9.99, 203.0.113.7"}
            ).status_code
            == 429
        )
    finally:
        rt.close()


def test_bearer_retry_after_counts_from_the_failure_that_must_expire(runtime):
    config = runtime.config
    db = runtime.db
    for t in (1000.0, 1010.0, 1020.0, 1030.0):
        assert login_limit.record_failure(db, config, "192.0.2.1", via="form", now=t) is None
    login_limit.record_failure(db, config, "192.0.2.1", via="form", now=1040.0)
    # the first failure (t=1000) leaves the window at 1300
    lock = login_limit.bearer_lockout(db, config, "192.0.2.1", now=1041.0)
    assert lock == login_limit.Lockout("ip", 259)
    assert login_limit.bearer_lockout(db, config, "192.0.2.1", now=1299.0) == login_limit.Lockout(
        "ip", 1
    )
    assert login_limit.bearer_lockout(db, config, "192.0.2.1", now=1300.0) is None
    assert login_limit.bearer_lockout(db, config, "192.0.2.2", now=1041.0) is None


def test_admin_api_bearer_failures_share_the_limit(runtime, client):
    """The /api/v1 admin API counts wrong bearer tokens against the same limit as the sign-in
    form, and still lets the correct token through."""
    url = "/api/v1/tenants/acme/kill-switch"
    limit = runtime.config.admin_login_max_failures
    for _ in range(limit):
        assert client.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
    locked = client.get(url, headers={"Authorization": "Bearer wrong"})
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) >= 1
    assert locked.json["error"]["code"] == "too_many_attempts"
    assert client.get(url, headers={"Authorization": f"Bearer {GOOD}"}).status_code == 200
