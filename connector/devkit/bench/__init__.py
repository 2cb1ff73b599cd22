"""`deskguard bench ...`: benchmark commands. Figures go in docs/BENCHMARKS.md with machine,
date and command; they are never asserted by timed unit tests."""

from __future__ import annotations

import click


@click.group()
def bench() -> None:
    """Benchmarks (results belong in docs/BENCHMARKS.md).

    Example: deskguard bench queue --seconds 5
    """


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def _run_threads(n: int, fn) -> tuple[float, list[float]]:
    import threading
    import time

    latencies: list[float] = []
    lock = threading.Lock()

    def target(i: int) -> None:
        mine = fn(i)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start, latencies


def queue_benchmark(db_dir: str, threads: int, jobs: int) -> dict:
    """Enqueue `jobs` jobs from `threads` threads, then claim→ack them all from `threads`
    threads."""
    import os
    import time

    from connector.db import Ledger, migrate
    from connector.queue import Queue
    from connector.tenants import ensure_tenant

    path = os.path.join(db_dir, f"bench-queue-{threads}.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    setup = Ledger(path)
    migrate(setup.db)
    ensure_tenant(setup.db, "bench")
    setup.close()
    per_thread = jobs // threads

    def enqueue(i: int) -> list[float]:
        q = Queue(Ledger(path))
        out = []
        for j in range(per_thread):
            t0 = time.perf_counter()
            q.enqueue("bench", "bench.noop", {"i": i, "j": j}, f"{i}-{j}")
            out.append(time.perf_counter() - t0)
        q.ledger.close()
        return out

    def cycle(i: int) -> list[float]:
        q = Queue(Ledger(path))
        out = []
        while True:
            t0 = time.perf_counter()
            job = q.claim(f"bench-{i}")
            if job is None:
                break
            q.ack(job)
            out.append(time.perf_counter() - t0)
        q.ledger.close()
        return out

    enq_s, enq_lat = _run_threads(threads, enqueue)
    cyc_s, cyc_lat = _run_threads(threads, cycle)
    done = Ledger(path)
    completed = done.db.conn.execute("SELECT COUNT(*) FROM jobs WHERE state = 'done'").fetchone()[0]
    done.close()
    ms = 1000.0
    return {
        "threads": threads,
        "jobs": per_thread * threads,
        "enqueue_per_s": round(len(enq_lat) / enq_s, 1),
        "enqueue_p50_ms": round(_percentile(enq_lat, 50) * ms, 3),
        "enqueue_p99_ms": round(_percentile(enq_lat, 99) * ms, 3),
        "cycles_per_s": round(len(cyc_lat) / cyc_s, 1),
        "cycle_p50_ms": round(_percentile(cyc_lat, 50) * ms, 3),
        "cycle_p99_ms": round(_percentile(cyc_lat, 99) * ms, 3),
        "completed": completed,
    }


@bench.command("queue")
@click.option(
    "--jobs", default=4000, show_default=True, type=int, help="Jobs per thread-count run."
)
@click.option(
    "--threads",
    "thread_counts",
    default="1,4,16",
    show_default=True,
    help="Comma list of thread counts.",
)
@click.option(
    "--dir",
    "db_dir",
    type=click.Path(file_okay=False),
    help="Where to put the WAL databases (default: a temporary directory on disk).",
)
def bench_queue(jobs: int, thread_counts: str, db_dir: str | None) -> None:
    """Enqueue throughput and claim→ack cycles/s with p50/p99 latency on a file-backed WAL ledger.

    Example: deskguard bench queue --jobs 4000 --threads 1,4,16
    """
    import json
    import os
    import platform
    import tempfile

    counts = [int(c) for c in thread_counts.split(",") if c.strip()]
    with tempfile.TemporaryDirectory(prefix="deskguard-bench-") as tmp:
        results = [queue_benchmark(db_dir or tmp, n, jobs) for n in counts]
    click.echo(
        json.dumps(
            {
                "benchmark": "queue",
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                "results": results,
            },
            indent=2,
        )
    )
