"""Side panel permissions follow the role Zendesk reports, not the role the browser claims.

Integration: the real zenpy adapter against the Zendesk sandbox over HTTP. The agent's browser
claims an id and a role in X-Deskguard-Agent-* headers; the sidecar looks the id up in Zendesk
(``GET /api/v2/users/{id}.json``) before approving, rejecting or flipping the kill switch.
Stripe is not what these tests are about: where an approval would refund, the ``stripe`` service
is a small in-memory fake of our PaymentActions port that records what it was asked.
"""

from __future__ import annotations

import json

import pytest
from panel_support import (
    TENANT,
    add_decision,
    agent_headers,
    install_app_for,
    launch_session,
    panel_session,
)
from zendesk_support import make_runtime, zendesk_config

from adapters.zendesk import ZendeskDesk
from connector import audit, tenants
from connector.commerce import approvals
from connector.devkit.fakes import inject
from connector.devkit.sandbox.zendesk import start_zendesk_sandbox
from connector.domain import DeskUser
from connector.errors import PermanentError
from connector.panel.auth import issue_token
from connector.panel.identity import RoleCache
from connector.panel.web import ROLE_CACHE
from connector.web import create_app


@pytest.fixture
def sandbox():
    sb = start_zendesk_sandbox(rate_limit_per_minute=None, export_rate_limit_per_minute=None)
    yield sb
    sb.stop(wait=False)


@pytest.fixture
def zd_runtime(config, sandbox):
    rt = make_runtime(zendesk_config(config, sandbox))
    yield rt
    rt.close()


@pytest.fixture
def people(sandbox):
    """Zendesk users of the account: an admin, an agent, a suspended admin, an end-user, a team
    lead."""
    state = sandbox.state
    lead_role = state.add_custom_role("Team Lead")
    users = {
        "admin": state.add_user("Ada Admin", "ada@shop.example", role="admin"),
        "agent": state.add_user("Ana Agent", "ana@shop.example", role="agent"),
        "suspended": state.add_user("Sam Suspended", "sam@shop.example", role="admin"),
        "customer": state.add_user("Cora Customer", "cora@example.com", role="end-user"),
        "lead": state.add_user(
            "Lee Lead", "lee@shop.example", role="agent", custom_role_id=lead_role["id"]
        ),
    }
    state.update_user(users["suspended"]["id"], suspended=True)
    return {name: str(u["id"]) for name, u in users.items()}


@pytest.fixture
def app(zd_runtime):
    return create_app(runtime=zd_runtime)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def token(zd_runtime):
    return issue_token(zd_runtime.db, TENANT)[1]


@pytest.fixture(autouse=True)
def inst(zd_runtime, sandbox):
    """The Deskguard app installed in the emulated account; the sidecar knows its ids."""
    return install_app_for(zd_runtime, sandbox)


@pytest.fixture
def launched(client, sandbox, inst, token):
    """Headers of an agent who opened the panel through Zendesk's signed launch (plus whatever
    the browser claims, which is ignored)."""

    def headers(agent_id: str, **claimed) -> dict[str, str]:
        session = launch_session(client, sandbox, inst["id"], int(agent_id))
        return agent_headers(token, agent_id=agent_id, session=session, **claimed)

    return headers


class RecordingStripe:
    def __init__(self):
        self.refunds = []

    def refund(self, **kwargs):
        self.refunds.append(kwargs)
        raise AssertionError("no refund may be sent in these tests")

    def find_refund(self, **kwargs):
        return None


def user_lookups(sandbox) -> list[str]:
    return [
        c["path"]
        for c in sandbox.state.calls("GET", "/api/v2/users/")
        if "/users/me" not in c["path"]
    ]


def propose_refund(db, ticket_id=21):
    return approvals.propose(
        db,
        TENANT,
        ticket_id,
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


def test_adapter_reads_users_and_custom_roles(zd_runtime, sandbox, people):
    desk: ZendeskDesk = zd_runtime.services(TENANT).require_desk()
    admin = desk.get_user(int(people["admin"]))
    assert admin == DeskUser(
        id=int(people["admin"]),
        role="admin",
        name="Ada Admin",
        active=True,
        suspended=False,
        custom_role_id=None,
        custom_role_name="",
        role_type=4,
    )
    lead = desk.get_user(int(people["lead"]))
    assert (lead.role, lead.custom_role_name, lead.is_staff) == ("agent", "Team Lead", True)
    assert desk.get_user(int(people["suspended"])).is_staff is False
    assert desk.get_user(int(people["customer"])).is_staff is False
    with pytest.raises(PermanentError) as err:
        desk.get_user(999_999)
    assert err.value.status == 404


def test_claimed_admin_who_is_an_agent_cannot_approve_or_flip_the_kill_switch(
    client, zd_runtime, token, people, launched
):
    a = propose_refund(zd_runtime.db)
    forged = launched(people["agent"], role="admin", name="Ana Agent")
    me = client.get(f"/panel/api/{TENANT}/permissions", headers=forged).get_json()["agent"]
    assert (me["role"], me["can_approve"], me["can_kill_switch"]) == ("agent", False, False)
    for action in ("approve", "reject"):
        resp = client.post(f"/panel/api/{TENANT}/approvals/{a.id}/{action}", headers=forged)
        assert resp.status_code == 403, action
        assert resp.get_json()["error"]["code"] == "forbidden"
    resp = client.post(f"/panel/api/{TENANT}/kill-switch", headers=forged, json={"on": True})
    assert resp.status_code == 403
    assert approvals.get(zd_runtime.db, TENANT, a.id).state == "proposed"
    assert tenants.kill_switch_on(zd_runtime.db, TENANT) is False
    denied = [
        r["data"]
        for r in audit.rows(zd_runtime.db, tenant_id=TENANT)
        if r["kind"] == "app.permission_denied"
    ]
    assert [(d["action"], d["claimed_role"], d["zendesk_role"]) for d in denied] == [
        ("approve", "", "agent"),
        ("approve", "", "agent"),
        ("kill_switch", "", "agent"),
    ]


def test_a_real_admin_can_reject_approve_and_flip_the_kill_switch(
    client, zd_runtime, token, people, launched
):
    stripe = RecordingStripe()
    inject(zd_runtime, payments=stripe)
    admin = launched(people["admin"], role="agent")  # the claimed role plays no part
    first, second = propose_refund(zd_runtime.db, 21), propose_refund(zd_runtime.db, 22)
    resp = client.post(
        f"/panel/api/{TENANT}/approvals/{first.id}/reject", headers=admin, json={"note": "no"}
    )
    assert resp.status_code == 200
    assert approvals.get(zd_runtime.db, TENANT, first.id).decided_by == f"agent:{people['admin']}"

    resp = client.post(f"/panel/api/{TENANT}/kill-switch", headers=admin, json={"on": True})
    assert resp.status_code == 200 and resp.get_json() == {"kill_switch": True}
    # approved under the kill switch: recorded and deferred, nothing is sent to Stripe
    resp = client.post(f"/panel/api/{TENANT}/approvals/{second.id}/approve", headers=admin)
    assert resp.status_code == 200
    got = approvals.get(zd_runtime.db, TENANT, second.id)
    assert (got.state, got.decided_by) == (
        "approved",
        f"agent:{people['admin']}",
    ) and stripe.refunds == []


def test_custom_role_on_the_approver_list_can_approve_but_not_flip_the_kill_switch(
    client, zd_runtime, token, people, launched
):
    tenants.set_setting(zd_runtime.db, TENANT, "app_approver_roles", ["team lead"], actor="test")
    lead = launched(people["lead"])
    perms = client.get(f"/panel/api/{TENANT}/permissions", headers=lead).get_json()["agent"]
    assert (perms["custom_role"], perms["can_approve"], perms["can_kill_switch"]) == (
        "Team Lead",
        True,
        False,
    )
    a = propose_refund(zd_runtime.db)
    assert (
        client.post(f"/panel/api/{TENANT}/approvals/{a.id}/reject", headers=lead).status_code == 200
    )
    assert (
        client.post(f"/panel/api/{TENANT}/kill-switch", headers=lead, json={"on": True}).status_code
        == 403
    )


@pytest.mark.parametrize(
    ("who", "reason"),
    [
        ("suspended", "suspended"),
        ("customer", "only Zendesk agents and admins"),
    ],
)
def test_suspended_users_and_end_users_are_refused(
    client, zd_runtime, token, people, who, reason, launched
):
    # Zendesk shows apps to active agents only; a session issued before the user was suspended
    # (or demoted to end-user) still names them: the role check refuses.
    headers = agent_headers(
        token, agent_id=people[who], role="admin", session=panel_session(zd_runtime, people[who])
    )
    a = propose_refund(zd_runtime.db)
    for resp in (
        client.get(f"/panel/api/{TENANT}/permissions", headers=headers),
        client.post(f"/panel/api/{TENANT}/approvals/{a.id}/approve", headers=headers),
        client.post(f"/panel/api/{TENANT}/kill-switch", headers=headers, json={"on": True}),
    ):
        assert resp.status_code == 403
        body = resp.get_json()
        assert body["error"]["code"] == "forbidden" and reason in body["error"]["message"]
    assert approvals.get(zd_runtime.db, TENANT, a.id).state == "proposed"
    assert tenants.kill_switch_on(zd_runtime.db, TENANT) is False


def test_unknown_or_malformed_ids_are_refused(client, zd_runtime, token, people):
    # a session for a user Zendesk no longer has (deleted after the launch): 403
    gone = agent_headers(token, agent_id="999999", session=panel_session(zd_runtime, "999999"))
    resp = client.post(f"/panel/api/{TENANT}/kill-switch", headers=gone, json={"on": True})
    assert resp.status_code == 403
    # ids claimed by the browser, without a session: 401 whatever they say
    for agent_id in ("999999", "demo-agent", "1 OR 1=1", people["admin"]):
        resp = client.post(
            f"/panel/api/{TENANT}/kill-switch",
            headers=agent_headers(token, agent_id=agent_id, role="admin"),
            json={"on": True},
        )
        assert resp.status_code == 401, agent_id
    assert tenants.kill_switch_on(zd_runtime.db, TENANT) is False


@pytest.mark.parametrize("outage", ["503", "429", "stopped"])
def test_zendesk_down_fails_closed_while_the_view_keeps_working(
    client, zd_runtime, sandbox, token, people, outage, launched
):
    add_decision(zd_runtime.db, TENANT, 7)
    a = propose_refund(zd_runtime.db, 7)
    admin = launched(people["admin"])
    if outage == "503":
        sandbox.state.fail_next.extend([(503, "ServiceUnavailable")] * 100)  # urllib3 retries 503s
    elif outage == "429":
        sandbox.state.throttle(
            120
        )  # zenpy would sleep out Retry-After; a person is waiting, so no wait
    else:
        sandbox.server.stop()
    resp = client.post(f"/panel/api/{TENANT}/approvals/{a.id}/approve", headers=admin)
    assert resp.status_code == 503
    assert resp.get_json()["error"]["code"] == "role_check_unavailable"
    assert "Zendesk could not be reached" in resp.get_json()["error"]["message"]
    assert (
        client.post(
            f"/panel/api/{TENANT}/kill-switch", headers=admin, json={"on": True}
        ).status_code
        == 503
    )
    assert client.get(f"/panel/api/{TENANT}/permissions", headers=admin).status_code == 503
    assert approvals.get(zd_runtime.db, TENANT, a.id).state == "proposed"
    assert tenants.kill_switch_on(zd_runtime.db, TENANT) is False
    # reading needs no Zendesk: the panel still shows the ticket and its pending approval
    for path in ("/panel/api/me", f"/panel/api/{TENANT}/tickets/7"):
        assert client.get(path, headers=admin).status_code == 200, path
    view = client.get(f"/panel/api/{TENANT}/tickets/7", headers=admin).get_json()
    assert view["state"] == "processed" and [x["id"] for x in view["approvals"]] == [a.id]


def test_viewing_never_asks_zendesk(client, zd_runtime, sandbox, token, people, launched):
    add_decision(zd_runtime.db, TENANT, 7)
    admin = launched(people["admin"], role="admin")
    before = len(sandbox.state.calls())
    for _ in range(3):
        view = client.get(f"/panel/api/{TENANT}/tickets/7", headers=admin)
        assert view.status_code == 200
        assert client.get("/panel/api/me", headers=admin).status_code == 200
    assert len(sandbox.state.calls()) == before


def test_role_lookups_are_cached_per_tenant_for_the_ttl(
    app, client, zd_runtime, sandbox, token, people, launched
):
    now = [1000.0]
    app.extensions[ROLE_CACHE] = RoleCache(300, clock=lambda: now[0])
    admin = launched(people["admin"])
    for _ in range(3):
        assert client.get(f"/panel/api/{TENANT}/permissions", headers=admin).status_code == 200
    client.post(f"/panel/api/{TENANT}/kill-switch", headers=admin, json={"on": True})
    client.post(f"/panel/api/{TENANT}/kill-switch", headers=admin, json={"on": False})
    assert user_lookups(sandbox) == [
        f"/api/v2/users/{people['admin']}.json"
    ]  # one lookup, five checks

    # Zendesk demotes the admin: within the TTL the cached role still holds (the documented window)
    sandbox.state.update_user(int(people["admin"]), role="agent")
    now[0] += 299
    assert (
        client.post(
            f"/panel/api/{TENANT}/kill-switch", headers=admin, json={"on": True}
        ).status_code
        == 200
    )
    now[0] += 2
    assert (
        client.post(
            f"/panel/api/{TENANT}/kill-switch", headers=admin, json={"on": False}
        ).status_code
        == 403
    )
    assert len(user_lookups(sandbox)) == 2
    # a failure is never cached: the next check asks again
    sandbox.state.update_user(int(people["admin"]), role="admin")
    sandbox.state.fail_next.extend(
        [(503, "ServiceUnavailable")] * 4
    )  # the adapter's tries, all failing
    now[0] += 301
    assert client.get(f"/panel/api/{TENANT}/permissions", headers=admin).status_code == 503
    after_failure = len(user_lookups(sandbox))
    assert client.get(f"/panel/api/{TENANT}/permissions", headers=admin).status_code == 200
    assert client.get(f"/panel/api/{TENANT}/permissions", headers=admin).status_code == 200
    assert len(user_lookups(sandbox)) == after_failure + 1


def test_cache_ttl_zero_asks_every_time(config, sandbox, people):
    rt = make_runtime(zendesk_config(config, sandbox, app_role_cache_seconds="0"))
    try:
        inst = install_app_for(rt, sandbox)
        c = create_app(runtime=rt).test_client()
        session = launch_session(c, sandbox, inst["id"], int(people["admin"]))
        headers = agent_headers(issue_token(rt.db, TENANT)[1], session=session)
        for _ in range(3):
            assert c.get(f"/panel/api/{TENANT}/permissions", headers=headers).status_code == 200
        assert len(user_lookups(sandbox)) == 3
    finally:
        rt.close()


def test_demo_launch_goes_through_zendesk_and_gets_no_shortcut(config, sandbox, people):
    """The demo opens the panel as Zendesk would: the emulator signs the launch; in demo mode
    the page gets the stand-in ZAF client with a demo app token. Deskguard's own Zendesk user
    (an admin in the emulator) is refused like any forged id."""
    from connector.devkit.sandbox.zendesk.app_signing import launch_form

    rt = make_runtime(zendesk_config(config, sandbox, demo_mode="true"))
    try:
        inst = install_app_for(rt, sandbox)
        c = create_app(runtime=rt).test_client()

        def open_panel(user_id: int):
            action, fields = launch_form(sandbox.state, inst["id"], user_id, ticket_id=5)
            html = c.post(action.split("/panel/app", 1)[1].join(["/panel/app", ""]), data=fields)
            page = html.get_data(as_text=True)
            shim = json.loads(page.split('id="zaf-shim-config">', 1)[1].split("</script>", 1)[0])
            return shim, page.split('name="deskguard-session" content="', 1)[1].split('"', 1)[0]

        shim, session = open_panel(int(people["admin"]))
        assert shim["context"] == {
            "ticket.id": 5,
            "currentUser": {"id": int(people["admin"]), "name": ""},
        }
        headers = agent_headers(shim["secure"]["api_token"], session=session)
        perms = c.get(f"/panel/api/{TENANT}/permissions", headers=headers).get_json()["agent"]
        assert perms["can_kill_switch"] is True and perms["role"] == "admin"
        api_user = int(rt.services(TENANT).require_desk().api_user_id)
        shim, session = open_panel(api_user)
        headers = agent_headers(shim["secure"]["api_token"], session=session)
        assert c.get(f"/panel/api/{TENANT}/permissions", headers=headers).status_code == 403
    finally:
        rt.close()
