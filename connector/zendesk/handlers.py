"""The ``zendesk.ticket`` job handler: hand a ticket change to the decision pipeline.

Before any Zendesk call, a job for a ticket version Deskguard itself produced (its own note or
reply coming back through the trigger) is acknowledged and audited as an echo: zero API calls.
Everything else goes to ``connector.pipeline.process_ticket``, which reads the ticket through
the adapter and applies ``connector.zendesk.loop_safety.needs_processing``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from connector import audit, logs
from connector.db import transaction
from connector.queue import Job
from connector.zendesk.events import OwnEchoSkipped
from connector.zendesk.service import is_own_update

if TYPE_CHECKING:
    from connector.runtime import Runtime

LOG = logs.get("zendesk.handler")


def handle_ticket(runtime: Runtime, job: Job) -> None:
    ticket_id = int(job.payload["ticket_id"])
    updated_at = job.payload.get("updated_at")
    db = runtime.db
    if updated_at and is_own_update(db, job.tenant_id, ticket_id, updated_at):
        with transaction(db):
            audit.record(
                db,
                job.tenant_id,
                OwnEchoSkipped(
                    updated_at=updated_at,
                    source=job.payload.get("source", ""),
                    ticket_id=ticket_id,
                    job_id=job.id,
                ),
            )
        logs.log(LOG, logging.INFO, "zendesk.own_echo_skipped", api_calls=0)
        return
    from connector.pipeline.engine import process_ticket

    desk = runtime.services(job.tenant_id).require_desk()
    before = getattr(desk, "thread_api_calls", 0)
    result = process_ticket(runtime, job.tenant_id, ticket_id, job=job)
    logs.log(
        LOG,
        logging.INFO,
        "zendesk.ticket_processed",
        outcome=getattr(result, "outcome", None),
        reason=getattr(result, "reason", None),
        api_calls=getattr(desk, "thread_api_calls", 0) - before,
    )
