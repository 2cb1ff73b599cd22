"""Typed audit events of the panel area: one dataclass per thing that happens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from connector import audit


# --- auth --------------------------------------------------------------------------------------
@audit.event
@dataclass(frozen=True)
class AppTokenIssued(audit.Event):
    kind: ClassVar[str] = "app.token_issued"
    token_id: int
    prefix: str
    label: str


@audit.event
@dataclass(frozen=True)
class AppTokenRevoked(audit.Event):
    kind: ClassVar[str] = "app.token_revoked"
    token_id: int
    prefix: str


# --- ticket view -------------------------------------------------------------------------------
@audit.event
@dataclass(frozen=True)
class FeedbackRecorded(audit.Event):
    kind: ClassVar[str] = "feedback.recorded"
    decision_id: int
    agent_id: str
    verdict: str
    correct_category: str | None
    predicted_category: str | None
    source: str = "panel"


# --- identity ----------------------------------------------------------------------------------
@audit.event
@dataclass(frozen=True)
class PanelPermissionDenied(audit.Event):
    kind: ClassVar[str] = "app.permission_denied"
    agent_id: str
    action: str
    reason: str
    claimed_role: str
    zendesk_role: str | None
