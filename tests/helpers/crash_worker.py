"""A worker process for the crash test (tests/test_crash.py).

Each `crashtest.effect` job performs one vendor write through connector.actions. The "vendor" is
a separate SQLite file that naively appends a row per call (no dedupe of its own), so a double
send would show up as two rows. `reconcile` asks the vendor whether the key was already applied,
the way the Zendesk adapter looks for its marker in the ticket's comments.

With PAUSE_AFTER_SEND=<i>, the worker signals (by creating <vendor>.paused) right after the vendor
write for job i, before the outcome is recorded, and hangs there: the worst moment to be killed.
"""

import os
import sys
import time
from pathlib import Path

from vendor_file import VendorFile

from connector import actions
from connector.cli_context import ledger_overrides
from connector.runtime import Runtime
from connector.worker import WorkerPool

DB, VENDOR = sys.argv[1], sys.argv[2]
PAUSE_AT = int(os.environ.get("PAUSE_AFTER_SEND", "-1"))


VENDOR_FILE = VendorFile(VENDOR, timeout=10)


def effect(runtime, job):
    i = job.payload["i"]

    def send(key):
        VENDOR_FILE.apply(key, i)
        if i == PAUSE_AT:
            Path(VENDOR + ".paused").touch()
            time.sleep(60)
        time.sleep(0.005)  # a little work after the write, widening the window for a random kill
        return {"applied": key}

    actions.execute(
        runtime.db,
        job.tenant_id,
        actions.WriteAction(
            "zendesk",
            "crashtest.note",
            f"crash-{i}",
            {"i": i},
            send=send,
            reconcile=VENDOR_FILE.applied,
            job_id=job.id,
            lease_seconds=1.0,
        ),
    )


HANDLERS = {"crashtest.effect": effect}


if __name__ == "__main__":
    rt = Runtime(
        {
            **ledger_overrides(DB),
            "secret_keys": None,
            "tenant_id": "acme",
            "queue_lease_seconds": "1",
            "queue_backoff_base": "0.05",
        }
    )
    pool = WorkerPool(rt, HANDLERS, 4, idle_sleep=0.05)
    pool.start()
    deadline = time.time() + 60
    while time.time() < deadline:
        if rt.queue.status()["depth"] == 0:
            break
        time.sleep(0.1)
    pool.stop()
    print("drained", flush=True)
