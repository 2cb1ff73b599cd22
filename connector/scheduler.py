"""The APScheduler scheduler: polling, kill-switch sync and other periodic work.

It runs in exactly one process: ``deskguard worker`` starts it when
``DESKGUARD_RUN_SCHEDULER=true`` (the default), ``deskguard serve`` (gunicorn, N web workers)
never does, and ``deskguard scheduler`` runs it alone. The process that runs it holds the
``scheduler`` leader lease in the ledger (connector/leases.py), renewed every third of
``DESKGUARD_SCHEDULER_LEASE_SECONDS``; a second process that tries to start it is refused while
the lease is held, so running two workers by mistake (on one machine or several sharing the
ledger) cannot double every poll. A leader that crashed is replaced once its lease expires; a
leader that finds the lease taken by another process stops its scheduler.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.background import BackgroundScheduler

from connector import audit, leases, logs
from connector.commerce import privacy
from connector.db import DatabaseErrors
from connector.errors import ConfigError, TransientError
from connector.pipeline import killswitch
from connector.zendesk import poller

if TYPE_CHECKING:
    from connector.db import Ledger
    from connector.runtime import Runtime

LOG = logs.get("scheduler")
LEASE_NAME = "scheduler"

# A lease read or write that failed in the ledger (either engine), not in our code.
LEDGER_FAILURES: tuple[type[Exception], ...] = (*DatabaseErrors, TransientError)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


class SchedulerLease:
    """This process's claim on the ``scheduler`` lease, and the thread that keeps it."""

    def __init__(self, ledger: Ledger, ttl: float, *, clock: Callable[[], float] = time.time):
        self.ledger = ledger
        self.ttl = ttl
        self.clock = clock
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.expires_at = 0.0  # of the last acquire or renewal that succeeded
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._scheduler: BackgroundScheduler | None = None

    def acquire(self) -> bool:
        now = self.clock()
        if not leases.acquire(self.ledger.db, LEASE_NAME, self.owner, self.ttl, now):
            return False
        self.expires_at = now + self.ttl
        return True

    def holder(self) -> leases.Lease | None:
        return leases.holder(self.ledger.db, LEASE_NAME, self.clock())

    def keep(self, scheduler: BackgroundScheduler) -> None:
        """Renew the lease every ttl/3 from a daemon thread until ``release``; stop
        ``scheduler`` if the lease is lost."""
        self._scheduler = scheduler
        self._thread = threading.Thread(target=self._run, name="scheduler-lease", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.ttl / 3):
                if not self.renew_once():
                    return
        finally:
            self.ledger.release()  # this thread's connection

    def renew_once(self) -> bool:
        """One renewal; False (and the scheduler stopped) when the lease is no longer ours."""
        now = self.clock()
        try:
            renewed = leases.renew(self.ledger.db, LEASE_NAME, self.owner, self.ttl, now)
        except LEDGER_FAILURES as exc:
            if now < self.expires_at:  # still ours for a while: try again next time
                LOG.exception("scheduler.lease_renew_error", extra={"fields": {"error": str(exc)}})
                return True
            self._lost(f"could not renew it before it expired ({exc})")
            return False
        if not renewed:
            other = leases.holder(self.ledger.db, LEASE_NAME, now)
            self._lost(f"held by {other.owner}" if other else "the row was removed")
            return False
        self.expires_at = now + self.ttl
        return True

    def _lost(self, why: str) -> None:
        LOG.error(
            "scheduler.lease_lost",
            extra={"fields": {"owner": self.owner, "reason": why, "action": "scheduler stopped"}},
        )
        scheduler = self._scheduler
        if scheduler is not None and scheduler.running:
            with contextlib.suppress(SchedulerNotRunningError):  # stopped meanwhile by `stop`
                scheduler.shutdown(wait=False)

    def release(self) -> None:
        """Stop renewing and give the lease back (a failure here only means the next scheduler
        waits for the lease to expire)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)
        try:
            leases.release(self.ledger.db, LEASE_NAME, self.owner)
        except LEDGER_FAILURES as exc:
            LOG.exception("scheduler.lease_release_error", extra={"fields": {"error": str(exc)}})


def build(runtime: Runtime) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30},
        timezone="UTC",
    )
    # Every periodic job, by name: the incremental-export poll per tenant and ledger pruning
    # (connector/zendesk/poller.py), and the kill-switch sync from the Zendesk app's settings
    # (connector/pipeline/killswitch.py).
    poller.register_schedules(scheduler, runtime)
    killswitch.register_schedules(scheduler, runtime)
    privacy.register_schedules(scheduler, runtime)  # expired data-request export files
    audit.register_schedules(scheduler, runtime)  # the signed audit head, to the log and a file
    return scheduler


def start(runtime: Runtime) -> tuple[BackgroundScheduler, SchedulerLease]:
    lease = SchedulerLease(runtime.ledger, runtime.config.scheduler_lease_seconds)
    if not lease.acquire():
        other = lease.holder()
        held = (
            f"lease held by {other.owner} until {_iso(other.expires_at)}" if other else "lease held"
        )
        raise ConfigError(
            f"another process already runs the scheduler ({held}); "
            "run exactly one `deskguard worker` with DESKGUARD_RUN_SCHEDULER=true"
        )
    try:
        scheduler = build(runtime)
        scheduler.start()
    except BaseException:
        lease.release()
        raise
    lease.keep(scheduler)
    LOG.info(
        "scheduler.started",
        extra={"fields": {"jobs": [j.id for j in scheduler.get_jobs()], "lease": lease.owner}},
    )
    return scheduler, lease


def try_start(runtime: Runtime) -> tuple[BackgroundScheduler, SchedulerLease] | None:
    """``start``, or None while another live process holds the lease (a standby's attempt)."""
    try:
        return start(runtime)
    except ConfigError as exc:
        if "already runs the scheduler" not in str(exc):
            raise
        return None


def stop(scheduler: BackgroundScheduler, lease: SchedulerLease) -> None:
    """Shut the scheduler down (unless a lost lease already did) and give the lease back."""
    if scheduler.running:
        # the lease thread may stop it between the check and the call
        with contextlib.suppress(SchedulerNotRunningError):
            scheduler.shutdown(wait=False)
    lease.release()
