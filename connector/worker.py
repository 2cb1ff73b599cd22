"""Workers: threads that claim jobs from the durable queue and run their handlers.

The table from job kind to handler is passed in (the product's is ``connector/jobs.py``:
``JOB_HANDLERS``); a handler is called as ``fn(runtime, job)``. A job of a kind the table does
not name is dead-lettered. The outcome decides what happens to the job:

- returns normally → ack
- raises ``KillSwitchEngaged`` → parked (no attempt spent; claimed again once the switch is off)
- raises an error with ``should_retry`` → backoff retry, honouring ``retry_after``
- raises anything else → also retried (a bug may be transient), until max attempts → dead
- raises ``PermanentError`` → dead-lettered at once
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from connector import logs
from connector.errors import KillSwitchEngaged, PermanentError
from connector.queue import Job

if TYPE_CHECKING:
    from connector.runtime import Runtime

Handler = Callable[["Runtime", Job], None]
Handlers = Mapping[str, Handler]
LOG = logs.get("worker")


def owner_id(thread: int = 0) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{thread}:{uuid.uuid4().hex[:6]}"


def run_one(
    runtime: Runtime, handlers: Handlers, owner: str, *, kinds: tuple[str, ...] | None = None
) -> Job | None:
    """Claim and process at most one job. Returns the job, or None when nothing was ready."""
    job = runtime.queue.claim(owner, kinds=kinds)
    if job is None:
        return None
    fn = handlers.get(job.kind)
    payload_ticket = job.payload.get("ticket_id") if isinstance(job.payload, dict) else None
    with logs.bind(tenant=job.tenant_id, job=job.id, ticket=payload_ticket, kind=job.kind):
        started = time.perf_counter()
        try:
            if fn is None:
                raise PermanentError(f"no handler for job kind {job.kind!r}")
            fn(runtime, job)
        except KillSwitchEngaged as exc:
            # Held, not spun: the job waits in the queue until the switch is off.
            runtime.queue.park(job, str(exc))
            logs.log(LOG, logging.INFO, "job.parked", reason="kill_switch")
        except Exception as exc:
            permanent = isinstance(exc, PermanentError) or (
                hasattr(exc, "should_retry") and not exc.should_retry
            )
            state = runtime.queue.fail(
                job,
                f"{type(exc).__name__}: {exc}",
                retry_after=getattr(exc, "retry_after", None),
                permanent=permanent,
            )
            logs.log(
                LOG,
                logging.WARNING if state == "queued" else logging.ERROR,
                "job.failed",
                error=f"{type(exc).__name__}: {exc}",
                state=state,
                attempts=job.attempts,
            )
        else:
            if runtime.queue.ack(job):
                logs.log(
                    LOG,
                    logging.INFO,
                    "job.done",
                    ms=round((time.perf_counter() - started) * 1000, 1),
                )
            else:
                logs.log(LOG, logging.WARNING, "job.lease_lost")
    return job


class WorkerPool:
    """N threads running ``run_one`` until stopped."""

    def __init__(
        self,
        runtime: Runtime,
        handlers: Handlers,
        threads: int,
        *,
        idle_sleep: float = 0.2,
        kinds: tuple[str, ...] | None = None,
        maintenance: Callable[[Runtime], object] | None = None,
        maintenance_seconds: float = 60.0,
    ) -> None:
        self.runtime = runtime
        self.maintenance = maintenance  # e.g. the reconciler: at start, then every N seconds
        self.maintenance_seconds = maintenance_seconds
        self.handlers = handlers
        self.threads = threads
        self.idle_sleep = idle_sleep
        self.kinds = kinds
        self.stop_event = threading.Event()
        self._threads: list[threading.Thread] = []

    def _loop(self, index: int) -> None:
        owner = owner_id(index)
        while not self.stop_event.is_set():
            try:
                job = run_one(self.runtime, self.handlers, owner, kinds=self.kinds)
            except Exception:
                LOG.exception("worker.loop_error")
                job = None
            if job is None:
                self.stop_event.wait(self.idle_sleep)

    def _maintain(self) -> None:
        assert self.maintenance is not None
        while True:
            try:
                self.maintenance(self.runtime)
            except Exception:
                LOG.exception("worker.maintenance_error")
            if self.stop_event.wait(self.maintenance_seconds):
                return

    def start(self) -> None:
        if self.maintenance is not None:
            t = threading.Thread(target=self._maintain, name="deskguard-maintenance", daemon=True)
            t.start()
            self._threads.append(t)
        for i in range(self.threads):
            t = threading.Thread(
                target=self._loop, args=(i,), name=f"deskguard-worker-{i}", daemon=True
            )
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        for t in self._threads:
            t.join(timeout)
        self._threads.clear()


def drain(
    runtime: Runtime,
    handlers: Handlers,
    *,
    max_jobs: int = 10_000,
    kinds: tuple[str, ...] | None = None,
) -> int:
    """Process ready jobs in this thread until none is ready (tests, demo --once, replay)."""
    owner = owner_id()
    n = 0
    while n < max_jobs and run_one(runtime, handlers, owner, kinds=kinds) is not None:
        n += 1
    return n


def stop_on_signals() -> threading.Event:
    """An event set by SIGINT or SIGTERM. A worker installs it before anything slow (migrations,
    the scheduler, threads), so a stop request that arrives while it is still starting ends it
    cleanly (exit 0) instead of killing it half-started."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop
