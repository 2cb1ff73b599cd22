"""Audit events of the Zendesk intake (typed, one per thing that happens)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from connector import audit


@audit.event
@dataclass(frozen=True)
class OwnEchoSkipped(audit.Event):
    """A ticket event caused by Deskguard's own write was acknowledged without calling Zendesk."""

    kind: ClassVar[str] = "zendesk.own_echo_skipped"
    updated_at: str
    source: str


@audit.event
@dataclass(frozen=True)
class ZendeskSetupCompleted(audit.Event):
    kind: ClassVar[str] = "zendesk.setup_completed"
    webhook_id: str
    webhook_endpoint: str
    trigger_id: int
    webhook_created: bool
    trigger_created: bool
    secret_changed: bool
    api_user_id: int


@audit.event
@dataclass(frozen=True)
class PollCursorReset(audit.Event):
    kind: ClassVar[str] = "zendesk.poll_cursor_reset"
    start_time: int
    actor: str


@audit.event
@dataclass(frozen=True)
class BatchTicketHandedOff(audit.Event):
    """A ticket version in a ``zendesk.batch`` job failed with a non-retryable error and was given
    its own ``zendesk.ticket`` job (its own attempts and dead-letter entry); the batch went on."""

    kind: ClassVar[str] = "zendesk.batch_ticket_handed_off"
    updated_at: str
    error: str
    single_job_id: int
