"""End to end: no Luhn-valid card number leaves the machine or lands in the ledger or the logs.

Customers write tickets (to the Zendesk emulator) whose subjects and bodies carry card numbers
in every layout of test_sec_redaction_layouts.py. Each ticket goes the real way: queued as a
webhook change, claimed by the worker, through the pipeline with the Claude engine (the real
anthropic SDK over HTTP against the Anthropic emulator, drafting replies too) and the assist
mode, which posts the brief as an internal note (real zenpy against the Zendesk emulator).
Then nothing may hold a card: any request the Anthropic emulator recorded, any text column of any
ledger table (decisions with its ``input_snapshot``, audit rows, jobs, ...), any log line (the
records and the JSON log output) and anything Deskguard wrote to Zendesk.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from shopify_support import shop, shop_server, shop_settings  # noqa: F401  (fixtures)
from test_sec_redaction_layouts import CARDS, LAYOUTS, holds
from zendesk_support import TENANT, sandbox, zendesk_config  # noqa: F401  (fixtures)

from connector import logs
from connector.bootstrap import ensure_env_tenant
from connector.db import migrate, table_names
from connector.devkit.sandbox.anthropic import start_anthropic_sandbox
from connector.domain import DESKGUARD_MARKER
from connector.jobs import drain
from connector.pipeline.policy import set_category_modes
from connector.runtime import Runtime
from connector.zendesk.intake import enqueue_ticket

PANS = CARDS[:4]  # Visa 16, Visa 13, Mastercard, American Express
LAYOUT_NAMES = list(LAYOUTS)


@pytest.fixture
def claude():
    sb = start_anthropic_sandbox()
    yield sb
    sb.stop()


@pytest.fixture
def rt(config, sandbox, shop, claude):  # noqa: F811
    runtime = Runtime(
        {
            **zendesk_config(config, sandbox),
            **shop_settings(shop),
            "classifier": "claude",
            "anthropic_base_url": claude.url,
            "anthropic_api_key": claude.api_key,
            "claude_draft_replies": True,
        }
    )
    migrate(runtime.db)
    ensure_env_tenant(runtime)
    set_category_modes(runtime.db, TENANT, {"*": "assist"}, actor="test")
    yield runtime
    runtime.close()


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The JSON log output of every deskguard logger, as `deskguard serve` writes it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    root = logging.getLogger("deskguard")
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def strings(value: Any) -> Iterator[str]:
    """Every string inside a value, JSON text decoded (so "\\u0661" escapes are read too)."""
    if isinstance(value, str):
        yield value
        if value[:1] in "[{":
            try:
                decoded = json.loads(value)
            except ValueError:
                return
            yield from strings(decoded)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from strings(k)
            yield from strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from strings(v)


def card_findings(where: str, value: Any) -> list[str]:
    """The test's cards found in ``value`` (in any layout), and any other Luhn-valid card number
    the log masker would mask (timestamps and ids are not: they are not written like cards)."""
    found = []
    for text in strings(value):
        hit = [pan for pan in PANS if holds(text, pan)]
        if hit or logs.mask_cards(text) != text:
            found.append(f"{where}: {hit or 'a card number'} in {text[:160]!r}")
    return found


def customer_tickets(sb) -> list[int]:
    """One ticket per card, with every layout in its body and one in its subject."""
    ids = []
    for n, pan in enumerate(PANS):
        lines = [f"{name}: {LAYOUTS[name](pan)}" for name in LAYOUT_NAMES]
        body = (
            "Hi, you charged my card twice for order #1001. These are the ways my bank app, my "
            "phone and my notes show the card:\n\n" + "\n".join(lines) + "\n\nThanks,\nJane Doe"
        )
        subject = f"Refund to {LAYOUTS[LAYOUT_NAMES[n * 7 % len(LAYOUT_NAMES)]](pan)} please"
        ticket = sb.state.customer_writes(
            subject=subject, body=body, name="Jane Doe", email="jane.doe@example.com"
        )
        ids.append(ticket["id"])
    return ids


def test_no_card_number_leaves_the_machine_or_lands_in_the_ledger_or_logs(
    rt,
    sandbox,  # noqa: F811
    claude,
    json_log,
    caplog,
):
    caplog.set_level(logging.DEBUG, logger="deskguard")
    ids = customer_tickets(sandbox)
    for tid in ids:
        ticket = sandbox.state.tickets[tid]
        enqueue_ticket(rt.queue, TENANT, tid, ticket["updated_at"], "webhook")
    assert drain(rt) == len(ids)

    # The tickets really went through: a decision each, requests to Claude, a note each.
    decisions = [
        json.loads(row[0])
        for row in rt.db.conn.execute("SELECT input_snapshot FROM decisions ORDER BY id")
    ]
    assert len(decisions) == len(ids)
    requests = claude.state.recorded()
    assert len(requests) >= len(ids) and all(r["status"] == 200 for r in requests)
    notes = {
        tid: [c for c in sandbox.state.notes(tid) if DESKGUARD_MARKER in c["body"]] for tid in ids
    }
    assert all(notes.values())
    # ... and the customers' own comments do hold the cards (the checker would see them).
    assert all(card_findings("ticket", sandbox.state.list_comments(tid)) for tid in ids)

    findings: list[str] = []
    # 1. every request that left for the LLM
    for r in requests:
        findings += card_findings(f"anthropic request {r['id']}", json.loads(r["body"]))
    # 2. every text column of every ledger table (decisions.input_snapshot, audit_log, jobs...)
    tables = sorted(name for name in table_names(rt.db) if not name.startswith("sqlite_"))
    assert {"decisions", "audit_log", "jobs"} <= set(tables)
    for table in tables:
        cursor = rt.db.conn.execute(f'SELECT * FROM "{table}"')
        columns = [d[0] for d in cursor.description]
        for row in cursor.fetchall():
            for column, value in zip(columns, row, strict=True):
                if isinstance(value, str | bytes):
                    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
                    findings += card_findings(f"{table}.{column}", text)
    # 3. every log line: the records as logged, and the JSON output
    for record in caplog.records:
        findings += card_findings(f"log record {record.name}", record.getMessage())
        findings += card_findings(f"log record {record.name}", getattr(record, "fields", {}))
    findings += card_findings("caplog text", caplog.text)
    lines = json_log.getvalue().splitlines()
    assert lines, "the JSON log output is empty: nothing was checked"
    for line in lines:
        findings += card_findings("json log", json.loads(line))
    # 4. everything Deskguard wrote to Zendesk (the internal notes and any other comment)
    for tid, ours in notes.items():
        findings += card_findings(f"zendesk note on {tid}", [c["body"] for c in ours])
    for call in sandbox.state.calls("PUT") + sandbox.state.calls("POST"):
        findings += card_findings("zendesk write", call)

    print("\n".join(findings))  # shown when the test fails: where each card was found
    assert findings == []
    assert all("[CARD_1]" in d["subject"] and "[CARD_" in d["body"] for d in decisions)


def test_a_failing_job_logs_its_error_without_the_card(rt, json_log, caplog):
    """An error message carrying ticket text (here raised by a handler) is masked in the log
    line and in the job's stored error."""
    caplog.set_level(logging.DEBUG, logger="deskguard")
    from connector.worker import run_one

    def explode(runtime, job):
        raise ValueError("could not parse 'card 4111\u200b1111\u200b1111\u200b1111'")

    rt.queue.enqueue(TENANT, "test.explode", {}, "explode-1")
    run_one(rt, {"test.explode": explode}, "test-owner")
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    failed = [line for line in lines if line["event"] == "job.failed"]
    assert failed and "[CARD]" in failed[0]["error"]
    assert card_findings("json log", lines) == []
    assert card_findings("caplog", [r.getMessage() for r in caplog.records]) == []
    (stored,) = rt.db.conn.execute(
        "SELECT last_error FROM jobs WHERE dedupe_key = 'explode-1'"
    ).fetchone()
    assert "[CARD]" in stored and card_findings("jobs.last_error", [stored]) == []
