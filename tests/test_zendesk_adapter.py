"""The zenpy adapter over HTTP against the Zendesk sandbox (no SDK mocking)."""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest
from zendesk_support import sandbox  # noqa: F401  (fixture)

from adapters.zendesk import ZendeskDesk, split_base_url
from connector.devkit.sandbox.zendesk import start_zendesk_sandbox
from connector.domain import DESKGUARD_MARKER, Ticket
from connector.errors import ConfigError, PermanentError, TransientError


@pytest.fixture
def desk(sandbox):  # noqa: F811
    own: list[tuple[int, str]] = []
    d = ZendeskDesk(
        sandbox.url,
        sandbox.agent_email,
        sandbox.agent_token,
        timeout=5,
        ratelimit_budget=5,
        on_own_update=lambda t, u: own.append((t, u)),
        job_poll_interval=0.05,
    )
    d.own_updates = own  # type: ignore[attr-defined]
    return d


@pytest.fixture
def ticket_id(sandbox):  # noqa: F811
    return sandbox.state.customer_writes(
        subject="Where is my order?",
        body="Order #1001 has not arrived.",
        name="Jane Cooper",
        email="jane@example.com",
        tags=["vip", "web"],
    )["id"]


def test_get_ticket_returns_our_dataclasses_with_requester_and_comments(desk, sandbox, ticket_id):  # noqa: F811
    sandbox.state.update_ticket(
        ticket_id,
        {"custom_fields": [{"id": 360001, "value": "gold"}], "priority": "high"},
        author_id=sandbox.state.agent["id"],
        fire=False,
    )
    ticket = desk.get_ticket(ticket_id)
    assert isinstance(ticket, Ticket)
    assert ticket.subject == "Where is my order?" and ticket.status == "new"
    assert (ticket.requester.name, ticket.requester.email) == ("Jane Cooper", "jane@example.com")
    assert ticket.tags == ("vip", "web") and ticket.custom_fields == {360001: "gold"}
    assert ticket.channel == "email" and ticket.priority == "high"
    assert ticket.created_at.tzinfo is not None and ticket.updated_at >= ticket.created_at
    [comment] = ticket.comments
    assert comment.body == "Order #1001 has not arrived." and comment.public is True
    assert comment.author_id == ticket.requester.id and comment.by_deskguard is False
    assert comment.via_channel == "email"


def test_reading_a_ticket_costs_one_api_call_after_the_first(desk, sandbox, ticket_id):  # noqa: F811
    desk.get_ticket(ticket_id)  # the first read also looks up the API user once (loop safety)
    before = desk.api_calls
    ticket = desk.get_ticket(ticket_id)
    assert desk.api_calls - before == 1
    [call] = sandbox.state.calls("GET", f"/tickets/{ticket_id}")[-1:]
    assert set(call["query"].replace("%2C", ",").split("include=")[1].split("&")[0].split(",")) == {
        "users",
        "last_audits",
    }
    assert ticket.comments_complete is False and len(ticket.comments) == 1
    assert ticket.requester.email == "jane@example.com"


def test_the_latest_comment_from_the_last_audit_matches_the_full_thread(desk, sandbox, ticket_id):  # noqa: F811
    sandbox.state.customer_replies(ticket_id, "Any news? It is for a birthday.")
    quick = desk.get_ticket(ticket_id)
    full = desk.get_ticket(ticket_id, full=True)
    assert full.comments_complete is True and len(full.comments) == 2
    assert quick.comments == (
        full.comments[-1],
    )  # id, author, public, body, time, channel, by_deskguard
    assert quick.latest_person_comment.body == "Any news? It is for a birthday."
    assert quick.latest_person_comment.author_id == quick.requester.id
    assert desk.get_comments(ticket_id) == full.comments
    assert (quick.subject, quick.tags, quick.status) == (full.subject, full.tags, full.status)


def test_our_own_note_is_recognised_in_the_one_request_read(desk, sandbox, ticket_id):  # noqa: F811
    desk.add_internal_note(ticket_id, "Decision brief", marker="acme:1:k")
    assert (
        desk.api_user_id == sandbox.state.agent["id"]
    )  # looked up once per process (GET /users/me)
    before = desk.api_calls
    latest = desk.get_ticket(ticket_id).comments[-1]
    assert desk.api_calls - before == 1
    assert (
        latest.by_deskguard
        and latest.author_id == sandbox.state.agent["id"]
        and latest.public is False
    )
    # A customer pasting our marker line is still a person (the author is not the API user).
    sandbox.state.customer_replies(ticket_id, f"You wrote:\n{DESKGUARD_MARKER} acme:1:k")
    assert desk.get_ticket(ticket_id).comments[-1].by_deskguard is False


def test_a_last_audit_without_a_comment_falls_back_to_the_thread(desk, sandbox, ticket_id):  # noqa: F811
    desk.add_internal_note(ticket_id, "Brief", marker="k-1")
    desk.add_tags(ticket_id, ("refund",))  # the latest audit is a tag change: no comment in it
    assert desk.api_user_id
    before = desk.api_calls
    ticket = desk.get_ticket(ticket_id)
    assert desk.api_calls - before == 2
    assert (
        ticket.comments_complete is True and ticket.comments[-1].by_deskguard
    )  # still ours: skipped


def test_internal_note_is_sent_with_public_false_and_marker(desk, sandbox, ticket_id):  # noqa: F811
    result = desk.add_internal_note(
        ticket_id, "Decision brief", marker="acme:1:k", tags=("deskguard",)
    )
    [put] = [c for c in sandbox.state.calls("PUT", f"/tickets/{ticket_id}.json")]
    comment = put["json"]["ticket"]["comment"]
    assert comment["public"] is False  # explicit, never left to Zendesk's carry-over default
    assert comment["body"].endswith(f"{DESKGUARD_MARKER} acme:1:k")
    assert "tags" not in put["json"]["ticket"]  # never replaces the ticket's tags
    assert put["json"]["ticket"]["additional_tags"] == ["deskguard"]
    [_, note] = sandbox.state.notes(ticket_id)
    assert note["public"] is False and note["author_id"] == sandbox.state.agent["id"]
    assert result["comment_id"] == note["id"]
    assert set(sandbox.state.get_ticket(ticket_id)["tags"]) == {"vip", "web", "deskguard"}
    assert desk.own_updates == [(ticket_id, result["updated_at"])]
    assert desk.get_ticket(ticket_id).comments[-1].by_deskguard is True


def test_marker_is_the_bare_key_and_a_full_line_is_refused_before_any_request(
    desk,
    sandbox,  # noqa: F811
    ticket_id,
):
    before = desk.api_calls
    with pytest.raises(ValueError):
        desk.add_internal_note(ticket_id, "Brief", marker=f"{DESKGUARD_MARKER} key-1")
    with pytest.raises(ValueError):
        desk.find_comment_with_marker(ticket_id, f"{DESKGUARD_MARKER} key-1")
    assert desk.api_calls == before and sandbox.state.calls("PUT") == []
    desk.add_internal_note(ticket_id, "Brief", marker="key-1")
    body = sandbox.state.notes(ticket_id)[-1]["body"]
    assert body.count(DESKGUARD_MARKER) == 1 and body.endswith(f"{DESKGUARD_MARKER} key-1")


def test_tags_are_added_with_the_tags_endpoint_without_replacing(desk, sandbox, ticket_id):  # noqa: F811
    tags = desk.add_tags(ticket_id, ("refund", "deskguard"))
    assert tags == ["vip", "web", "refund", "deskguard"]
    [put] = sandbox.state.calls("PUT", f"/tickets/{ticket_id}/tags")
    assert put["json"] == {"tags": ["refund", "deskguard"]}


def test_public_reply_solves_and_custom_fields_are_set(desk, sandbox, ticket_id):  # noqa: F811
    desk.set_custom_fields(ticket_id, {360002: "refund"})
    result = desk.public_reply(
        ticket_id, "Your refund is on its way.", marker="k-reply", tags=("auto",)
    )
    ticket = sandbox.state.get_ticket(ticket_id)
    assert ticket["status"] == "solved" and result["status"] == "solved"
    assert {"id": 360002, "value": "refund"} in ticket["custom_fields"]
    reply = sandbox.state.notes(ticket_id)[-1]
    assert reply["public"] is True and reply["body"].endswith(f"{DESKGUARD_MARKER} k-reply")
    assert "auto" in ticket["tags"] and "vip" in ticket["tags"]


def test_update_many_chunks_by_100_and_follows_each_job_to_completion(desk, sandbox):  # noqa: F811
    ids = sandbox.state.seed(
        [{"subject": f"t{i}", "body": "b", "email": f"c{i}@example.com"} for i in range(250)]
    )
    results = desk.update_many(
        [{"id": i, "priority": "low", "additional_tags": ["backlog"]} for i in ids]
    )
    puts = sandbox.state.calls("PUT", "/tickets/update_many")
    assert [len(p["json"]["tickets"]) for p in puts] == [100, 100, 50]
    assert len(results) == 250 and all(r["success"] for r in results)
    assert {r["id"] for r in results} == set(ids)
    polls = sandbox.state.calls("GET", "/job_statuses/")
    assert len({p["path"] for p in polls}) == 3  # each of the three jobs was followed
    for tid in ids:
        ticket = sandbox.state.get_ticket(tid)
        assert ticket["priority"] == "low" and "backlog" in ticket["tags"]


def test_update_many_reports_per_ticket_failures(desk, sandbox, ticket_id):  # noqa: F811
    results = desk.update_many(
        [{"id": ticket_id, "priority": "low"}, {"id": 999_999, "priority": "low"}]
    )
    by_id = {r["id"]: r for r in results}
    assert by_id[ticket_id]["success"] is True and by_id[999_999]["success"] is False


def test_find_comment_with_marker_and_find_open_tickets(desk, sandbox, ticket_id):  # noqa: F811
    assert desk.find_comment_with_marker(ticket_id, "k-1") is None
    desk.add_internal_note(ticket_id, "Brief", marker="k-1")
    found = desk.find_comment_with_marker(ticket_id, "k-1")
    assert found is not None and found.by_deskguard and not found.public
    assert desk.find_comment_with_marker(ticket_id, "k-2") is None
    other = sandbox.state.customer_writes(
        subject="Second", body="again", name="Jane", email="jane@example.com"
    )
    solved = sandbox.state.customer_writes(
        subject="Old", body="old", name="Jane", email="jane@example.com"
    )
    sandbox.state.update_ticket(
        solved["id"], {"status": "solved"}, author_id=sandbox.state.agent["id"], fire=False
    )
    sandbox.state.customer_writes(
        subject="Someone else", body="x", name="Bob", email="bob@example.com"
    )
    open_ids = {t.id for t in desk.find_open_tickets("jane@example.com")}
    assert open_ids == {ticket_id, other["id"]}
    assert all(
        t.requester.email == "jane@example.com" for t in desk.find_open_tickets("jane@example.com")
    )
    with pytest.raises(PermanentError):
        desk.find_open_tickets('x" OR status:solved')


def test_create_ticket_and_app_installation_settings(desk, sandbox):  # noqa: F811
    tid = desk.create_ticket(
        subject="Refund needs approval",
        body="Please approve",
        requester_email="a@example.com",
        priority="high",
        tags=("deskguard",),
        public=False,
        marker="k-create",
    )
    ticket = sandbox.state.get_ticket(tid)
    assert ticket["priority"] == "high" and ticket["is_public"] is False
    assert sandbox.state.users[ticket["requester_id"]]["email"] == "a@example.com"
    assert desk.app_installation_settings() == {}
    sandbox.state.install_app(
        {"kill_switch": False, "default_mode": "shadow", "auto_categories": "order_status"}
    )
    sandbox.state.set_app_settings(kill_switch=True)
    settings = desk.app_installation_settings()
    assert settings["kill_switch"] is True and settings["auto_categories"] == "order_status"
    assert desk.app_installation_settings(app_id=1) == {}


def test_a_ticket_is_found_by_external_id_while_search_still_lags(desk, sandbox):  # noqa: F811
    import requests

    requests.post(f"{sandbox.url}/_sandbox/search_lag", json={"seconds": 120}, timeout=5)
    try:
        tid = desk.create_ticket(
            subject="Chargeback",
            body="brief",
            requester_email="lag@example.com",
            marker="stripe-dispute-dp_1-brief",
            external_id="stripe-dispute-dp_1-brief",
        )
        assert desk.find_open_tickets("lag@example.com") == []  # not indexed yet
    finally:
        requests.post(f"{sandbox.url}/_sandbox/search_lag", json={"seconds": 0}, timeout=5)
    assert sandbox.state.get_ticket(tid)["external_id"] == "stripe-dispute-dp_1-brief"
    assert desk.find_tickets_by_external_id("stripe-dispute-dp_1-brief") == [tid]
    assert desk.find_tickets_by_external_id("stripe-dispute-dp_2-brief") == []


def test_export_tickets_reads_in_batches_until_end_of_stream(desk, sandbox):  # noqa: F811
    ids = sandbox.state.seed(
        [
            {"subject": f"t{i}", "body": f"body {i}", "name": f"N{i}", "email": f"c{i}@example.com"}
            for i in range(25)
        ]
    )
    before = desk.api_calls
    tickets = list(desk.export_tickets(0, per_page=10))
    assert [t.id for t in tickets] == ids
    assert desk.api_calls - before == 3  # 10 + 10 + 5: one request per page, not per ticket
    assert (
        tickets[3].comments[0].body == "body 3" and tickets[3].requester.email == "c3@example.com"
    )
    assert all(t.comments_complete is False for t in tickets)  # the export has the description only
    assert desk.api_user_id
    before = desk.api_calls
    shown = desk.get_tickets(ids[:5])
    assert desk.api_calls - before == 1
    assert [t.id for t in shown] == ids[:5] and shown[0].comments[0].body == "body 0"
    assert shown[0].comments[0].id > 0 and shown[0].requester.email == "c0@example.com"


def test_export_page_needs_exactly_one_of_cursor_and_start_time(desk):
    with pytest.raises(ValueError):
        desk.export_page()
    with pytest.raises(ValueError):
        desk.export_page(cursor="x", start_time=1)


# --- errors and rate limits -----------------------------------------------------------------------
def test_not_found_and_validation_errors_are_permanent(desk, sandbox, ticket_id):  # noqa: F811
    with pytest.raises(PermanentError) as missing:
        desk.get_ticket(987_654)
    assert (
        missing.value.status == 404
        and missing.value.vendor == "zendesk"
        and not missing.value.should_retry
    )
    sandbox.state.update_ticket(
        ticket_id, {"status": "closed"}, author_id=sandbox.state.agent["id"], fire=False
    )
    with pytest.raises(PermanentError) as closed:
        desk.add_internal_note(ticket_id, "x", marker="k")
    assert closed.value.status == 422


def test_bad_credentials_are_permanent_and_the_token_never_shows(sandbox, ticket_id):  # noqa: F811
    bad = ZendeskDesk(sandbox.url, sandbox.agent_email, "wrong-token-123", api_user_id=1)
    with pytest.raises(PermanentError) as exc:
        bad.get_ticket(ticket_id)
    assert exc.value.status == 401
    assert "wrong-token-123" not in str(exc.value) and "wrong-token-123" not in repr(bad)


def test_server_errors_are_transient_after_the_transport_retries(desk, sandbox, ticket_id):  # noqa: F811
    desk.get_ticket(ticket_id)
    sandbox.state.fail_next.extend([(503, "ServiceUnavailable")] * 2)
    assert desk.get_ticket(ticket_id).id == ticket_id  # zenpy's adapter retries 503 on its own
    sandbox.state.fail_next.extend([(500, "InternalError")])
    with pytest.raises(TransientError) as exc:
        desk.get_ticket(ticket_id)
    assert exc.value.should_retry and exc.value.status == 500


def test_connection_refused_and_timeouts_are_transient():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    refused = ZendeskDesk(
        f"http://127.0.0.1:{port}", "a@example.com", "t", api_user_id=1, timeout=2
    )
    with pytest.raises(TransientError):
        refused.get_ticket(1)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections, never answers
    try:
        slow = ZendeskDesk(
            f"http://127.0.0.1:{silent.getsockname()[1]}",
            "a@example.com",
            "t",
            api_user_id=1,
            timeout=0.3,
        )
        started = time.monotonic()
        with pytest.raises(TransientError):
            slow.get_ticket(1)
        assert time.monotonic() - started < 10
    finally:
        silent.close()


def test_429_is_honoured_with_retry_after_and_the_call_succeeds(desk, sandbox, ticket_id):  # noqa: F811
    desk.get_ticket(ticket_id)
    sandbox.state.throttle(2)
    started = time.monotonic()
    ticket = desk.get_ticket(ticket_id)
    waited = time.monotonic() - started
    assert ticket.id == ticket_id
    statuses = [c["status"] for c in sandbox.state.calls("GET", f"/tickets/{ticket_id}.json")]
    assert statuses[-2:] == [429, 200]
    assert waited >= 1.5  # Retry-After: 2 was slept out before re-sending


def test_429_beyond_the_budget_is_transient_with_retry_after(sandbox, ticket_id):  # noqa: F811
    desk = ZendeskDesk(
        sandbox.url, sandbox.agent_email, sandbox.agent_token, ratelimit_budget=1, api_user_id=1
    )
    sandbox.state.throttle(30)
    with pytest.raises(TransientError) as exc:
        desk.get_ticket(ticket_id)
    assert exc.value.status == 429 and exc.value.retry_after and exc.value.retry_after >= 20


def test_the_429_budget_is_per_operation_not_per_client_lifetime(sandbox, ticket_id):  # noqa: F811
    desk = ZendeskDesk(
        sandbox.url, sandbox.agent_email, sandbox.agent_token, ratelimit_budget=3, api_user_id=1
    )
    for _ in range(2):
        sandbox.state.throttle(2)
        assert (
            desk.get_ticket(ticket_id).id == ticket_id
        )  # 2 s each time; zenpy alone would run out at 3 s


# --- per-client base URL --------------------------------------------------------------------------
def test_two_clients_point_at_two_accounts_without_process_wide_overrides(sandbox, ticket_id):  # noqa: F811
    assert "ZENPY_FORCE_NETLOC" not in os.environ and "ZENPY_FORCE_SCHEME" not in os.environ
    other = start_zendesk_sandbox(rate_limit_per_minute=None)
    try:
        other_id = other.state.customer_writes(
            subject="Other account", body="hi", name="Z", email="z@example.com"
        )["id"]
        a = ZendeskDesk(sandbox.url, sandbox.agent_email, sandbox.agent_token)
        b = ZendeskDesk(other.url, other.agent_email, other.agent_token)
        results = {}

        def read(name, d, tid):
            results[name] = d.get_ticket(tid).subject

        threads = [
            threading.Thread(target=read, args=("a", a, ticket_id)),
            threading.Thread(target=read, args=("b", b, other_id)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == {"a": "Where is my order?", "b": "Other account"}
    finally:
        other.stop()


@pytest.mark.parametrize(
    "url,expected",
    [
        ("https://acme.zendesk.com", ("https", "acme", "zendesk.com")),
        ("http://127.0.0.1:8123/", ("http", "127", "0.0.1:8123")),
    ],
)
def test_base_url_split(url, expected):
    assert split_base_url(url) == expected


@pytest.mark.parametrize(
    "url", ["acme.zendesk.com", "http://localhost:8000", "https://acme.zendesk.com/api/v2", ""]
)
def test_bad_base_urls_are_config_errors(url):
    with pytest.raises(ConfigError):
        split_base_url(url)


def test_missing_credentials_are_a_config_error(sandbox):  # noqa: F811
    with pytest.raises(ConfigError):
        ZendeskDesk(sandbox.url, "", "")


def test_long_conversations_are_read_across_comment_pages(desk, sandbox, ticket_id):  # noqa: F811
    for i in range(120):
        sandbox.state.customer_replies(ticket_id, f"reply {i}")
    desk.add_internal_note(ticket_id, "Brief", marker="k-long")
    assert desk.get_ticket(ticket_id).comments[-1].by_deskguard  # one request: the latest audit
    ticket = desk.get_ticket(ticket_id, full=True)
    assert len(ticket.comments) == 122 and ticket.comments[-1].by_deskguard
    assert [c.body for c in ticket.comments[1:3]] == ["reply 0", "reply 1"]
    assert desk.find_comment_with_marker(ticket_id, "k-long") is not None
