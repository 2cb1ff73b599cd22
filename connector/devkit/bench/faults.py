"""Fault benchmarks for docs/RELIABILITY.md, against the Zendesk emulator with the real zenpy
adapter and the real worker:

- ``deskguard bench hold``: N tickets arrive while the kill switch is on and stay held for S
  seconds; counts decisions, classifications ("readings") and Zendesk ticket reads during the hold,
  then how long the held work takes to be written once the switch is off.
- ``deskguard bench crash``: R rounds of SIGKILL against ``deskguard worker`` processes in the
  middle of work, then one clean run; counts actions left ``sending``, decisions left
  ``pending``, and notes written twice.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import click

from connector.cli_context import echo_json
from connector.devkit.bench.zendesk import TENANT, _notes, _runtime_for, _seed

BIN = str(Path(sys.executable).with_name("deskguard"))
# One classification ("reading") per decision.reading audit event.
READINGS = "SELECT COUNT(*) FROM audit_log WHERE kind = 'decision.reading'"


def _count(rt: Any, sql: str, *params: Any) -> int:
    return int(rt.db.conn.execute(sql, params).fetchone()[0])


def _ticket_reads(sandbox: Any) -> int:
    return sum(
        1
        for c in sandbox.state.calls("GET")
        if c["path"].startswith("/api/v2/tickets/") and c["path"].count("/") == 4
    )


def _enqueue(rt: Any, sandbox: Any, ids: list[int], tag: str) -> None:
    for tid in ids:
        updated = sandbox.state.tickets[tid]["updated_at"]
        rt.queue.enqueue(
            TENANT,
            "zendesk.ticket",
            {"ticket_id": tid, "updated_at": updated, "source": "poll"},
            f"{tag}:{tid}:{updated}",
        )


def _llm_calls(anthropic: Any) -> int | None:
    """Messages requests the Anthropic emulator received (None with the local model)."""
    if anthropic is None:
        return None
    return sum(1 for r in anthropic.state.recorded() if r.get("path", "").endswith("/messages"))


def hold_benchmark(
    tickets: int, seconds: float, threads: int, workdir: str, *, engine: str = "local"
) -> dict[str, Any]:
    from connector.devkit.sandbox.zendesk import start_zendesk_sandbox
    from connector.jobs import worker_pool
    from connector.tenants import set_kill_switch

    sandbox = start_zendesk_sandbox(rate_limit_per_minute=None, export_rate_limit_per_minute=None)
    anthropic, extra = None, {}
    if engine == "claude":  # every reading is a (paid) LLM call: count them at the emulator
        from connector.devkit.sandbox.anthropic import start_anthropic_sandbox

        anthropic = start_anthropic_sandbox()
        extra = {
            "classifier": "claude",
            "anthropic_base_url": anthropic.url,
            "anthropic_api_key": anthropic.api_key,
        }
    rt, classifier = _runtime_for(sandbox, workdir, "hold", **extra)
    pool = worker_pool(rt, threads, idle_sleep=0.2)
    try:
        ids = _seed(sandbox, tickets, 0)
        set_kill_switch(rt.db, TENANT, True, actor="bench", reason="hold benchmark")
        reads_before = _ticket_reads(sandbox)
        _enqueue(rt, sandbox, ids, "hold")
        pool.start()
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            time.sleep(1.0)
        held = {
            "decisions": _count(rt, "SELECT COUNT(*) FROM decisions"),
            "readings": _count(rt, READINGS),
            "zendesk_ticket_reads": _ticket_reads(sandbox) - reads_before,
            "actions_blocked": _count(
                rt, "SELECT COUNT(*) FROM audit_log WHERE kind = 'action.blocked'"
            ),
            "audit_rows": _count(rt, "SELECT COUNT(*) FROM audit_log"),
            "jobs_held": rt.queue.parked(TENANT),
            "llm_calls": _llm_calls(anthropic),
        }
        set_kill_switch(rt.db, TENANT, False, actor="bench", reason="hold over")
        released = time.monotonic()
        while _notes(sandbox, ids) < tickets and time.monotonic() - released < 120:
            time.sleep(0.05)
        resume_s = time.monotonic() - released
        notes = _notes(sandbox, ids)
    finally:
        pool.stop()
    statuses = dict(rt.db.conn.execute("SELECT status, COUNT(*) FROM decisions GROUP BY status"))
    result = {
        "tickets": tickets,
        "hold_seconds": seconds,
        "worker_threads": threads,
        "classifier": classifier,
        "during_hold": held,
        "after_release": {
            "all_written_after_s": round(resume_s, 2),
            "notes_written": notes,
            "decisions_by_status": statuses,
            "readings": _count(rt, READINGS),
            "zendesk_ticket_reads": _ticket_reads(sandbox) - reads_before,
            "llm_calls": _llm_calls(anthropic),
        },
    }
    rt.close()
    sandbox.stop()
    if anthropic is not None:
        anthropic.stop()
    return result


def _worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [BIN, "worker", "--threads", "4", "--no-scheduler"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def crash_benchmark(rounds: int, per_round: int, workdir: str, seed: int) -> dict[str, Any]:
    from connector.devkit.sandbox.zendesk import start_zendesk_sandbox

    rng = random.Random(seed)
    sandbox = start_zendesk_sandbox(rate_limit_per_minute=None, export_rate_limit_per_minute=None)
    rt, classifier = _runtime_for(sandbox, workdir, "crash", queue_lease_seconds="3")
    env = {
        **os.environ,
        "DESKGUARD_DB_PATH": rt.config.db_path,
        "DESKGUARD_SECRET_KEYS": ",".join(rt.config.secret_keys),
        "DESKGUARD_TENANT_ID": TENANT,
        "DESKGUARD_ZENDESK_URL": sandbox.url,
        "DESKGUARD_ZENDESK_EMAIL": sandbox.agent_email,
        "DESKGUARD_ZENDESK_API_TOKEN": sandbox.agent_token,
        "DESKGUARD_QUEUE_LEASE_SECONDS": "3",
        "DESKGUARD_RECONCILE_INTERVAL_SECONDS": "2",
        "DESKGUARD_LOG_LEVEL": "error",
    }
    ids: list[int] = []
    after_kill: list[dict[str, int]] = []
    unfinished = (
        "SELECT (SELECT COUNT(*) FROM actions WHERE state = 'sending'),"
        " (SELECT COUNT(*) FROM decisions WHERE status = 'pending')"
    )
    try:
        for r in range(rounds):
            new = _seed(sandbox, per_round, len(ids))
            ids += new
            _enqueue(rt, sandbox, new, "crash")
            proc = _worker(env)
            target = len(ids) - per_round + rng.randint(1, max(1, per_round - 1))
            deadline = time.monotonic() + 60
            while _notes(sandbox, ids) < target and time.monotonic() < deadline:
                time.sleep(0.005)
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            sending, pending = rt.db.conn.execute(unfinished).fetchone()
            after_kill.append({"round": r + 1, "sending": sending, "pending": pending})
        proc = _worker(env)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            depth = rt.queue.status()["depth"]
            sending, pending = rt.db.conn.execute(unfinished).fetchone()
            if depth == 0 and sending == 0 and pending == 0:
                break
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    per_ticket = [
        sum(1 for c in sandbox.state.list_comments(t) if "deskguard-ref:" in c["body"]) for t in ids
    ]
    sending, pending = rt.db.conn.execute(unfinished).fetchone()
    result = {
        "rounds": rounds,
        "tickets": len(ids),
        "classifier": classifier,
        "unfinished_right_after_each_kill": after_kill,
        "left_sending": sending,
        "left_pending": pending,
        "jobs": dict(rt.db.conn.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state")),
        "tickets_with_one_note": sum(1 for n in per_ticket if n == 1),
        "tickets_with_two_or_more_notes": sum(1 for n in per_ticket if n > 1),
        "tickets_without_a_note": sum(1 for n in per_ticket if n == 0),
        "reconciled_actions": int(
            rt.db.conn.execute(
                "SELECT COUNT(*) FROM audit_log WHERE kind = 'action.succeeded'"
                " AND json_extract(data, '$.reconciled') = 1"
            ).fetchone()[0]
        ),
    }
    result["unfinished_decisions"] = [
        {
            "decision": r[0],
            "ticket": r[1],
            "version": r[2],
            "status": r[3],
            "trail": [
                k[0]
                for k in rt.db.conn.execute(
                    "SELECT kind FROM audit_log WHERE ticket_id = ? ORDER BY id", (r[1],)
                )
            ],
        }
        for r in rt.db.conn.execute(
            "SELECT id, ticket_id, version, status FROM decisions WHERE status = 'pending'"
        ).fetchall()
    ]
    rt.close()
    sandbox.stop()
    return result


@click.command("hold")
@click.option("--tickets", default=100, show_default=True)
@click.option("--seconds", default=600.0, show_default=True, help="How long the switch stays on.")
@click.option("--threads", default=2, show_default=True, help="Worker threads.")
@click.option(
    "--engine",
    type=click.Choice(["local", "claude"]),
    default="local",
    show_default=True,
    help="claude: read through the Anthropic emulator and count its calls.",
)
def bench_hold(tickets: int, seconds: float, threads: int, engine: str) -> None:
    """Hold N tickets behind the kill switch for S seconds: decisions, readings and Zendesk
    reads during the hold, and how fast the held work is written once it is off.

    Example: deskguard bench hold --tickets 100 --seconds 600
    """
    with tempfile.TemporaryDirectory() as workdir:
        echo_json(hold_benchmark(tickets, seconds, threads, workdir, engine=engine))


@click.command("crash")
@click.option("--rounds", default=4, show_default=True, help="SIGKILLs of a working worker.")
@click.option("--per-round", default=8, show_default=True, help="New tickets each round.")
@click.option("--seed", default=1, show_default=True, help="Seed of the random kill moments.")
def bench_crash(rounds: int, per_round: int, seed: int) -> None:
    """SIGKILL `deskguard worker` mid-work R times, then run it once cleanly: rows left
    sending/pending and duplicated notes.

    Example: deskguard bench crash --rounds 4 --per-round 8
    """
    with tempfile.TemporaryDirectory() as workdir:
        echo_json(crash_benchmark(rounds, per_round, workdir, seed))


def waits_benchmark(retry_afters: list[float], max_wait: float) -> dict[str, Any]:
    from adapters.anthropic import AnthropicClient
    from connector.devkit.sandbox.anthropic import start_anthropic_sandbox
    from connector.errors import TransientError

    sandbox = start_anthropic_sandbox()
    client = AnthropicClient(
        api_key=sandbox.api_key,
        base_url=sandbox.url,
        timeout=30.0,
        connect_timeout=5.0,
        max_retries=2,
        max_wait=max_wait,
    )
    rows: list[dict[str, Any]] = []
    longest = 0.0
    try:
        for retry_after in retry_afters:
            sandbox.state.reset()
            sandbox.state.fail(429, times=2, retry_after=retry_after)
            started = time.monotonic()
            try:
                client.create_message(
                    model="claude-haiku-4-5",
                    max_tokens=64,
                    messages=[{"role": "user", "content": "Where is my order?"}],
                )
                outcome, requeue_after = "answered", None
            except TransientError as exc:
                outcome, requeue_after = "requeued", exc.retry_after
            held = time.monotonic() - started
            longest = max(longest, held)
            rows.append(
                {
                    "retry_after_s": retry_after,
                    "worker_held_s": round(held, 3),
                    "outcome": outcome,
                    "requeued_with_delay_s": requeue_after,
                    "requests": len(sandbox.state.recorded()),
                }
            )
    finally:
        client.close()
        sandbox.stop()
    return {
        "max_wait_s": max_wait,
        "two_429s_each": rows,
        "longest_worker_wait_s": round(longest, 3),
    }


@click.command("waits")
@click.option(
    "--retry-after",
    "retry_afters",
    multiple=True,
    type=float,
    default=(0.5, 5.0, 14.0, 20.0, 600.0),
    show_default=True,
    help="Retry-After of two 429s in a row (repeatable).",
)
@click.option(
    "--max-wait", default=30.0, show_default=True, help="DESKGUARD_VENDOR_MAX_WAIT_SECONDS."
)
def bench_waits(retry_afters: tuple[float, ...], max_wait: float) -> None:
    """Two 429s with each Retry-After against the Anthropic emulator (real SDK): how long the
    worker is held, and which waits go back to the queue instead.

    Example: deskguard bench waits --retry-after 5 --retry-after 600
    """
    echo_json(waits_benchmark(list(retry_afters), max_wait))
