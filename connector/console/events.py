"""Audit events of the admin console: who signed in, who was refused or signed out, replays."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from connector import audit


@audit.event
@dataclass(frozen=True)
class ConsoleSignedIn(audit.Event):
    """A Zendesk admin signed in to the console (``via``: zendesk or zendesk_app)."""

    kind: ClassVar[str] = "console.signed_in"
    via: str
    zendesk_user_id: int
    name: str
    email: str


@audit.event
@dataclass(frozen=True)
class ConsoleSignInRefused(audit.Event):
    kind: ClassVar[str] = "console.sign_in_refused"
    via: str
    zendesk_user_id: int
    role: str
    reason: str


@audit.event
@dataclass(frozen=True)
class ConsoleAccessRevoked(audit.Event):
    """The role re-check found the person is no longer an admin: their sessions were revoked."""

    kind: ClassVar[str] = "console.access_revoked"
    zendesk_user_id: int
    role: str
    sessions: int


@audit.event
@dataclass(frozen=True)
class ReplayRequested(audit.Event):
    kind: ClassVar[str] = "console.replay_requested"
    replay_id: int
    days: int
    requested_by: str
