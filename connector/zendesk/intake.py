"""The one way a ticket change enters the queue, shared by the webhook and the poller.

Job contract with the pipeline: kind ``zendesk.ticket``, payload
``{"ticket_id": int, "updated_at": str, "source": "webhook" | "poll"}``. The dedupe key is the
ticket id plus its normalised ``updated_at`` (the queue makes it unique per tenant), so a webhook
and the poller reporting the same change produce one job, and so do duplicate deliveries.
"""

from __future__ import annotations

from connector.queue import Queue
from connector.zendesk.service import normalize_updated_at

JOB_KIND = "zendesk.ticket"
SOURCES = ("webhook", "poll")


def dedupe_key(ticket_id: int, updated_at: str) -> str:
    return f"{JOB_KIND}:{int(ticket_id)}:{normalize_updated_at(updated_at)}"


def enqueue_ticket(queue: Queue, tenant_id: str, ticket_id: int, updated_at: str, source: str) -> tuple[int, bool]:
    """Enqueue one ticket change; returns (job id, created). Duplicate changes return the first job."""
    if source not in SOURCES:
        raise ValueError(f"unknown intake source {source!r}")
    version = normalize_updated_at(updated_at)
    payload = {"ticket_id": int(ticket_id), "updated_at": version, "source": source}
    return queue.enqueue(tenant_id, JOB_KIND, payload, dedupe_key(ticket_id, version))
