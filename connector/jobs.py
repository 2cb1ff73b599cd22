"""The worker's one table: which function handles each kind of job in the durable queue.

Job kinds and their payloads (docs/architecture.md lists them too):

- ``zendesk.ticket``: ``{"ticket_id", "updated_at", "source"}`` from a webhook, the poller or a
  batch hand-off; runs the decision pipeline for one ticket event.
- ``zendesk.batch``: ``{"tickets": [{"ticket_id", "updated_at"}, ...], "source"}``: up to 100
  tickets of a polled backlog, read in one request (members tracked in ``zendesk_batch_tickets``).
- ``stripe.dispute``: ``{"event_id", "type", "object"}`` (the Stripe dispute object) from a Stripe
  webhook; posts a dispute brief to a Zendesk ticket.
- ``approvals.execute``: ``{"approval_id", "ticket_id"}``; runs a refund or cancellation an agent
  approved.
- ``console.replay``: ``{"replay_id"}``; a replay an admin started in the console (report stored
  in ``console_replays``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from connector import actions, logs, worker
from connector.commerce.approvals import EXECUTE_JOB, execute_job
from connector.commerce.disputes import brief_lookup, handle_dispute
from connector.commerce.stripe_webhooks import DISPUTE_JOB
from connector.console.replays import JOB_KIND as CONSOLE_REPLAY_KIND
from connector.console.replays import handle_replay
from connector.pipeline.engine import complete_finished_writes, complete_reconciled
from connector.worker import Handler
from connector.zendesk.batch import BATCH_KIND
from connector.zendesk.handlers import comment_lookup, handle_batch, handle_ticket
from connector.zendesk.intake import JOB_KIND as TICKET_KIND

if TYPE_CHECKING:
    from connector.runtime import Runtime

LOG = logs.get("reconcile")
Lookup = Callable[[str], dict[str, Any] | None]

JOB_HANDLERS: dict[str, Handler] = {
    TICKET_KIND: handle_ticket,
    BATCH_KIND: handle_batch,
    DISPUTE_JOB: handle_dispute,
    EXECUTE_JOB: execute_job,
    CONSOLE_REPLAY_KIND: handle_replay,
}


# How the reconciler asks the vendor whether an interrupted write landed, per action kind. Kinds
# not named here (Stripe and Shopify writes of approvals) are finished by their own job's re-run,
# which reconciles through the same key (Stripe's Idempotency-Key replays the first result).
RECONCILE_LOOKUPS: tuple[Callable[[Runtime, actions.Interrupted], Lookup | None], ...] = (
    comment_lookup,
    brief_lookup,
)


def reconcile(runtime: Runtime) -> dict[str, int]:
    """Finish every write a crash left ``sending`` (lease expired): found at the vendor → done,
    and the decision it belonged to completed; not found → failed, so the job's next run sends it.
    Run at worker start and every DESKGUARD_RECONCILE_INTERVAL_SECONDS."""
    counts = {"done": 0, "failed": 0, "skipped": 0, "decisions": 0}
    db = runtime.db
    for action in actions.interrupted(db):
        lookup = None
        try:
            for find in RECONCILE_LOOKUPS:
                lookup = lookup or find(runtime, action)
            state = actions.finish_interrupted(db, action, lookup) if lookup else None
        except Exception as exc:  # a vendor outage: the next round tries again
            logs.log(LOG, logging.WARNING, "reconcile.failed", action=action.id, error=str(exc))
            state = None
        counts[state or "skipped"] += 1
        if state == "done" and action.ticket_id:
            stored = db.conn.execute(
                "SELECT result FROM actions WHERE id = ?", (action.id,)
            ).fetchone()[0]
            result = {"action_id": action.id, "state": "done", **json.loads(stored or "{}")}
            counts["decisions"] += len(
                complete_reconciled(
                    runtime,
                    action.tenant_id,
                    int(action.ticket_id),
                    action.idempotency_key,
                    action.kind,
                    result,
                )
            )
    counts["decisions"] += len(
        complete_finished_writes(runtime, older_than_s=float(runtime.config.queue_lease_seconds))
    )
    if any(counts[k] for k in ("done", "failed", "decisions")):
        logs.log(LOG, logging.WARNING, "reconcile.finished", **counts)
    return counts


def drain(runtime: Runtime, **kwargs: int | tuple[str, ...] | None) -> int:
    """Process every ready job in this thread (tests, ``demo --once``, replay)."""
    return worker.drain(runtime, JOB_HANDLERS, **kwargs)  # type: ignore[arg-type]


def worker_pool(runtime: Runtime, threads: int, **kwargs: float) -> worker.WorkerPool:
    """The worker threads, with the reconciler run at start and on a schedule."""
    return worker.WorkerPool(
        runtime,
        JOB_HANDLERS,
        threads,
        maintenance=reconcile,
        maintenance_seconds=float(runtime.config.reconcile_interval_seconds),
        **kwargs,  # type: ignore[arg-type]
    )
