"""Zendesk on OAuth: a self-hosted tenant end to end with tokens that expire and are refreshed
during the test, one refresh at a time across threads and processes, a 401 answered by one
refresh and a retry, the browser connect flow's refusals (state, PKCE), disconnect, the move
from an API token, and the emulator refusing API tokens."""

from __future__ import annotations

import multiprocessing
import threading
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from zendesk_support import (  # noqa: F401  (fixtures)
    TENANT,
    api_token_config,
    make_runtime,
    sandbox,
    settle,
    wait_until,
    zendesk_config,
)

from connector.db import migrate
from connector.devkit.sandbox import serve_in_thread
from connector.devkit.sandbox.zendesk import start_zendesk_sandbox
from connector.domain import DESKGUARD_MARKER
from connector.errors import PermanentError
from connector.runtime import Runtime
from connector.web import create_app
from connector.zendesk.oauth import TOKENS, load_tokens
from connector.zendesk.service import API_TOKEN, account, tenant_tokens
from connector.zendesk.setup import setup_zendesk

ADMIN = {"Authorization": "Bearer test-admin-token"}


@pytest.fixture
def short_sandbox():
    """An account whose token endpoint accepts lifetimes of a few seconds."""
    sb = start_zendesk_sandbox(
        rate_limit_per_minute=None, export_rate_limit_per_minute=None, oauth_min_expires_in=1
    )
    yield sb
    sb.stop(wait=False)


def short_lived(config, sb, **extra):
    return zendesk_config(
        config,
        sb,
        zendesk_oauth_expires_in_seconds=2,
        zendesk_oauth_refresh_expires_in_seconds=3600,
        zendesk_oauth_refresh_margin_seconds=0.5,
        **extra,
    )


def deskguard_notes(sb, ticket_id):
    return [c for c in sb.state.notes(ticket_id) if DESKGUARD_MARKER in c["body"]]


def test_a_self_hosted_tenant_runs_end_to_end_while_its_tokens_expire_and_refresh(
    config, short_sandbox
):
    sb = short_sandbox
    rt = make_runtime(short_lived(config, sb))
    sidecar = serve_in_thread(create_app(runtime=rt))
    try:
        setup_zendesk(rt, TENANT, sidecar.url)
        first = sb.state.customer_writes(
            subject="Order", body="Where is my order #1001?", name="Jane", email="jane@example.com"
        )["id"]
        settle(sb, rt)
        assert len(deskguard_notes(sb, first)) == 1
        before = sb.state.oauth.grants["refresh_token"]
        # The access token's 2 s lifetime runs out: wait for the account to say so.
        used = load_tokens(rt, rt.db, TENANT).pair.access_token
        wait_until(lambda: sb.state.oauth.authenticate(used) is None, timeout=10)
        second = sb.state.customer_writes(
            subject="Refund", body="Please refund order #1002", name="Ann", email="ann@example.com"
        )["id"]
        settle(sb, rt)
        assert len(deskguard_notes(sb, second)) == 1
        assert sb.state.oauth.grants["client_credentials"] == 1  # the first token only
        assert sb.state.oauth.grants["refresh_token"] > before
        stored = load_tokens(rt, rt.db, TENANT)
        assert stored.pair.access_token != used and stored.grant == "client_credentials"
        # Stored encrypted: the ciphertext in the ledger does not contain the token.
        [cipher] = rt.db.conn.execute(
            "SELECT ciphertext FROM secrets WHERE tenant_id = ? AND name = ?", (TENANT, TOKENS)
        ).fetchone()
        assert stored.pair.access_token not in cipher and stored.pair.refresh_token not in cipher
        # Every note is written as the user the token acts as: the client's creator.
        note = deskguard_notes(sb, second)[0]
        assert note["author_id"] == sb.state.oauth_client.user_id
    finally:
        threading.Thread(target=sidecar.stop, daemon=True).start()
        rt.close()


def test_a_401_is_answered_by_one_refresh_and_one_retry(config, sandbox):  # noqa: F811
    rt = make_runtime(zendesk_config(config, sandbox))
    try:
        desk = rt.services(TENANT).require_desk()
        assert desk.auth_kind == "oauth" and desk.get_tickets([]) == []
        sandbox.state.oauth.expire_access_tokens()  # Zendesk ends it before our clock does
        calls = len(sandbox.state.calls(path_contains="/api/v2/"))
        assert desk.current_user()["email"] == sandbox.agent_email
        statuses = [r["status"] for r in sandbox.state.calls(path_contains="/api/v2/")[calls:]]
        assert statuses == [401, 200]
        assert sandbox.state.oauth.grants["refresh_token"] == 1
    finally:
        rt.close()


def test_a_refused_refresh_token_of_a_browser_connected_tenant_asks_for_a_reconnect(
    config,
    sandbox,  # noqa: F811
):
    rt = make_runtime(zendesk_config(config, sandbox))
    try:
        tokens = tenant_tokens(rt, TENANT)
        first = tokens.current()
        tokens.allow_client_credentials = False  # as for an authorization-code tenant
        sandbox.state.oauth.refresh.clear()  # the refresh token was revoked at Zendesk
        with pytest.raises(PermanentError, match="reconnect at /connect/zendesk"):
            tokens.after_rejection(first)
    finally:
        rt.close()


def test_two_threads_that_see_a_401_refresh_once_and_share_the_new_token(
    config,
    sandbox,  # noqa: F811
):
    rt = make_runtime(zendesk_config(config, sandbox))
    try:
        old = tenant_tokens(rt, TENANT).current()
        sandbox.state.oauth.expire_access_tokens()
        # Two adapters (as in two worker threads with their own clients) and one barrier.
        sources = [tenant_tokens(rt, TENANT) for _ in range(2)]
        barrier, results = threading.Barrier(2), []

        def renew(source):
            barrier.wait()
            results.append(source.after_rejection(old))

        threads = [threading.Thread(target=renew, args=(s,)) for s in sources]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert len(results) == 2 and results[0] == results[1] != old
        assert sandbox.state.oauth.grants["refresh_token"] == 1
    finally:
        rt.close()


def _renew_in_process(cfg: dict, old: str, start, out) -> None:
    rt = Runtime(cfg)
    try:
        tokens = tenant_tokens(rt, TENANT)
        start.wait(30)
        out.put(tokens.after_rejection(old))
    finally:
        rt.close()


def test_two_processes_that_see_a_401_refresh_once(config, sandbox):  # noqa: F811
    cfg = zendesk_config(config, sandbox)
    rt = make_runtime(cfg)
    try:
        old = tenant_tokens(rt, TENANT).current()
    finally:
        rt.close()
    sandbox.state.oauth.expire_access_tokens()
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_renew_in_process, args=(cfg, old, start, out)) for _ in range(2)]
    for p in procs:
        p.start()
    start.set()
    got = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    assert got[0] == got[1] != old
    assert sandbox.state.oauth.grants["refresh_token"] == 1


# --- the browser connect flow (marketplace), driven over HTTP -------------------------------
@pytest.fixture
def market(config, sandbox):  # noqa: F811
    """A sidecar with the global OAuth client; Zendesk accounts at the sandbox's URL."""
    rt = Runtime(config)
    migrate(rt.db)
    server = serve_in_thread(create_app(runtime=rt))
    rt.config = rt.config.replace(
        public_url=server.url,
        zendesk_oauth_client_id=sandbox.state.oauth_client.identifier,
        zendesk_oauth_client_secret=sandbox.state.oauth_client.secret,
        zendesk_oauth_url_template=sandbox.url,
    )
    sandbox.state.oauth_client.redirect_uris.append(server.url + "/connect/zendesk/callback")
    yield rt, server
    threading.Thread(target=server.stop, daemon=True).start()
    rt.close()


def start_flow(server, subdomain="beta"):
    browser = requests.Session()
    started = browser.get(
        f"{server.url}/connect/zendesk?subdomain={subdomain}", headers=ADMIN, allow_redirects=False
    )
    assert started.status_code == 302, started.text
    return browser, started.headers["Location"]


def allow(authorize_url: str) -> str:
    """The admin clicks Allow on Zendesk's page; returns the callback URL Zendesk redirects to."""
    params = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
    assert params["code_challenge_method"] == "S256" and params["code_challenge"]
    page = requests.get(authorize_url)
    assert page.status_code == 200 and 'id="allow"' in page.text
    answer = requests.post(
        authorize_url.split("/oauth/")[0] + "/oauth/authorizations",
        data={**params, "decision": "allow"},
        allow_redirects=False,
    )
    return answer.headers["Location"]


def test_connect_stores_tokens_sets_up_and_disconnect_revokes_and_removes(market, sandbox):  # noqa: F811
    rt, server = market
    browser, authorize_url = start_flow(server)
    assert authorize_url.startswith(sandbox.url + "/oauth/authorizations/new?")
    done = browser.get(allow(authorize_url))
    assert done.status_code == 200 and 'data-status="connected"' in done.text
    stored = load_tokens(rt, rt.db, "beta")
    assert stored.grant == "authorization_code" and stored.pair.refresh_token
    record = account(rt.db, "beta")
    assert record["webhook_id"] in sandbox.state.webhooks
    assert record["trigger_id"] in sandbox.state.triggers
    [event] = rt.db.conn.execute(
        "SELECT data FROM audit_log WHERE tenant_id = 'beta' AND kind = 'zendesk.oauth_connected'"
    ).fetchall()
    assert "admin_token" in event[0] and sandbox.agent_email in event[0]
    # Connecting again (a second click) creates no second webhook or trigger.
    browser2, url2 = start_flow(server)
    assert browser2.get(allow(url2)).status_code == 200
    assert len(sandbox.state.webhooks) == 1 and len(sandbox.state.triggers) == 1

    gone = requests.post(f"{server.url}/connect/zendesk/disconnect?tenant=beta", headers=ADMIN)
    assert gone.status_code == 200, gone.text
    assert gone.json() == {
        "tenant": "beta",
        "token_revoked": True,
        "webhook_deleted": True,
        "trigger_deleted": True,
    }
    assert not sandbox.state.webhooks and not sandbox.state.triggers
    assert sandbox.state.oauth.authenticate(load_tokens(rt, rt.db, "beta") or stored) is None
    assert load_tokens(rt, rt.db, "beta") is None


def test_connect_refuses_a_wrong_state_a_foreign_browser_and_a_mismatched_verifier(market):
    rt, server = market
    browser, url = start_flow(server)
    callback = allow(url)
    tampered = callback.replace("state=", "state=x")
    refused = browser.get(tampered)
    assert refused.status_code == 400 and "state does not match" in refused.text
    # Another browser (no flow cookie) cannot complete someone else's flow.
    stranger = requests.get(callback)
    assert stranger.status_code == 400 and "no connect flow" in stranger.text
    # The code of flow A with the cookie (state and verifier) of flow B: Zendesk checks PKCE.
    _, a_url = start_flow(server)
    b_browser, b_url = start_flow(server)
    a_code = parse_qs(urlsplit(allow(a_url)).query)["code"][0]
    b_state = parse_qs(urlsplit(b_url).query)["state"][0]
    mixed = f"{server.url}/connect/zendesk/callback?code={a_code}&state={b_state}"
    answer = b_browser.get(mixed)
    assert answer.status_code == 400 and "invalid_grant" in answer.text
    assert load_tokens(rt, rt.db, "beta") is None


def test_connect_needs_the_admin(market):
    _, server = market
    anonymous = requests.get(f"{server.url}/connect/zendesk?subdomain=beta", allow_redirects=False)
    assert anonymous.status_code == 302 and "/admin/login" in anonymous.headers["Location"]
    wrong = requests.get(
        f"{server.url}/connect/zendesk?subdomain=beta",
        headers={"Authorization": "Bearer nope"},
        allow_redirects=False,
    )
    assert wrong.status_code == 401
    bad = requests.get(f"{server.url}/connect/zendesk?subdomain=../x", headers=ADMIN)
    assert bad.status_code == 400


# --- API tokens: the deprecated fallback ------------------------------------------------------
def test_migrate_auth_keeps_webhook_cursor_and_settings_and_drops_the_api_token(
    config,
    sandbox,  # noqa: F811
):
    from connector import tenants
    from connector.zendesk.poller import poll_state, poll_tenant
    from connector.zendesk.service import migrate_to_oauth

    rt = make_runtime(api_token_config(config, sandbox))
    try:
        setup_zendesk(rt, TENANT, "https://deskguard.example.com")
        sandbox.state.customer_writes(subject="S", body="B", name="J", email="j@example.com")
        poll_tenant(rt, TENANT)
        before = (account(rt.db, TENANT), poll_state(rt.db, TENANT))
        mode = tenants.get_setting(rt.db, TENANT, "default_mode")
        # A dedicated admin creates the OAuth client: Deskguard now writes as that admin.
        bot = sandbox.state.add_user("Deskguard OAuth", "oauth-bot@example.com", role="admin")
        client = sandbox.state.oauth.add_client("deskguard-selfhost", user_id=bot["id"])
        rt.config = rt.config.replace(
            zendesk_oauth_client_id=client.identifier, zendesk_oauth_client_secret=client.secret
        )
        out = migrate_to_oauth(rt, TENANT)
        assert out["api_token_deleted"] and out["api_user"]["id"] == bot["id"]
        assert out["former_api_user_ids"] == [sandbox.state.agent["id"]]
        after = account(rt.db, TENANT)
        assert (after["webhook_id"], after["trigger_id"]) == (
            before[0]["webhook_id"],
            before[0]["trigger_id"],
        )
        assert poll_state(rt.db, TENANT)["cursor"] == before[1]["cursor"]
        assert tenants.get_setting(rt.db, TENANT, "default_mode") == mode
        assert rt.secrets.get(rt.db, TENANT, API_TOKEN) is None
        desk = rt.services(TENANT).require_desk()
        assert desk.auth_kind == "oauth"
        assert desk.former_api_user_ids == {sandbox.state.agent["id"]}
    finally:
        rt.close()


def test_the_emulator_can_refuse_api_tokens_as_zendesk_will_from_30_april_2027(
    config,
    sandbox,  # noqa: F811
):
    rt = make_runtime(api_token_config(config, sandbox))
    try:
        desk = rt.services(TENANT).require_desk()
        assert desk.auth_kind == "api_token" and desk.get_tickets([]) == []
        sandbox.state.refuse_api_tokens = True
        with pytest.raises(PermanentError) as caught:
            desk.current_user()
        assert caught.value.status == 401
    finally:
        rt.close()


def test_config_check_warns_about_api_tokens_with_the_date(cli_runner, tmp_path, secret_key):
    import json

    from connector.cli import cli

    env = {
        "DESKGUARD_DB_PATH": str(tmp_path / "c.db"),
        "DESKGUARD_SECRET_KEYS": secret_key,
        "DESKGUARD_ZENDESK_API_TOKEN": "legacy",
    }
    out = json.loads(cli_runner.invoke(cli, ["config", "check", "--json"], env=env, obj={}).output)
    assert any("30 April 2027" in w for w in out["warnings"])
    env["DESKGUARD_ZENDESK_OAUTH_CLIENT_ID"] = "deskguard"
    out = json.loads(cli_runner.invoke(cli, ["config", "check", "--json"], env=env, obj={}).output)
    assert out["warnings"] == []


def test_the_token_endpoint_speaks_zendesks_errors(sandbox):  # noqa: F811
    url = sandbox.url + "/oauth/tokens"
    client = sandbox.state.oauth_client
    base = {"client_id": client.identifier, "client_secret": client.secret}
    cases = [
        ({**base, "grant_type": "password"}, 400, "unsupported_grant_type"),
        ({**base, "grant_type": "refresh_token", "refresh_token": "nope"}, 400, "invalid_grant"),
        ({**base, "grant_type": "client_credentials", "client_secret": "x"}, 401, "invalid_client"),
        ({**base, "grant_type": "client_credentials", "expires_in": 60}, 400, "invalid_request"),
    ]
    for body, status, error in cases:
        answer = requests.post(url, json=body)
        assert (answer.status_code, answer.json()["error"]) == (status, error), body
    started = time.monotonic()
    ok = requests.post(url, json={**base, "grant_type": "client_credentials", "scope": "read"})
    assert ok.status_code == 200 and time.monotonic() - started < 5
    token = ok.json()["access_token"]
    write = requests.post(
        sandbox.url + "/api/v2/tickets.json",
        json={"ticket": {"subject": "x", "comment": {"body": "y"}}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert write.status_code == 403  # a read-only token cannot write
