"""The typed values that flow through the pipeline: each stage takes and returns one context
object; ``engine.process_ticket`` orders the stages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from connector.domain import (
    Comment,
    CustomerSummary,
    Order,
    PaymentContext,
    Reading,
    Ticket,
    TicketText,
)
from connector.pipeline.policy import CategoryPolicy, Policy

if TYPE_CHECKING:
    from connector.pipeline.proposals import Proposal

T = TypeVar("T")

# Outcomes written to decisions.outcome
SKIP = "skip"
OFF = "off"
SHADOW = "shadow"
ASSIST_NOTE = "assist_note"
ESCALATE = "escalate"
AUTO_REPLY = "auto_reply"
OUTCOMES = (SKIP, OFF, SHADOW, ASSIST_NOTE, ESCALATE, AUTO_REPLY)


@dataclass(frozen=True)
class RuleVerdict:
    """One line of the policy trace: which rule looked, what it said, and why."""

    rule: str
    verdict: (
        str  # pass | fail | escalate | info | n/a; proposal rules: propose | blocked | info | n/a
    )
    detail: str = ""
    tag: str | None = None  # Zendesk tag the rule adds when it fires
    priority: str | None = None  # Zendesk priority the rule asks for when it escalates

    def as_dict(self) -> dict[str, Any]:
        d = {"rule": self.rule, "verdict": self.verdict, "detail": self.detail}
        if self.tag:
            d["tag"] = self.tag
        if self.priority:
            d["priority"] = self.priority
        return d


@dataclass(frozen=True)
class SuggestedReply:
    text: str
    source: str  # template | claude | wismo
    language: str = "en"
    problems: tuple[str, ...] = ()  # why the promise checker rejected it (empty: it passed)

    @property
    def ok(self) -> bool:
        return bool(self.text) and not self.problems


@dataclass(frozen=True)
class Decision:
    configured_mode: str  # the category's mode in the policy
    mode: str  # after the rollout step-down
    outcome: str  # one of OUTCOMES
    rule: str  # the rule that decided
    reason: str  # one readable sentence
    trace: tuple[RuleVerdict, ...] = ()
    escalated: bool = False
    priority: str | None = None
    tags: tuple[str, ...] = ()
    would_automate: bool = False  # every auto gate passed and nothing escalated (caps aside)
    fallback_gate: str | None = None  # auto → assist: the gate that failed

    def with_outcome(
        self, outcome: str, rule: str, reason: str, *extra: RuleVerdict, tags: tuple[str, ...] = ()
    ) -> Decision:
        from dataclasses import replace

        return replace(
            self,
            outcome=outcome,
            rule=rule,
            reason=reason,
            trace=(*self.trace, *extra),
            tags=tuple(dict.fromkeys((*self.tags, *tags))),
            fallback_gate=rule
            if outcome == ASSIST_NOTE and self.outcome == AUTO_REPLY
            else self.fallback_gate,
        )


@dataclass
class Enrichment:
    orders: list[Order] = field(
        default_factory=list
    )  # visible to this requester (privacy rule applied)
    hidden_orders: int = 0  # orders found but withheld by the privacy rule
    customer: CustomerSummary | None = None
    payments: PaymentContext | None = None
    notes: list[str] = field(default_factory=list)  # e.g. "Shopify unavailable: no order context"
    agent_order_summaries: list[str] = field(default_factory=list)


@dataclass
class TicketContext:
    """Everything one run of the pipeline knows about one ticket event."""

    tenant_id: str
    ticket_id: int
    job_id: int | None = None
    dry_run: bool = False  # replay: decide in shadow, write nothing anywhere but the report
    policy: Policy | None = None
    ticket: Ticket | None = None
    latest: Comment | None = None
    version: str = ""  # the latest person comment id (or updated_at): part of every idempotency key
    stop: str | None = None  # set by a stage to end the run early (e.g. nothing new from a person)
    text: TicketText | None = None  # redacted: what leaves the machine
    placeholders: dict[str, str] = field(default_factory=dict)
    snapshot_digest: str = ""
    reading: Reading | None = None
    enrichment: Enrichment = field(default_factory=Enrichment)
    injection_hits: tuple[str, ...] = ()
    prior_contacts: int = 0
    order_refs: tuple[str, ...] = ()
    suggested: SuggestedReply | None = None  # shown to agents in the brief (may be a Claude draft)
    auto_reply: SuggestedReply | None = (
        None  # what an automated reply would say: template/WISMO only
    )
    draft_cost_usd: float = 0.0
    decision: Decision | None = None
    proposals: list[Proposal] = field(default_factory=list)  # refund/cancel for an agent to approve
    brief: str = ""
    public_text: str = ""
    action_kind: str = ""
    action_result: dict[str, Any] = field(default_factory=dict)
    decision_id: int | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)

    # The fields an earlier stage sets, for the stages after it: each raises a clear error when a
    # stage runs before the one that sets its field.
    def require_ticket(self) -> Ticket:
        """The ticket (set by the load stage)."""
        return _required(self.ticket, "ticket", "load_ticket (or attach_ticket)")

    def require_policy(self) -> Policy:
        """The tenant's effective policy (set by the load stage)."""
        return _required(self.policy, "policy", "load_ticket (or attach_ticket)")

    def require_text(self) -> TicketText:
        """The redacted subject and body (set by the redact stage)."""
        return _required(self.text, "text", "redact_input")

    def require_reading(self) -> Reading:
        """The classifier's reading (set by the classify stage)."""
        return _required(self.reading, "reading", "classify")

    def require_decision(self) -> Decision:
        """The decision (set by the decide stage)."""
        return _required(self.decision, "decision", "decide")

    @property
    def category_policy(self) -> CategoryPolicy:
        return self.require_policy().category(self.require_reading().category)

    @property
    def requester_email(self) -> str:
        return (self.ticket.requester.email if self.ticket else "") or ""


class StageOrderError(RuntimeError):
    """A stage read a context field before the stage that sets it ran (stages out of order, or
    a caller skipped one)."""


def _required(value: T | None, name: str, stage: str) -> T:
    if value is None:
        raise StageOrderError(f"TicketContext.{name} is not set: the {stage} stage has not run")
    return value
