"""`deskguard bench panel`: server time of the side panel's calls on a filled ledger.

Builds a throw-away ledger (``--decisions`` rows over ``--tickets`` tickets, one ticket job per
decision, feedback on a tenth), then times ``GET /panel/api/me`` and
``GET /panel/api/<tenant>/tickets/<id>`` for random tickets through the WSGI app (no network):
the Server-Timing figure the app reports for itself, the wall time of the whole WSGI request, and
the round trip over loopback HTTP (werkzeug's threaded server, one keep-alive client). It also
times ``GET /panel/api/<tenant>/permissions`` (the role check approve and the kill switch run)
against the Zendesk sandbox on loopback: with the role cache warm, and with it off (every check
one ``users/{id}`` request through zenpy).
"""

from __future__ import annotations

import json
import logging
import random
import statistics
import tempfile
import time
from pathlib import Path

import click

from connector.domain import CATEGORIES


def _seed(db, tenant: str, decisions: int, tickets: int, rng: random.Random) -> None:
    from connector.db import transaction

    reading = {
        "category": "order_status",
        "confidence": 0.91,
        "alternatives": [["order_status", 0.91], ["shipping_problem", 0.05], ["refund", 0.02]],
        "sentiment": "neutral",
        "sentiment_score": 0.0,
        "urgency": "normal",
        "language": "en",
        "reasons": ["mentions an order number", "asks for tracking"],
        "risk_flags": [],
        "engine": "local",
        "model": "bench",
    }
    context = {
        "orders": [
            {
                "name": "#1001",
                "financial_status": "PAID",
                "fulfillment_status": "FULFILLED",
                "total": {"amount": "49.90", "currency": "EUR"},
                "line_items": [],
                "fulfillments": [],
            }
        ],
        "payments": {
            "charges": [{"id": "ch_1", "amount": 4990, "currency": "eur", "status": "succeeded"}]
        },
        "notes": [],
    }
    now = time.time()
    with transaction(db):
        rows = []
        jobs = []
        for i in range(decisions):
            ticket = rng.randrange(1, tickets + 1)
            created = time.strftime(
                "%Y-%m-%dT%H:%M:%S", time.gmtime(now - rng.randrange(0, 30 * 86400))
            )
            rows.append(
                (
                    tenant,
                    ticket,
                    i + 1,
                    created + ".000000+00:00",
                    rng.choice(CATEGORIES),
                    0.9,
                    "assist",
                    rng.choice(("assist_note", "auto_reply", "escalate", "shadow")),
                    "mode_assist",
                    "bench",
                    json.dumps(reading),
                    "[]",
                    json.dumps(context),
                    "brief",
                    "Hi, your order shipped.",
                    "local",
                    "bench",
                    0.0,
                    10.0,
                    "done",
                )
            )
            jobs.append(
                (
                    tenant,
                    "zendesk.ticket",
                    json.dumps({"ticket_id": ticket}),
                    f"zendesk.ticket:{ticket}:{i}",
                    "done",
                    1,
                    8,
                    now,
                    now,
                    now,
                )
            )
        db.conn.executemany(
            "INSERT INTO decisions (tenant_id, ticket_id, job_id, created_at, category, confidence,"
            " mode, outcome, rule, reason, reading, policy_trace, context, brief, suggested_reply,"
            " engine, model, cost_usd, latency_ms, status)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
        db.conn.executemany(
            "INSERT INTO jobs (tenant_id, kind, payload, dedupe_key, state, attempts, max_attempts,"
            " run_at, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            jobs,
        )
        db.conn.execute(
            "INSERT INTO feedback (tenant_id, ticket_id, decision_id, agent_id, verdict,"
            " correct_category, source, created_at)"
            " SELECT tenant_id, ticket_id, id, '501', 'right', category, 'panel', created_at"
            " FROM decisions WHERE id % 10 = 0"
        )


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def pct(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))], 2)

    return {
        "p50": pct(0.50),
        "p95": pct(0.95),
        "p99": pct(0.99),
        "max": round(ordered[-1], 2),
        "mean": round(statistics.fmean(ordered), 2),
    }


def _signed_launch_session(runtime, zendesk, app, user_id: int) -> str:
    """Open the panel as Zendesk does (the emulator signs the launch) and return the session
    the page carries, as the panel's own script would."""
    import re

    from connector.devkit.sandbox.zendesk.app_signing import launch_token
    from connector.tenants import set_setting

    inst = zendesk.state.install_app({"sidecar_url": "http://127.0.0.1:1"})
    set_setting(runtime.db, "bench", "app_id", str(inst["app_id"]), actor="bench")
    set_setting(runtime.db, "bench", "app_installation_id", str(inst["id"]), actor="bench")
    page = app.test_client().post(
        "/panel/app", data={"token": launch_token(zendesk.state, inst["id"], user_id)}
    )
    found = re.search(r'<meta name="deskguard-session" content="([^"]+)">', page.get_data(True))
    if page.status_code != 200 or found is None:
        raise click.ClickException(f"signed launch failed: HTTP {page.status_code}")
    return found.group(1)


@click.command("panel")
@click.option("--decisions", default=50_000, show_default=True, help="Decision rows in the ledger.")
@click.option(
    "--tickets", default=20_000, show_default=True, help="Distinct tickets they are spread over."
)
@click.option(
    "--requests", "n_requests", default=500, show_default=True, help="Ticket views to time."
)
@click.option("--seed", default=7, show_default=True)
def bench_panel(decisions: int, tickets: int, n_requests: int, seed: int) -> None:
    """Time the side panel's API (server time) on a filled throw-away ledger.

    Example: deskguard bench panel --decisions 50000 --requests 500
    """
    import requests
    from cryptography.fernet import Fernet

    from connector.cli_context import echo_json
    from connector.db import migrate
    from connector.devkit.sandbox import serve_in_thread
    from connector.devkit.sandbox.zendesk import start_zendesk_sandbox
    from connector.panel.auth import issue_token
    from connector.panel.identity import RoleCache
    from connector.panel.web import ROLE_CACHE
    from connector.runtime import Runtime
    from connector.tenants import ensure_tenant
    from connector.web import create_app
    from connector.zendesk.service import configure_env_tenant

    rng = random.Random(seed)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log per request
    zendesk = start_zendesk_sandbox(rate_limit_per_minute=None, export_rate_limit_per_minute=None)
    with tempfile.TemporaryDirectory() as tmp:
        runtime = Runtime(
            {
                "db_path": str(Path(tmp) / "bench.db"),
                "secret_keys": (Fernet.generate_key().decode(),),
                "tenant_id": "bench",
                "log_level": "warning",
                "zendesk_url": zendesk.url,
                "zendesk_email": zendesk.agent_email,
                "zendesk_api_token": zendesk.agent_token,
            }
        )
        migrate(runtime.db)
        ensure_tenant(runtime.db, "bench")
        configure_env_tenant(runtime, "bench")
        admin = zendesk.state.add_user("Bench Admin", "admin@bench.example", role="admin")
        started = time.perf_counter()
        _seed(runtime.db, "bench", decisions, tickets, rng)
        seeded_s = time.perf_counter() - started
        token = issue_token(runtime.db, "bench")[1]
        app = create_app(runtime=runtime)
        cold_app = create_app(runtime=runtime)
        cold_app.extensions[ROLE_CACHE] = RoleCache(0)  # every check asks Zendesk
        headers = {
            "Authorization": f"Bearer {token}",
            "X-Deskguard-Session": _signed_launch_session(runtime, zendesk, app, admin["id"]),
        }
        results = {}
        servers = {"warm": serve_in_thread(app), "cold": serve_in_thread(cold_app)}
        clients = {"warm": app.test_client(), "cold": cold_app.test_client()}
        session = requests.Session()
        try:
            for name, path_of, which in (
                ("me", lambda: "/panel/api/me", "warm"),
                (
                    "ticket",
                    lambda: f"/panel/api/bench/tickets/{rng.randrange(1, tickets + 1)}",
                    "warm",
                ),
                ("permissions_cached", lambda: "/panel/api/bench/permissions", "warm"),
                ("permissions_zendesk_lookup", lambda: "/panel/api/bench/permissions", "cold"),
            ):
                client, server_thread = clients[which], servers[which]
                for _ in range(20):  # warm-up: connections, templates, caches
                    client.get(path_of(), headers=headers)
                server, wall, http = [], [], []
                for _ in range(n_requests):
                    t0 = time.perf_counter()
                    resp = client.get(path_of(), headers=headers)
                    wall.append((time.perf_counter() - t0) * 1000)
                    if resp.status_code != 200:
                        raise click.ClickException(f"{name}: HTTP {resp.status_code}")
                    server.append(float(resp.headers["Server-Timing"].split("dur=")[1]))
                    t0 = time.perf_counter()
                    got = session.get(server_thread.url + path_of(), headers=headers, timeout=10)
                    http.append((time.perf_counter() - t0) * 1000)
                    got.raise_for_status()
                results[name] = {
                    "server_timing_ms": _percentiles(server),
                    "wsgi_wall_ms": _percentiles(wall),
                    "http_loopback_ms": _percentiles(http),
                }
        finally:
            session.close()
            for running in servers.values():
                running.stop()
            runtime.close()
            zendesk.stop()
    echo_json(
        {
            "decisions": decisions,
            "tickets": tickets,
            "requests": n_requests,
            "seed_seconds": round(seeded_s, 2),
            "results": results,
        }
    )
