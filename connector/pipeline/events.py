"""Audit events of one decision. Together with the ``action.*`` events of connector/actions.py
they form the decision's chain in the audit log, all carrying the same ticket id and job id:

decision.input → decision.reading → decision.policy → decision.output → action.requested →
action.succeeded | action.failed | action.blocked → decision.completed
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from connector import audit


@audit.event
@dataclass(frozen=True)
class DecisionInput(audit.Event):
    """The redacted text the classifier saw, and its digest (what left the machine, if anything)."""

    kind: ClassVar[str] = "decision.input"
    decision_id: int
    version: str
    snapshot: dict[str, str]
    digest: str
    redactions: dict[str, int]  # placeholder kind -> count (never the values)


@audit.event
@dataclass(frozen=True)
class DecisionReading(audit.Event):
    kind: ClassVar[str] = "decision.reading"
    decision_id: int
    reading: dict[str, Any]
    engine: str
    model: str
    input_tokens: int
    output_tokens: int
    cost_usd: float


@audit.event
@dataclass(frozen=True)
class DecisionPolicy(audit.Event):
    kind: ClassVar[str] = "decision.policy"
    decision_id: int
    configured_mode: str
    mode: str
    outcome: str
    rule: str
    reason: str
    trace: list[dict[str, Any]]
    escalated: bool
    would_automate: bool


@audit.event
@dataclass(frozen=True)
class DecisionOutput(audit.Event):
    kind: ClassVar[str] = "decision.output"
    decision_id: int
    brief: str
    suggested_reply: str
    reply_source: str
    public_reply: str  # empty unless the outcome is an automated public reply


@audit.event
@dataclass(frozen=True)
class DecisionCompleted(audit.Event):
    kind: ClassVar[str] = "decision.completed"
    decision_id: int
    status: str  # done | deferred | failed
    outcome: str
    action: str
    result: dict[str, Any]
    stage_ms: dict[str, float]
    total_ms: float


@audit.event
@dataclass(frozen=True)
class PipelineSkipped(audit.Event):
    kind: ClassVar[str] = "pipeline.skipped"
    reason: str
    version: str = ""


@audit.event
@dataclass(frozen=True)
class KillSwitchSynced(audit.Event):
    """The kill switch followed a change of the Zendesk app's ``kill_switch`` setting."""

    kind: ClassVar[str] = "kill_switch.synced"
    on: bool
    source: str
    latency_hint_s: float


@audit.event
@dataclass(frozen=True)
class ReplayCompleted(audit.Event):
    kind: ClassVar[str] = "replay.completed"
    since: str
    tickets: int
    report: dict[str, Any]


# --- policy ------------------------------------------------------------------------------------
@audit.event
@dataclass(frozen=True)
class GoLiveOverridden(audit.Event):
    kind: ClassVar[str] = "policy.go_live_overridden"
    category: str
    actor: str
    reason: str
    agreement: float | None
    tickets: int


# --- golive ------------------------------------------------------------------------------------
@audit.event
@dataclass(frozen=True)
class TagFeedbackRecorded(audit.Event):
    kind: ClassVar[str] = "feedback.from_tag"
    predicted: str
    agent_category: str
    verdict: str
