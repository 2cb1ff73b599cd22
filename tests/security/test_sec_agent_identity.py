"""An agent cannot act as anyone else from the side panel.

Attacks against the real flow: the Zendesk emulator signs panel launches with its own RSA key per
app installation and serves the public key where Zendesk does; the sidecar fetches it with the
tenant's Zendesk credentials (OAuth) over HTTP. Every refused launch is 401; every refused action
403 and leaves the kill switch, the approval, the feedback rows and the audit trail as they were.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import time

import jwt
import pytest
import zendesk_support
from cryptography.hazmat.primitives.asymmetric import rsa
from panel_support import (
    TENANT,
    add_decision,
    agent_headers,
    install_app_for,
    launch_session,
    session_from_page,
    signed_launch,
)

from connector import audit, tenants
from connector.commerce import approvals
from connector.devkit.sandbox.zendesk.app_signing import launch_claims, signing
from connector.panel import sessions
from connector.panel.auth import issue_token
from connector.panel.web import public_keys
from connector.tenants import ensure_tenant, set_setting
from connector.web import create_app

sandbox, zd_runtime = zendesk_support.sandbox, zendesk_support.zd_runtime


@pytest.fixture
def app(zd_runtime):
    return create_app(runtime=zd_runtime)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def inst(zd_runtime, sandbox):
    return install_app_for(zd_runtime, sandbox)


@pytest.fixture
def people(sandbox, zd_runtime):
    state = sandbox.state
    return {
        "agent": state.add_user("Ana Agent", "ana@shop.example", role="agent")["id"],
        "other": state.add_user("Bo Agent", "bo@shop.example", role="agent")["id"],
        "admin": state.add_user("Ada Admin", "ada@shop.example", role="admin")["id"],
        "api_user": int(zd_runtime.services(TENANT).require_desk().api_user_id),
    }


@pytest.fixture
def token(zd_runtime):
    return issue_token(zd_runtime.db, TENANT)[1]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_made(header: dict, claims: dict, sign) -> str:
    """A JWT built by hand (PyJWT refuses to make the malicious ones)."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64(sign(signing_input.encode()))}"


def launch(client, token: str):
    return client.post("/panel/app?origin=x&app_guid=y", data={"token": token})


# --- forged and misaddressed launches: 401 -------------------------------------------------------
def forgeries(sandbox, inst, user_id) -> dict[str, str]:
    state = sandbox.state
    claims = launch_claims(state, inst["id"], user_id)
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    real_key = signing(state).private_key(inst["app_id"])
    public_pem = signing(state).public_pem(inst["app_id"])
    other = state.install_app({"sidecar_url": "http://127.0.0.1:1"}, app_id=515151)
    host = claims["iss"]
    return {
        "forged (another RSA key)": jwt.encode(claims, other_key, algorithm="RS256"),
        "expired": jwt.encode(
            {**claims, "iat": claims["iat"] - 3600, "nbf": claims["iat"] - 3600}
            | {"exp": claims["iat"] - 3000},
            real_key,
            algorithm="RS256",
        ),
        "issued in the future": jwt.encode(
            {**claims, "iat": claims["iat"] + 3600, "exp": claims["exp"] + 3600},
            real_key,
            algorithm="RS256",
        ),
        "wrong audience": jwt.encode(
            {**claims, "aud": "https://deskguard.example.com/panel/app"}, real_key, "RS256"
        ),
        "another installation (its own key and audience)": jwt.encode(
            {**claims, "aud": state.url(f"apps/installations/{other['id']}.json")},
            signing(state).private_key(other["app_id"]),
            algorithm="RS256",
        ),
        "another installation's audience, our key": jwt.encode(
            {**claims, "aud": state.url(f"apps/installations/{other['id']}.json")},
            real_key,
            algorithm="RS256",
        ),
        "another account (issuer)": jwt.encode(
            {**claims, "iss": "evil.zendesk.com"}, real_key, algorithm="RS256"
        ),
        "issuer of our account, audience of another": jwt.encode(
            {**claims, "aud": f"https://evil.zendesk.com/api/v2/apps/installations/{inst['id']}"},
            real_key,
            algorithm="RS256",
        ),
        "alg=none": hand_made({"alg": "none", "typ": "JWT"}, claims, lambda _: b""),
        "alg=None, PyJWT's own": jwt.encode(claims, None, algorithm="none"),
        "HS256 keyed with the public key PEM": hand_made(
            {"alg": "HS256", "typ": "JWT"},
            claims,
            lambda data: hmac.new(public_pem, data, hashlib.sha256).digest(),
        ),
        "RS512 with the real key": jwt.encode(claims, real_key, algorithm="RS512"),
        "sub of another account": jwt.encode(
            {**claims, "sub": f"https://evil.zendesk.com/api/v2/users/{user_id}.json"},
            real_key,
            algorithm="RS256",
        ),
        "sub that is not a user": jwt.encode(
            {**claims, "sub": f"https://{host}/api/v2/groups/1.json"}, real_key, "RS256"
        ),
        "no exp": jwt.encode({k: v for k, v in claims.items() if k != "exp"}, real_key, "RS256"),
        "no aud": jwt.encode({k: v for k, v in claims.items() if k != "aud"}, real_key, "RS256"),
        "payload edited after signing": _tampered(
            jwt.encode(claims, real_key, algorithm="RS256"), {"sub": claims["sub"] + "0"}
        ),
        "not a JWT": "hello",
        "empty": "",
        "huge": "a." * 10_000,
    }


def _tampered(token: str, changes: dict) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return f"{header}.{b64(json.dumps({**claims, **changes}).encode())}.{signature}"


def test_every_forged_stale_or_misaddressed_launch_is_401(client, sandbox, inst, people):
    attempts = forgeries(sandbox, inst, people["admin"])
    outcomes = {name: launch(client, token) for name, token in attempts.items()}
    wrong = {name: r.status_code for name, r in outcomes.items() if r.status_code != 401}
    assert wrong == {}
    for name, resp in outcomes.items():
        body = resp.get_data(as_text=True)
        assert "deskguard-session" not in body, name
        assert attempts[name][:40] not in body or not attempts[name], name
    # the genuine launch of the same admin works
    assert launch_session(client, sandbox, inst["id"], people["admin"])


def test_a_launch_for_an_unconfigured_installation_is_503_not_500(
    client, zd_runtime, sandbox, people
):
    inst = sandbox.state.install_app({"sidecar_url": "http://127.0.0.1:1"})
    resp = signed_launch(client, sandbox, inst["id"], people["agent"])
    assert resp.status_code == 503
    assert resp.get_json()["error"]["code"] == "launch_unavailable"


def test_key_fetch_failures_are_503_and_never_500(client, zd_runtime, sandbox, inst, people):
    # Zendesk answers 503 for longer than the adapter retries (zenpy retries 5xx three times).
    sandbox.state.fail_next.extend([(503, "ServiceUnavailable")] * 10)
    resp = signed_launch(client, sandbox, inst["id"], people["agent"])
    assert resp.status_code == 503 and "public key" in resp.get_json()["error"]["message"]
    sandbox.state.fail_next.clear()
    set_setting(
        zd_runtime.db, TENANT, "app_public_key_url", "http://127.0.0.1:9/none.pem", actor="t"
    )
    resp = signed_launch(client, sandbox, inst["id"], people["agent"])
    assert resp.status_code == 503
    set_setting(
        zd_runtime.db, TENANT, "app_public_key_url", sandbox.url + "/api/v2/users/me", actor="t"
    )
    assert signed_launch(client, sandbox, inst["id"], people["agent"]).status_code == 503


def test_the_key_is_cached_rotation_is_picked_up_and_forgeries_cannot_force_fetches(
    app, client, sandbox, inst, people
):
    keys = public_keys(app)
    now = [1000.0]
    keys.clock = lambda: now[0]
    assert launch_session(client, sandbox, inst["id"], people["agent"])
    assert launch_session(client, sandbox, inst["id"], people["agent"])
    assert keys.fetches == 1
    forged = forgeries(sandbox, inst, people["agent"])["forged (another RSA key)"]
    for _ in range(20):
        assert launch(client, forged).status_code == 401
    assert keys.fetches == 1  # the key is younger than a minute: no refetch
    now[0] += 61
    signing(sandbox.state).rotate(inst["app_id"])  # Zendesk rotates the app's key
    assert launch_session(client, sandbox, inst["id"], people["agent"])
    assert keys.fetches == 2
    for _ in range(20):
        assert launch(client, forged).status_code == 401
    assert keys.fetches == 2


# --- an agent claiming someone else: 403, nothing changes -----------------------------------------
def ledger_state(db):
    return {
        "kill_switch": tenants.kill_switch_on(db, TENANT),
        "approvals": [(a.id, a.state, a.decided_by) for a in approvals.list_approvals(db, TENANT)],
        "feedback": db.conn.execute(
            "SELECT agent_id, verdict, correct_category FROM feedback ORDER BY id"
        ).fetchall(),
        "audit": [
            (r["kind"], r["data"])
            for r in audit.rows(db, tenant_id=TENANT)
            if r["kind"] != "app.permission_denied"
        ],
    }


def propose_refund(db):
    return approvals.propose(
        db,
        TENANT,
        21,
        "refund",
        {
            "payment_intent": "pi_1",
            "amount": 1500,
            "currency": "eur",
            "reason": "requested_by_customer",
        },
        "policy:refund_rule",
        "damaged item",
    )


@pytest.mark.parametrize("claimed", ["admin", "api_user"])
def test_an_agent_claiming_an_admin_or_the_api_user_changes_nothing(
    client, zd_runtime, sandbox, inst, people, token, claimed
):
    db = zd_runtime.db
    add_decision(db, TENANT, 21)
    approval = propose_refund(db)
    admin_session = launch_session(client, sandbox, inst["id"], people["admin"])
    url_fb = f"/panel/api/{TENANT}/tickets/21/feedback"
    admin_fb = client.post(
        url_fb, headers=agent_headers(token, session=admin_session), json={"verdict": "right"}
    )
    assert admin_fb.status_code == 201
    before = ledger_state(db)

    session = launch_session(client, sandbox, inst["id"], people["agent"])
    claimed_id = str(people[claimed])
    forged = agent_headers(token, agent_id=claimed_id, role="admin", session=session)
    kill = client.post(f"/panel/api/{TENANT}/kill-switch", headers=forged, json={"on": True})
    approve = client.post(f"/panel/api/{TENANT}/approvals/{approval.id}/approve", headers=forged)
    reject = client.post(f"/panel/api/{TENANT}/approvals/{approval.id}/reject", headers=forged)
    assert (kill.status_code, approve.status_code, reject.status_code) == (403, 403, 403)
    perms = client.get(f"/panel/api/{TENANT}/permissions", headers=forged).get_json()["agent"]
    assert perms["id"] == str(people["agent"]) and perms["role"] == "agent"
    assert not perms["can_approve"] and not perms["can_kill_switch"]
    assert ledger_state(db) == before

    # Feedback lands under the agent's own id: the admin's verdict is untouched.
    fb = client.post(url_fb, headers=forged, json={"correct_category": "shipping_problem"})
    assert fb.status_code == 201
    rows = db.conn.execute("SELECT agent_id, verdict FROM feedback ORDER BY id").fetchall()
    assert rows == [(str(people["admin"]), "right"), (str(people["agent"]), "wrong")]
    denied = [
        r["data"] for r in audit.rows(db, tenant_id=TENANT) if r["kind"] == "app.permission_denied"
    ]
    assert denied and {d["agent_id"] for d in denied} == {str(people["agent"])}
    assert claimed_id not in json.dumps(denied)
    feedback_audit = [r["data"] for r in audit.rows(db, tenant_id=TENANT)][-1]
    assert feedback_audit["agent_id"] == str(people["agent"])


def test_the_api_user_itself_can_never_act(client, zd_runtime, sandbox, inst, people, token):
    db = zd_runtime.db
    add_decision(db, TENANT, 21)
    approval = propose_refund(db)
    before = ledger_state(db)
    # Someone signed in to Zendesk as Deskguard's own user (an admin) opens the panel.
    session = launch_session(client, sandbox, inst["id"], people["api_user"])
    headers = agent_headers(token, session=session)
    assert (
        client.post(
            f"/panel/api/{TENANT}/kill-switch", headers=headers, json={"on": True}
        ).status_code
        == 403
    )
    assert (
        client.post(
            f"/panel/api/{TENANT}/approvals/{approval.id}/approve", headers=headers
        ).status_code
        == 403
    )
    assert (
        client.post(
            f"/panel/api/{TENANT}/tickets/21/feedback", headers=headers, json={"verdict": "right"}
        ).status_code
        == 403
    )
    assert client.get(f"/panel/api/{TENANT}/permissions", headers=headers).status_code == 403
    assert ledger_state(db) == before


def test_200_invented_ids_and_sessions_are_all_refused(
    client, zd_runtime, sandbox, inst, people, token
):
    rng = random.Random(12)
    agent_session = launch_session(client, sandbox, inst["id"], people["agent"])
    before = ledger_state(zd_runtime.db)
    url = f"/panel/api/{TENANT}/kill-switch"
    accepted = 0
    statuses: dict[int, int] = {}
    for i in range(200):
        invented = str(rng.randrange(1, 10**12))
        no_session = client.post(
            url, headers=agent_headers(token, agent_id=invented), json={"on": True}
        )
        with_agent = client.post(
            url,
            headers=agent_headers(token, agent_id=invented, session=agent_session),
            json={"on": True},
        )
        forged_session = client.post(
            url,
            headers=agent_headers(token, agent_id=invented, session=f"{invented}.x{i}.y"),
            json={"on": True},
        )
        for resp in (no_session, with_agent, forged_session):
            statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1
            accepted += resp.status_code < 400
    assert accepted == 0
    assert statuses == {401: 400, 403: 200}
    assert ledger_state(zd_runtime.db) == before


# --- sessions are bound to the tenant and the installation ----------------------------------------
def test_a_session_of_tenant_a_is_refused_on_tenant_b(client, zd_runtime, sandbox, inst, people):
    db = zd_runtime.db
    ensure_tenant(db, "globex", source="test", zendesk_url="https://globex.zendesk.com")
    set_setting(db, "globex", "app_installation_id", str(inst["id"]), actor="test")
    token_b = issue_token(db, "globex")[1]
    session_a = launch_session(client, sandbox, inst["id"], people["admin"])
    for path in ("/panel/api/me", "/panel/api/globex/permissions"):
        resp = client.get(path, headers=agent_headers(token_b, session=session_a))
        assert resp.status_code == 401, path
    resp = client.post(
        "/panel/api/globex/kill-switch",
        headers=agent_headers(token_b, session=session_a),
        json={"on": True},
    )
    assert resp.status_code == 401 and not tenants.kill_switch_on(db, "globex")
    # a session naming tenant B but signed with tenant A's key does not verify either
    forged = sessions._serializer(zd_runtime.config, TENANT).dumps(
        {"t": "globex", "i": str(inst["id"]), "a": str(people["admin"]), "n": ""}
    )
    resp = client.get("/panel/api/me", headers=agent_headers(token_b, session=forged))
    assert resp.status_code == 401


def test_a_session_dies_with_its_installation_and_its_lifetime(
    client, zd_runtime, sandbox, inst, people, token, monkeypatch
):
    session = launch_session(client, sandbox, inst["id"], people["admin"])
    me = client.get("/panel/api/me", headers=agent_headers(token, session=session))
    assert me.get_json()["agent"] == {"id": str(people["admin"]), "name": "", "verified": True}
    set_setting(zd_runtime.db, TENANT, "app_installation_id", "424243", actor="reinstall")
    assert (
        client.get("/panel/api/me", headers=agent_headers(token, session=session)).status_code
        == 401
    )
    set_setting(zd_runtime.db, TENANT, "app_installation_id", str(inst["id"]), actor="t")
    assert (
        client.get("/panel/api/me", headers=agent_headers(token, session=session)).status_code
        == 200
    )
    later = time.time() + float(zd_runtime.config.app_session_minutes) * 60 + 5
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: later)
    expired = client.get("/panel/api/me", headers=agent_headers(token, session=session))
    assert expired.status_code == 401
    assert expired.get_json()["error"]["code"] == "session_expired"


def test_the_launch_page_carries_the_session_and_no_token(client, sandbox, inst, people):
    resp = signed_launch(client, sandbox, inst["id"], people["agent"])
    html = resp.get_data(as_text=True)
    assert resp.headers["Cache-Control"] == "no-store"
    assert session_from_page(html) and "dgapp_" not in html
    assert "frame-ancestors" in resp.headers["Content-Security-Policy"]
