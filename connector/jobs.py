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
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from connector import worker
from connector.commerce.approvals import EXECUTE_JOB, execute_job
from connector.commerce.disputes import handle_dispute
from connector.commerce.stripe_webhooks import DISPUTE_JOB
from connector.worker import Handler
from connector.zendesk.batch import BATCH_KIND
from connector.zendesk.handlers import handle_batch, handle_ticket
from connector.zendesk.intake import JOB_KIND as TICKET_KIND

if TYPE_CHECKING:
    from connector.runtime import Runtime

JOB_HANDLERS: dict[str, Handler] = {
    TICKET_KIND: handle_ticket,
    BATCH_KIND: handle_batch,
    DISPUTE_JOB: handle_dispute,
    EXECUTE_JOB: execute_job,
}


def drain(runtime: Runtime, **kwargs: int | tuple[str, ...] | None) -> int:
    """Process every ready job in this thread (tests, ``demo --once``, replay)."""
    return worker.drain(runtime, JOB_HANDLERS, **kwargs)  # type: ignore[arg-type]


def worker_pool(runtime: Runtime, threads: int, **kwargs: float) -> worker.WorkerPool:
    return worker.WorkerPool(runtime, JOB_HANDLERS, threads, **kwargs)  # type: ignore[arg-type]
