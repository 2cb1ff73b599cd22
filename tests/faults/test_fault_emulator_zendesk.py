"""The Zendesk emulator behaves like Zendesk where that bit us: search lags new tickets, the
incremental export leaves out the last minute, ``external_id`` finds a ticket at once."""

from __future__ import annotations

import time

import pytest
import requests
from zendesk_support import sandbox  # noqa: F401 - the Zendesk emulator fixture


@pytest.fixture
def zd(sandbox):  # noqa: F811
    s = requests.Session()
    s.auth = (f"{sandbox.agent_email}/token", sandbox.agent_token)

    def call(method, path, **kw):
        return s.request(method, f"{sandbox.url}/api/v2/{path}", timeout=5, **kw)

    return call


def _new_ticket(zd, external_id="dispute-du_1-brief"):
    res = zd(
        "POST",
        "tickets.json",
        json={
            "ticket": {
                "subject": "Chargeback",
                "comment": {"body": "brief", "public": False},
                "requester": {"email": "jane@example.com", "name": "Jane"},
                "external_id": external_id,
            }
        },
    )
    assert res.status_code == 201
    return res.json()["ticket"]["id"]


def test_search_lags_new_tickets_but_external_id_finds_them_at_once(sandbox, zd):  # noqa: F811
    requests.post(f"{sandbox.url}/_sandbox/search_lag", json={"seconds": 120}, timeout=5)
    tid = _new_ticket(zd)
    query = "type:ticket requester:jane@example.com status<solved"
    assert zd("GET", "search.json", params={"query": query}).json()["results"] == []
    by_external = zd("GET", "tickets.json", params={"external_id": "dispute-du_1-brief"}).json()
    assert [t["id"] for t in by_external["tickets"]] == [tid]
    assert zd("GET", "tickets.json", params={"external_id": "other"}).json()["tickets"] == []
    requests.post(f"{sandbox.url}/_sandbox/search_lag", json={"seconds": 0}, timeout=5)
    assert [
        r["id"] for r in zd("GET", "search.json", params={"query": query}).json()["results"]
    ] == [tid]


def test_the_incremental_export_leaves_out_the_last_minute(sandbox, zd):  # noqa: F811
    start = int(time.time()) - 5
    tid = _new_ticket(zd, external_id="x")
    requests.post(f"{sandbox.url}/_sandbox/export_exclude_recent", json={"seconds": 60}, timeout=5)
    page = zd("GET", "incremental/tickets/cursor.json", params={"start_time": start}).json()
    assert page["tickets"] == [] and page["end_of_stream"] is True
    requests.post(f"{sandbox.url}/_sandbox/export_exclude_recent", json={"seconds": 0}, timeout=5)
    later = zd("GET", "incremental/tickets/cursor.json", params={"cursor": page["after_cursor"]})
    assert [t["id"] for t in later.json()["tickets"]] == [tid]  # the cursor did not skip it
