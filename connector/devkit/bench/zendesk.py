"""``deskguard bench intake``: webhook intake throughput and latency against ``deskguard serve``
(gunicorn) from a second process, plus Zendesk API calls per processed ticket.

1. A fresh ledger in a temporary directory, a tenant with a webhook signing secret, and
   ``deskguard serve`` started as a subprocess on a free port.
2. ``closed`` phase: N keep-alive connections send signed deliveries back to back (sustained
   throughput). ``open`` phase: deliveries scheduled at a fixed rate (ack latency at that rate).
   The load generator is ``connector/zendesk/bench_load.py``, its own process.
3. Every accepted (202) delivery must be a job in the queue afterwards: checked by ticket id.
4. API calls per processed ticket, counted by the Zendesk sandbox itself (every request it
   served): webhook mode (sandbox → signed webhook → sidecar → worker → pipeline → note) and
   polling mode (incremental export → worker → pipeline → note) on a backlog of the same size:
   one job per ticket, in ``zendesk.batch`` jobs (100 tickets per read), and in batches in shadow
   mode (no writes). ``--calls-only`` runs just this part.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import click

from connector.cli_context import echo_json

TENANT = "bench"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"deskguard serve exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("deskguard serve did not become ready")


def start_intake_server(
    ledger_env: dict[str, str], *, workers: int, threads: int, cwd: str
) -> tuple[subprocess.Popen, int, str]:
    """`deskguard serve` on a free port for the intake benchmarks, with a fresh webhook secret
    for the bench tenant: (process, port, secret). ``ledger_env`` names the ledger."""
    from cryptography.fernet import Fernet

    secret = "bench-" + Fernet.generate_key().decode()[:32]
    port = _free_port()
    env = {
        **os.environ,
        **ledger_env,
        "DESKGUARD_SECRET_KEYS": Fernet.generate_key().decode(),
        "DESKGUARD_TENANT_ID": TENANT,
        "DESKGUARD_ZENDESK_WEBHOOK_SECRET": secret,
        "DESKGUARD_LOG_LEVEL": "error",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "connector",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--threads",
            str(threads),
        ],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return server, port, secret


def _load(
    port: int, secret: str, mode: str, seconds: float, connections: int, rate: float, start_id: int
) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "connector.devkit.bench.intake_load",
        "--port",
        str(port),
        "--tenant",
        TENANT,
        "--mode",
        mode,
        "--seconds",
        str(seconds),
        "--connections",
        str(connections),
        "--rate",
        str(rate),
        "--start-id",
        str(start_id),
    ]
    out = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "DESKGUARD_BENCH_WEBHOOK_SECRET": secret},
    )
    return json.loads(out.stdout)


def intake_benchmark(
    *,
    seconds: float,
    connections: int,
    rate: float,
    web_workers: int,
    web_threads: int,
    tickets: int,
    workdir: str | None = None,
    calls_only: bool = False,
) -> dict[str, Any]:

    from connector.db import connect

    tmp = tempfile.TemporaryDirectory(prefix="deskguard-bench-intake-", dir=workdir)
    try:
        if calls_only:
            return {"api_calls": api_calls_per_ticket(tickets, workdir=tmp.name)}
        db_path = str(Path(tmp.name) / "ledger.db")
        server, port, secret = start_intake_server(
            {"DESKGUARD_DB_PATH": db_path}, workers=web_workers, threads=web_threads, cwd=tmp.name
        )
        try:
            _wait_healthy(f"http://127.0.0.1:{port}", server)
            _load(
                port, secret, "closed", 1.0, connections, rate, 1
            )  # warm-up (keep-alive, imports)
            closed = _load(port, secret, "closed", seconds, connections, rate, 1_000_000)
            opened = _load(port, secret, "open", seconds, connections, rate, 5_000_000)
        finally:
            server.terminate()
            server.wait(15)
            if server.stderr is not None:
                server.stderr.close()
        db = connect(db_path)
        queued = {
            row[0]
            for row in db.conn.execute(
                "SELECT json_extract(payload, '$.ticket_id') FROM jobs"
                " WHERE tenant_id = ? AND kind = 'zendesk.ticket'",
                (TENANT,),
            )
        }
        db.close()
        accepted = set(closed.pop("accepted_ids")) | set(opened.pop("accepted_ids"))
        missing = accepted - queued
        calls = api_calls_per_ticket(tickets, workdir=tmp.name)
        return {
            "closed": closed,
            "open": opened,
            "accepted": len(accepted),
            "jobs_in_queue_for_them": len(accepted) - len(missing),
            "missing": len(missing),
            "web": {"workers": web_workers, "threads": web_threads},
            "api_calls": calls,
        }
    finally:
        tmp.cleanup()


def api_calls_per_ticket(tickets: int, *, workdir: str) -> dict[str, Any]:
    """Zendesk requests served by the sandbox per processed ticket: webhook mode, and a polled
    backlog of the same size one job per ticket, in batches (assist: a note per ticket) and in
    batches in shadow mode (reads only)."""
    import logging

    logging.getLogger("werkzeug").setLevel(
        logging.WARNING
    )  # no access-log line per sandbox request
    return {
        "tickets": tickets,
        "webhook": _webhook_mode(tickets, workdir),
        "poll": _poll_mode(tickets, workdir, "poll", batch_threshold=0, mode="assist"),
        "poll_batched": _poll_mode(
            tickets, workdir, "poll-batched", batch_threshold=10, mode="assist"
        ),
        "poll_batched_shadow": _poll_mode(
            tickets, workdir, "poll-shadow", batch_threshold=10, mode="shadow"
        ),
    }


def _runtime_for(sandbox, workdir: str, name: str, *, mode: str = "assist", **extra: Any):
    from cryptography.fernet import Fernet

    from connector import tenants
    from connector.bootstrap import ensure_env_tenant
    from connector.db import migrate
    from connector.runtime import Runtime

    rt = Runtime(
        {
            "db_path": str(Path(workdir) / f"{name}.db"),
            "secret_keys": (Fernet.generate_key().decode(),),
            "tenant_id": TENANT,
            "zendesk_url": sandbox.url,
            "zendesk_email": sandbox.agent_email,
            "zendesk_api_token": sandbox.agent_token,
            "log_level": "error",
            **extra,
        }
    )
    migrate(rt.db)
    ensure_env_tenant(rt)
    tenants.set_setting(rt.db, TENANT, "default_mode", mode, actor="bench")
    return rt, _classifier_note(rt)


def _seed(sandbox, n: int, offset: int) -> list[int]:
    return sandbox.state.seed(
        [
            {
                "subject": f"Where is my order #{1000 + offset + i}?",
                "body": f"Hi, order #{1000 + offset + i} has not arrived yet. Any news?",
                "name": f"Customer {i}",
                "email": f"customer{offset + i}@example.com",
            }
            for i in range(n)
        ]
    )


def _notes(sandbox, ids: list[int]) -> int:
    return sum(
        1 for t in ids for c in sandbox.state.list_comments(t) if "deskguard-ref:" in c["body"]
    )


def _webhook_mode(tickets: int, workdir: str) -> dict[str, Any]:
    """Sandbox trigger → signed webhook → sidecar → worker → pipeline → internal note (and the
    echoes of our own notes, which must cost nothing)."""
    from connector.devkit.sandbox import serve_in_thread
    from connector.devkit.sandbox.zendesk import start_zendesk_sandbox
    from connector.jobs import drain
    from connector.web import create_app
    from connector.zendesk.setup import setup_zendesk

    sandbox = start_zendesk_sandbox(rate_limit_per_minute=None, export_rate_limit_per_minute=None)
    rt, classifier = _runtime_for(sandbox, workdir, "webhook")
    web = serve_in_thread(create_app(runtime=rt))
    try:
        setup_zendesk(rt, TENANT, web.url)
        rt.services(TENANT).require_desk().api_user_id  # noqa: B018  (resolved once per process, not per ticket)
        before = len(sandbox.state.calls())
        ids = _seed(sandbox, tickets, 0)
        processed = _settle(sandbox, rt, drain)
        calls = len(sandbox.state.calls()) - before
        return {
            "jobs_processed": processed,
            "notes_written": _notes(sandbox, ids),
            "api_calls": calls,
            "per_ticket": round(calls / tickets, 3),
            "by_endpoint": _by_endpoint(sandbox, before),
            "classifier": classifier,
        }
    finally:
        web.stop()
        rt.close()
        sandbox.stop()


def _poll_mode(
    tickets: int, workdir: str, name: str, *, batch_threshold: int, mode: str
) -> dict[str, Any]:
    """No webhook: a backlog read from the incremental export (its own 10 requests/minute limit),
    then processed by the workers; ``batch_threshold=0`` is one job per ticket."""
    from connector.devkit.sandbox.zendesk import start_zendesk_sandbox
    from connector.jobs import drain
    from connector.zendesk.poller import poll_tenant

    sandbox = start_zendesk_sandbox(rate_limit_per_minute=None, export_rate_limit_per_minute=10)
    rt, classifier = _runtime_for(
        sandbox, workdir, name, mode=mode, zendesk_batch_threshold=batch_threshold
    )
    try:
        rt.services(TENANT).require_desk().api_user_id  # noqa: B018
        before = len(sandbox.state.calls())
        ids = _seed(sandbox, tickets, 100_000)
        polled = poll_tenant(rt, TENANT)
        intake_calls = len(sandbox.state.calls()) - before
        started = time.perf_counter()
        processed = drain(rt)
        seconds = time.perf_counter() - started
        calls = len(sandbox.state.calls()) - before
        decided = rt.db.conn.execute(
            "SELECT COUNT(*) FROM decisions WHERE tenant_id = ?", (TENANT,)
        ).fetchone()[0]
        return {
            "mode": mode,
            "batch_threshold": batch_threshold,
            "jobs_processed": processed,
            "batches": polled.batches,
            "decisions": decided,
            "notes_written": _notes(sandbox, ids),
            "api_calls": calls,
            "per_ticket": round(calls / tickets, 3),
            "export_requests": polled.requests,
            "intake_calls_per_ticket": round(intake_calls / tickets, 4),
            "processing_seconds": round(seconds, 2),
            "by_endpoint": _by_endpoint(sandbox, before),
            "classifier": classifier,
        }
    finally:
        rt.close()
        sandbox.stop()


def _classifier_note(rt) -> str:
    """Use the configured classifier; fall back to the pipeline's fake when no local model is built
    (classification costs no Zendesk call either way, so the counts are unaffected)."""
    from connector.domain import TicketText

    try:
        rt.services(TENANT).classifier.classify(
            TicketText(subject="Where is my order?", body="Order #1001")
        )
        return rt.config.get("classifier", "local")
    except Exception as exc:  # no trained model in this checkout, etc.
        from connector.devkit.fakes import FakeClassifier, inject

        inject(rt, classifier=FakeClassifier())
        return f"fake ({type(exc).__name__})"


def _settle(sandbox, rt, drain) -> int:
    total = 0
    for _ in range(20):
        sandbox.state.wait_for_deliveries(30)
        n = drain(rt)
        total += n
        if n == 0 and sandbox.state.wait_for_deliveries(0.05):
            break
    return total


def _by_endpoint(sandbox, start: int) -> dict[str, int]:
    import re

    counts: dict[str, int] = {}
    for call in sandbox.state.calls()[start:]:
        key = (
            call["method"]
            + " "
            + re.sub(r"/\d+", "/{id}", re.sub(r"/[0-9a-f]{32}", "/{job}", call["path"]))
        )
        counts[key] = counts.get(key, 0) + 1
    return counts


@click.command("intake")
@click.option("--seconds", default=10.0, show_default=True, help="Length of each load phase.")
@click.option(
    "--connections", default=16, show_default=True, help="Keep-alive connections of the client."
)
@click.option(
    "--rate",
    default=200.0,
    show_default=True,
    help="Deliveries per second in the latency phase.",
)
@click.option(
    "--web-workers", default=2, show_default=True, help="gunicorn workers of `deskguard serve`."
)
@click.option("--web-threads", default=4, show_default=True, help="Threads per gunicorn worker.")
@click.option(
    "--tickets",
    default=50,
    show_default=True,
    help="Tickets for the API-calls-per-ticket phase.",
)
@click.option(
    "--calls-only", is_flag=True, help="Only the API-calls-per-ticket phase (no load phases)."
)
def bench_intake(
    seconds: float,
    connections: int,
    rate: float,
    web_workers: int,
    web_threads: int,
    tickets: int,
    calls_only: bool,
) -> None:
    """Signed webhook deliveries against `deskguard serve` from a second process: throughput, ack
    latency at a fixed rate, every accepted delivery in the queue; Zendesk API calls per ticket
    with webhooks and for a polled backlog (one job per ticket, in batches, in batches in shadow).

    Example: deskguard bench intake --seconds 10 --rate 200 --tickets 200
    """
    echo_json(
        intake_benchmark(
            seconds=seconds,
            connections=connections,
            rate=rate,
            web_workers=web_workers,
            web_threads=web_threads,
            tickets=tickets,
            calls_only=calls_only,
        )
    )
