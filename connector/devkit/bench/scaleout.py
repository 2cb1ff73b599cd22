"""``deskguard bench scaleout``: the ledger engines side by side, with several processes.

For each engine (a SQLite file; PostgreSQL at ``--database-url`` or a throwaway cluster started
from Debian's packages) and each process count N:

- **intake**: ``deskguard serve --workers N`` (N web processes) takes signed Zendesk webhook
  deliveries from the closed-loop load generator (``intake_load``, its own process, 16
  keep-alive connections) for ``--seconds``; every delivery is verified, replay-checked and
  enqueued in one transaction. Reported: deliveries/s, ack p50/p99.
- **claim→ack**: ``--jobs`` jobs are enqueued, then N worker processes (one thread each, started
  and connected before the clock starts) claim and ack until the queue is empty. Reported:
  cycles/s over the wall time from the start signal to the last process's exit.

Figures go in docs/BENCHMARKS.md with the machine, date and command.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import click

from connector.cli_context import echo_json, ledger_env
from connector.devkit.bench.zendesk import TENANT, _load, _wait_healthy, start_intake_server
from connector.devkit.pgcluster import Cluster, new_schema, start_cluster


def _fresh_location(engine: str, base_url: str, folder: Path, name: str) -> str:
    if engine == "sqlite":
        return str(folder / f"{name}.db")
    return new_schema(base_url, f"bench_{name}")[0]


def _prepare(location: str) -> None:
    from connector.db import Ledger, migrate
    from connector.tenants import ensure_tenant

    ledger = Ledger(location)
    migrate(ledger.db)
    ensure_tenant(ledger.db, TENANT)
    ledger.close()


def intake(location: str, processes: int, seconds: float, workdir: Path) -> dict[str, Any]:
    _prepare(location)
    server, port, secret = start_intake_server(
        ledger_env(location), workers=processes, threads=4, cwd=str(workdir)
    )
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", server, timeout=60)
        _load(port, secret, "closed", 1.0, 16, 200.0, 1)  # warm-up: connections, imports
        closed = _load(port, secret, "closed", seconds, 16, 200.0, 1_000_000)
    finally:
        server.terminate()
        server.wait(30)
        if server.stderr is not None:
            server.stderr.close()
    closed.pop("accepted_ids", None)
    return closed


def claim_ack(location: str, processes: int, jobs: int) -> dict[str, Any]:
    from connector.db import Ledger
    from connector.queue import Queue

    _prepare(location)
    queue = Queue(Ledger(location))
    for j in range(jobs):
        queue.enqueue(TENANT, "bench.noop", {"j": j}, f"j-{j}")
    queue.ledger.close()
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "connector.devkit.bench.scaleout", location, f"w{i}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(processes)
    ]
    for w in workers:  # each says "ready" once connected and warmed up
        assert w.stdout is not None
        line = w.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(
                f"bench worker failed to start: {line} {w.stderr.read() if w.stderr else ''}"
            )
    started = time.perf_counter()
    for w in workers:
        assert w.stdin is not None
        w.stdin.write("go\n")
        w.stdin.flush()
    counts = []
    for w in workers:
        out, err = w.communicate(timeout=600)
        if w.returncode != 0:
            raise RuntimeError(f"bench worker failed: {err[-2000:]}")
        counts.append(int(out.strip().splitlines()[-1]))
    elapsed = time.perf_counter() - started
    done = Ledger(location)
    completed = done.db.conn.execute("SELECT COUNT(*) FROM jobs WHERE state = 'done'").fetchone()[0]
    done.close()
    return {
        "jobs": jobs,
        "completed": completed,
        "per_process": counts,
        "cycles_per_s": round(sum(counts) / elapsed, 1),
        "seconds": round(elapsed, 3),
    }


def _worker(location: str, name: str) -> None:
    """One claim→ack process: connect, say ready, wait for "go", drain, print the count."""
    from connector.db import Ledger
    from connector.queue import Queue

    queue = Queue(Ledger(location))
    queue.status()  # connect (and, on PostgreSQL, open the pool) before the clock starts
    print("ready", flush=True)
    sys.stdin.readline()
    n = 0
    while (job := queue.claim(name)) is not None:
        queue.ack(job)
        n += 1
    queue.ledger.close()
    print(n, flush=True)


@click.command("scaleout")
@click.option("--engines", default="sqlite,postgresql", show_default=True, help="Comma list.")
@click.option("--processes", default="1,2,4", show_default=True, help="Comma list of N.")
@click.option("--seconds", default=8.0, show_default=True, help="Intake load phase length.")
@click.option("--jobs", default=4000, show_default=True, help="Jobs per claim→ack run.")
@click.option(
    "--database-url",
    help="PostgreSQL to use (a schema per run is created in it); default: a throwaway cluster.",
)
def bench_scaleout(
    engines: str, processes: str, seconds: float, jobs: int, database_url: str | None
) -> None:
    """Intake deliveries/s with N web processes and claim→ack cycles/s with N worker processes,
    on SQLite and on PostgreSQL.

    Example: deskguard bench scaleout --processes 1,2,4 --seconds 8 --jobs 4000
    """
    counts = [int(n) for n in processes.split(",") if n.strip()]
    chosen = [e.strip() for e in engines.split(",") if e.strip()]
    unknown = set(chosen) - {"sqlite", "postgresql"}
    if unknown:
        raise click.BadParameter(f"unknown engine(s): {', '.join(sorted(unknown))}")
    cluster: Cluster | None = None
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="deskguard-bench-scaleout-") as tmp:
        folder = Path(tmp)
        try:
            base = database_url or ""
            if "postgresql" in chosen and not base:
                cluster = start_cluster(durable=True)
                base = cluster.url()
            for engine in chosen:
                rows = []
                for n in counts:
                    rows.append(
                        {
                            "processes": n,
                            "intake": intake(
                                _fresh_location(engine, base, folder, f"in{n}"), n, seconds, folder
                            ),
                            "claim_ack": claim_ack(
                                _fresh_location(engine, base, folder, f"q{n}"), n, jobs
                            ),
                        }
                    )
                results[engine] = rows
        finally:
            if cluster is not None:
                cluster.stop()
    echo_json(
        {
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "load_avg": [round(x, 2) for x in os.getloadavg()],
            },
            "postgresql": "throwaway local cluster, durable defaults" if cluster else "given URL",
            "results": results,
        }
    )


if __name__ == "__main__":
    _worker(sys.argv[1], sys.argv[2])
