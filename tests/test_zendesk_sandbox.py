"""The Zendesk sandbox itself, over raw HTTP (requests), so its wire behaviour is pinned down
independently of zenpy: auth, shapes, pagination, export, limits, triggers and signed deliveries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from zendesk_support import sandbox  # noqa: F401  (fixture)

from connector.devkit.sandbox.zendesk import start_zendesk_sandbox
from connector.devkit.sandbox.zendesk_state import demo_tickets, render_placeholders


@pytest.fixture
def api(sandbox):  # noqa: F811
    s = requests.Session()
    s.auth = (f"{sandbox.agent_email}/token", sandbox.agent_token)

    def call(method, path, **kw):
        return s.request(method, f"{sandbox.url}/api/v2/{path}", timeout=5, **kw)

    return call


def test_api_token_basic_auth_is_required(sandbox, api):  # noqa: F811
    assert requests.get(f"{sandbox.url}/api/v2/users/me.json", timeout=5).status_code == 401
    bad = requests.get(
        f"{sandbox.url}/api/v2/users/me.json",
        auth=(f"{sandbox.agent_email}/token", "nope"),
        timeout=5,
    )
    assert bad.status_code == 401 and bad.json() == {"error": "Couldn't authenticate you"}
    password = requests.get(
        f"{sandbox.url}/api/v2/users/me.json",
        auth=(sandbox.agent_email, sandbox.agent_token),
        timeout=5,
    )
    assert password.status_code == 401  # only {email}/token works
    assert api("GET", "users/me.json").json()["user"]["email"] == sandbox.agent_email


def test_ticket_show_with_users_sideload_and_404_shape(sandbox, api):  # noqa: F811
    tid = sandbox.state.customer_writes(
        subject="S", body="B", name="Jane", email="jane@example.com"
    )["id"]
    data = api("GET", f"tickets/{tid}.json", params={"include": "users,comment_count"}).json()
    assert data["ticket"]["requester_id"] in {u["id"] for u in data["users"]}
    assert data["ticket"]["comment_count"] == 1 and data["ticket"]["description"] == "B"
    missing = api("GET", "tickets/999.json")
    assert missing.status_code == 404 and missing.json()["error"] == "RecordNotFound"


def test_last_audits_sideload_on_show_and_show_many_but_not_on_the_export(sandbox, api):  # noqa: F811
    a = sandbox.state.customer_writes(
        subject="S", body="first", name="Jane", email="jane@example.com"
    )["id"]
    b = sandbox.state.customer_writes(
        subject="T", body="other", name="Bob", email="bob@example.com"
    )["id"]
    sandbox.state.customer_replies(a, "second")
    shown = api("GET", f"tickets/{a}.json", params={"include": "users,last_audits"}).json()
    [audit] = shown["last_audits"]
    assert audit["ticket_id"] == a and audit["author_id"] == shown["ticket"]["requester_id"]
    assert {"id", "created_at", "via", "metadata", "events"} <= set(audit)
    [event] = [e for e in audit["events"] if e["type"] == "Comment"]
    assert (
        event["body"] == "second"
        and event["public"] is True
        and event["author_id"] == audit["author_id"]
    )
    assert event["audit_id"] == audit["id"]
    assert event["id"] == api("GET", f"tickets/{a}/comments.json").json()["comments"][-1]["id"]
    many = api(
        "GET", "tickets/show_many.json", params={"ids": f"{a},{b}", "include": "users,last_audits"}
    ).json()
    assert {x["ticket_id"] for x in many["last_audits"]} == {a, b} and len(many["users"]) >= 2
    assert "last_audits" not in api("GET", f"tickets/{a}.json").json()  # only when asked for
    export = api(
        "GET",
        "incremental/tickets/cursor.json",
        params={"start_time": 0, "include": "users,last_audits"},
    )
    assert "last_audits" not in export.json() and "users" in export.json()
    audits = api("GET", f"tickets/{a}/audits.json").json()["audits"]
    assert [x["id"] for x in audits][-1] == audit["id"] and len(audits) == 2


def test_comments_paginate_by_cursor_and_by_offset(sandbox, api):  # noqa: F811
    tid = sandbox.state.customer_writes(subject="S", body="c0", name="J", email="j@example.com")[
        "id"
    ]
    for i in range(1, 130):
        sandbox.state.customer_replies(tid, f"c{i}")
    first = api("GET", f"tickets/{tid}/comments.json", params={"page[size]": 100}).json()
    assert len(first["comments"]) == 100 and first["meta"]["has_more"] is True
    second = requests.get(
        first["links"]["next"],
        auth=(f"{sandbox.agent_email}/token", sandbox.agent_token),
        timeout=5,
    ).json()
    assert [c["body"] for c in second["comments"]] == [f"c{i}" for i in range(100, 130)]
    assert second["meta"]["has_more"] is False
    offset = api("GET", f"tickets/{tid}/comments.json", params={"per_page": 50, "page": 3}).json()
    assert len(offset["comments"]) == 30 and offset["next_page"] is None and offset["count"] == 130


def test_update_returns_ticket_and_audit_and_comment_public_carries_over(sandbox, api):  # noqa: F811
    tid = api(
        "POST",
        "tickets.json",
        json={
            "ticket": {
                "subject": "Internal",
                "comment": {"body": "private first", "public": False},
                "requester": {"name": "R", "email": "r@example.com"},
            }
        },
    ).json()["ticket"]["id"]
    res = api(
        "PUT",
        f"tickets/{tid}.json",
        json={"ticket": {"comment": {"body": "no flag"}, "status": "pending"}},
    )
    data = res.json()
    assert set(data) == {"ticket", "audit"} and data["ticket"]["status"] == "pending"
    comment_event = next(e for e in data["audit"]["events"] if e["type"] == "Comment")
    assert (
        comment_event["public"] is False
    )  # Zendesk's carry-over of the creation value (docs/vendors/zendesk.md)


def test_tags_endpoint_put_adds_post_sets_delete_removes(sandbox, api):  # noqa: F811
    tid = sandbox.state.customer_writes(
        subject="S", body="B", name="J", email="j@example.com", tags=["a"]
    )["id"]
    assert api("PUT", f"tickets/{tid}/tags.json", json={"tags": ["b"]}).json()["tags"] == ["a", "b"]
    assert api("DELETE", f"tickets/{tid}/tags.json", json={"tags": ["a"]}).json()["tags"] == ["b"]
    assert api("POST", f"tickets/{tid}/tags.json", json={"tags": ["c"]}).json()["tags"] == ["c"]
    replaced = api("PUT", f"tickets/{tid}.json", json={"ticket": {"tags": ["d"]}}).json()["ticket"][
        "tags"
    ]
    assert replaced == ["d"]  # a tags array on the ticket replaces the list


def test_update_many_limit_and_job_status(sandbox, api):  # noqa: F811
    too_many = api(
        "PUT", "tickets/update_many.json", json={"tickets": [{"id": i} for i in range(101)]}
    )
    assert too_many.status_code == 400 and too_many.json()["error"] == "TooManyValues"
    ids = sandbox.state.seed(
        [{"subject": "s", "body": "b", "email": f"x{i}@example.com"} for i in range(3)]
    )
    job = api(
        "PUT",
        "tickets/update_many.json",
        params={"ids": ",".join(map(str, ids))},
        json={"ticket": {"status": "solved"}},
    ).json()["job_status"]
    assert job["status"] == "queued" and job["total"] == 3
    deadline = time.monotonic() + 5
    while (status := api("GET", f"job_statuses/{job['id']}.json").json()["job_status"])[
        "status"
    ] != "completed":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert status["progress"] == 3 and all(r["success"] for r in status["results"])


def test_incremental_cursor_export_pages_and_end_of_stream(sandbox, api):  # noqa: F811
    ids = sandbox.state.seed(
        [{"subject": f"s{i}", "body": "b", "email": f"x{i}@example.com"} for i in range(5)]
    )
    page = api(
        "GET", "incremental/tickets/cursor.json", params={"start_time": 0, "per_page": 3}
    ).json()
    assert [t["id"] for t in page["tickets"]] == ids[:3] and page["end_of_stream"] is False
    assert set(page) >= {
        "after_cursor",
        "after_url",
        "before_cursor",
        "before_url",
        "end_of_stream",
    }
    rest = api(
        "GET",
        "incremental/tickets/cursor.json",
        params={"cursor": page["after_cursor"], "per_page": 3},
    ).json()
    assert [t["id"] for t in rest["tickets"]] == ids[3:] and rest["end_of_stream"] is True
    sandbox.state.customer_replies(
        ids[0], "update"
    )  # a changed ticket reappears after the cursor, once
    later = api(
        "GET", "incremental/tickets/cursor.json", params={"cursor": rest["after_cursor"]}
    ).json()
    assert [t["id"] for t in later["tickets"]] == [ids[0]] and later["end_of_stream"] is True
    assert api("GET", "incremental/tickets/cursor.json").status_code == 400
    assert (
        api(
            "GET", "incremental/tickets/cursor.json", params={"start_time": int(time.time()) + 600}
        ).status_code
        == 400
    )


def test_search_for_open_tickets_of_a_requester(sandbox, api):  # noqa: F811
    a = sandbox.state.customer_writes(subject="one", body="b", name="J", email="jane@example.com")[
        "id"
    ]
    b = sandbox.state.customer_writes(subject="two", body="b", name="J", email="jane@example.com")[
        "id"
    ]
    sandbox.state.update_ticket(
        b, {"status": "solved"}, author_id=sandbox.state.agent["id"], fire=False
    )
    sandbox.state.customer_writes(subject="three", body="b", name="K", email="kim@example.com")
    found = api(
        "GET",
        "search.json",
        params={"query": "type:ticket requester:jane@example.com status<solved"},
    ).json()
    assert [r["id"] for r in found["results"]] == [a] and found["results"][0][
        "result_type"
    ] == "ticket"
    assert api("GET", "search.json", params={"query": "type:ticket foo:bar"}).status_code == 400


def test_account_rate_limit_answers_429_with_retry_after():
    sb = start_zendesk_sandbox(rate_limit_per_minute=3)
    try:
        auth = (f"{sb.agent_email}/token", sb.agent_token)
        statuses = [
            requests.get(f"{sb.url}/api/v2/users/me.json", auth=auth, timeout=5) for _ in range(4)
        ]
        assert [r.status_code for r in statuses] == [200, 200, 200, 429]
        assert 1 <= int(statuses[-1].headers["Retry-After"]) <= 60
        assert statuses[0].headers["X-Rate-Limit"] == "3"
    finally:
        sb.stop(wait=False)


def test_throttle_switch_answers_429_for_n_seconds(sandbox, api):  # noqa: F811
    sandbox.state.throttle(1)
    r = api("GET", "users/me.json")
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"
    time.sleep(1.05)
    assert api("GET", "users/me.json").status_code == 200


class _Receiver(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((dict(self.headers), body))
        self.send_response(202)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    _Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Receiver.received
    server.shutdown()


def test_triggers_deliver_signed_webhooks_on_create_and_on_our_own_updates(sandbox, api, receiver):  # noqa: F811
    url, received = receiver
    hook = api(
        "POST",
        "webhooks",
        json={
            "webhook": {
                "name": "Deskguard",
                "endpoint": url,
                "http_method": "POST",
                "request_format": "json",
                "status": "active",
                "subscriptions": ["conditional_ticket_events"],
            }
        },
    ).json()["webhook"]
    secret = api("GET", f"webhooks/{hook['id']}/signing_secret").json()["signing_secret"]["secret"]
    body = '{"ticket_id": "{{ticket.id}}", "updated_at": "{{ticket.updated_at_with_timestamp}}"}'
    created = api(
        "POST",
        "triggers.json",
        json={
            "trigger": {
                "title": "t",
                "conditions": {
                    "any": [
                        {"field": "update_type", "operator": "is", "value": "Create"},
                        {"field": "update_type", "operator": "is", "value": "Change"},
                    ]
                },
                "actions": [{"field": "notification_webhook", "value": [hook["id"], body]}],
            }
        },
    )
    assert created.status_code == 201
    tid = sandbox.state.customer_writes(subject="S", body="B", name="J", email="j@example.com")[
        "id"
    ]
    api(
        "PUT",
        f"tickets/{tid}.json",
        json={"ticket": {"comment": {"body": "note", "public": False}}},
    )
    assert sandbox.state.wait_for_deliveries(5)
    assert len(received) == 2  # the API user's own update fires the trigger too
    for headers, raw in received:
        ts = headers["X-Zendesk-Webhook-Signature-Timestamp"]
        expected = base64.b64encode(
            hmac.new(secret.encode(), ts.encode() + raw, hashlib.sha256).digest()
        ).decode()
        assert headers["X-Zendesk-Webhook-Signature"] == expected
        assert json.loads(raw)["ticket_id"] == str(tid)
    versions = [json.loads(raw)["updated_at"] for _, raw in received]
    assert versions[0] < versions[1]


def test_event_webhooks_cannot_be_used_in_triggers(sandbox, api):  # noqa: F811
    hook = api(
        "POST",
        "webhooks",
        json={
            "webhook": {
                "name": "x",
                "endpoint": "https://example.com",
                "http_method": "POST",
                "request_format": "json",
                "status": "active",
                "subscriptions": ["zen:event-type:user.created"],
            }
        },
    ).json()["webhook"]
    bad = api(
        "POST",
        "triggers.json",
        json={
            "trigger": {
                "title": "t",
                "conditions": {
                    "any": [{"field": "update_type", "operator": "is", "value": "Create"}]
                },
                "actions": [{"field": "notification_webhook", "value": [hook["id"], "{}"]}],
            }
        },
    )
    assert bad.status_code == 422


def test_app_installations_and_settings_helper(sandbox, api):  # noqa: F811
    assert api("GET", "apps/installations.json").json() == {"installations": []}
    sandbox.state.install_app(
        {"kill_switch": False, "default_mode": "assist", "auto_categories": "order_status"}
    )
    sandbox.state.set_app_settings(kill_switch=True)
    [inst] = api("GET", "apps/installations.json").json()["installations"]
    assert inst["settings"]["kill_switch"] is True and inst["enabled"] is True and "app_id" in inst


def test_placeholders_and_demo_seed(sandbox):  # noqa: F811
    ticket = sandbox.state.get_ticket(sandbox.state.seed(demo_tickets())[0])
    rendered = render_placeholders(
        '{"id": "{{ticket.id}}", "u": "{{ ticket.updated_at_with_timestamp }}", '
        '"x": "{{ticket.unknown}}"}',
        ticket,
    )
    assert json.loads(rendered) == {"id": str(ticket["id"]), "u": ticket["updated_at"], "x": ""}
    assert len(sandbox.state.tickets) == len(demo_tickets()) >= 8
    requester = sandbox.state.users[ticket["requester_id"]]
    assert requester["role"] == "end-user" and "@" in requester["email"]
