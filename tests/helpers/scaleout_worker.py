"""A worker process for the scale-out test (tests/test_scaleout.py): the product's WorkerPool,
queue, caps, actions and audit on the shared ledger, with one test handler for the webhook's
``zendesk.ticket`` jobs.

Each job reserves an automated-reply slot (``caps.reserve``, per-hour cap CAP) and, when it gets
one, makes one vendor write through ``connector.actions`` to the naive vendor file of
``vendor_file.py`` (a double send shows up as two rows; ``reconcile`` looks the key up there).

With PAUSE_TICKET=<id>, whichever worker takes that ticket writes its pid to <vendor>.paused
right after the vendor write, before the outcome is recorded, and hangs: the worst moment to be
killed. The process runs until SIGTERM; it prints "ready" once its threads run.

    python scaleout_worker.py LEDGER_URL VENDOR_FILE
"""

import os
import signal
import sys
import threading
import time
from pathlib import Path

from vendor_file import VendorFile

from connector import actions
from connector.cli_context import ledger_overrides
from connector.pipeline import caps
from connector.runtime import Runtime
from connector.worker import WorkerPool

LEDGER, VENDOR = sys.argv[1], sys.argv[2]
CAP = int(os.environ["CAP"])
PAUSE_TICKET = int(os.environ.get("PAUSE_TICKET", "-1"))


VENDOR_FILE = VendorFile(VENDOR)


def reply(runtime, job):
    ticket = int(job.payload["ticket_id"])
    key = f"reply-{ticket}"
    slot = caps.reserve(runtime.db, job.tenant_id, key, per_hour=CAP, per_day=CAP * 10)
    if not slot.allowed:
        return  # over the cap: no automated reply (the pipeline would fall back to assist)

    def send(key):
        VENDOR_FILE.apply(key, ticket)
        if ticket == PAUSE_TICKET:
            Path(VENDOR + ".paused").write_text(str(os.getpid()))
            time.sleep(3600)  # killed here
        return {"applied": key}

    actions.execute(
        runtime.db,
        job.tenant_id,
        actions.WriteAction(
            "zendesk",
            "scaleout.reply",
            key,
            {"ticket_id": ticket},
            send=send,
            reconcile=VENDOR_FILE.applied,
            job_id=job.id,
            lease_seconds=1.0,
        ),
    )


if __name__ == "__main__":
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    rt = Runtime(
        {
            **ledger_overrides(LEDGER),
            "tenant_id": "acme",
            "queue_lease_seconds": "1",
            "queue_backoff_base": "0.05",
        }
    )
    pool = WorkerPool(rt, {"zendesk.ticket": reply}, 3, idle_sleep=0.05)
    pool.start()
    print("ready", file=sys.stderr, flush=True)
    stop.wait()
    pool.stop()
    rt.close()
