"""The APScheduler scheduler: polling, kill-switch sync and other periodic work.

It runs in exactly one process: ``deskguard worker`` starts it when
``DESKGUARD_RUN_SCHEDULER=true`` (the default), ``deskguard serve`` (gunicorn, N web workers)
never does, and ``deskguard scheduler`` runs it alone. A second process that tries to start it
is refused by an exclusive lock file next to the ledger (``<db>.scheduler.lock``), so running
two workers by mistake cannot double every poll.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO, TYPE_CHECKING

from apscheduler.schedulers.background import BackgroundScheduler

from connector import audit, logs
from connector.commerce import privacy
from connector.errors import ConfigError
from connector.pipeline import killswitch
from connector.zendesk import poller

if TYPE_CHECKING:
    from connector.runtime import Runtime

LOG = logs.get("scheduler")


class SchedulerLock:
    def __init__(self, db_path: str):
        # realpath: the same ledger reached through a symlink (or a relative path from another
        # directory) must map to the same lock file, or a second scheduler would start.
        self.path = Path(f"{os.path.realpath(db_path)}.scheduler.lock")
        self._fh: IO[str] | None = None

    def acquire(self) -> bool:
        self._fh = fh = open(self.path, "w")  # noqa: SIM115 - held for the life of the process
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            self._fh = None
            return False
        fh.write(str(os.getpid()))
        fh.flush()
        return True

    def release(self) -> None:
        if self._fh:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


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


def start(runtime: Runtime) -> tuple[BackgroundScheduler, SchedulerLock]:
    lock = SchedulerLock(runtime.config.db_path)
    if not lock.acquire():
        raise ConfigError(
            f"another process already runs the scheduler (lock {lock.path}); "
            "run exactly one `deskguard worker` with DESKGUARD_RUN_SCHEDULER=true"
        )
    scheduler = build(runtime)
    scheduler.start()
    LOG.info("scheduler.started", extra={"fields": {"jobs": [j.id for j in scheduler.get_jobs()]}})
    return scheduler, lock
