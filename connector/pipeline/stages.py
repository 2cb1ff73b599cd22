"""The pipeline's stages. Each takes the runtime and a ``TicketContext`` and returns it; each is
small enough to test alone. ``engine.process_ticket`` orders them and times every one.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from connector import actions, audit, logs
from connector.classify.claude import draft_reply
from connector.classify.redact import Redactor
from connector.classify.service import get_drafter
from connector.commerce.privacy import visible_orders
from connector.commerce.wismo import agent_summary, customer_answer
from connector.db import transaction
from connector.domain import DESKGUARD_MARKER, Order, Ticket, TicketText, to_dict
from connector.errors import PermanentError, TransientError
from connector.pipeline import caps, decisions, golive, policy, proposals, replies, rules
from connector.pipeline.brief import decision_brief
from connector.pipeline.context import (
    ASSIST_NOTE,
    AUTO_REPLY,
    ESCALATE,
    OFF,
    SHADOW,
    Decision,
    RuleVerdict,
    SuggestedReply,
    TicketContext,
)
from connector.pipeline.injection import find_injection
from connector.tenants import kill_switch_on
from connector.zendesk.loop_safety import needs_processing

if TYPE_CHECKING:
    from connector.runtime import Runtime

LOG = logs.get("pipeline")
BASE_TAGS = ("deskguard",)
T = TypeVar("T")


def action_key(ctx: TicketContext, kind: str) -> str:
    """tenant + ticket + the person's comment id (or updated_at) + action kind."""
    return f"{ctx.tenant_id}:{ctx.ticket_id}:{ctx.version}:{kind}"


def requester_hash(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest() if email else ""


# --- 1. load ------------------------------------------------------------------------------
def load_ticket(rt: Runtime, ctx: TicketContext) -> TicketContext:
    """Read the ticket through the Zendesk adapter, unless the caller preloaded it (batches)."""
    ticket = ctx.ticket
    if ticket is None:
        ticket = rt.services(ctx.tenant_id).require_desk().get_ticket(int(ctx.ticket_id))
    return attach_ticket(rt, ctx, ticket)


def attach_ticket(rt: Runtime, ctx: TicketContext, ticket: Ticket) -> TicketContext:
    """Put an already-read ticket into the context (replay reads tickets in batches)."""
    ctx.ticket = ticket
    ctx.latest = ticket.latest_person_comment
    if ctx.latest is not None:
        ctx.version = str(ctx.latest.id)
    else:
        ctx.version = ticket.updated_at.isoformat() if ticket.updated_at else "0"
    ctx.policy = policy.load(rt.db, ctx.tenant_id, policy_file=rt.config.get("policy_file") or None)
    return ctx


def learn_from_agent_tags(rt: Runtime, ctx: TicketContext) -> TicketContext:
    """Solved tickets carry the agents' own category tag: the go-live gate's second signal."""
    if not ctx.dry_run:
        golive.learn_from_tags(
            rt.db, ctx.tenant_id, ctx.require_ticket(), ctx.require_policy(), job_id=ctx.job_id
        )
    return ctx


def check_new_from_person(rt: Runtime, ctx: TicketContext) -> TicketContext:
    if ctx.dry_run:
        return ctx  # replay reads history: every ticket counts
    ticket = ctx.require_ticket()
    if not needs_processing(ticket):
        ctx.stop = "nothing new from a person"
    elif ticket.status == "closed":
        ctx.stop = "ticket is closed"
    return ctx


# --- 2. understand ------------------------------------------------------------------------
def redact_input(rt: Runtime, ctx: TicketContext) -> TicketContext:
    body = ctx.latest.body if ctx.latest is not None else ""
    redactor = Redactor()  # one numbering of placeholders for subject and body
    subject = redactor.redact(ctx.require_ticket().subject or "")
    body = redactor.redact(body or "")
    placeholders = dict(redactor.placeholders)
    counts: dict[str, int] = {}
    for key in placeholders:
        kind = key.strip("[]").split("_", 1)[0]
        counts[kind] = counts.get(kind, 0) + 1
    ctx.text = TicketText(subject=subject, body=body, id=str(ctx.ticket_id))
    ctx.placeholders = placeholders
    ctx.action_result["redactions"] = counts
    ctx.snapshot_digest = audit.sha256(audit.canonical_json({"subject": subject, "body": body}))
    return ctx


def classify(rt: Runtime, ctx: TicketContext) -> TicketContext:
    ctx.reading = rt.services(ctx.tenant_id).classifier.classify(ctx.require_text())
    ctx.injection_hits = find_injection(
        ctx.require_ticket().subject or "", ctx.latest.body if ctx.latest else ""
    )
    return ctx


# --- 3. enrich ------------------------------------------------------------------------------
def _order_names(ctx: TicketContext) -> list[str]:
    names: list[str] = []
    for raw in ctx.require_reading().entities.order_numbers:
        value = ctx.placeholders.get(raw, raw).strip()
        if value and not value.startswith("["):
            names.append(value if value.startswith("#") else f"#{value}")
    return list(dict.fromkeys(names))


def _vendor_call(
    ctx: TicketContext, vendor: str, fn: Callable[..., T], *args: Any, **kwargs: Any
) -> T | None:
    try:
        return fn(*args, **kwargs)
    except TransientError as exc:
        ctx.enrichment.notes.append(
            f"{vendor} unavailable right now ({exc.status or 'timeout'}): "
            f"continuing without {vendor} context"
        )
    except PermanentError as exc:
        if str(getattr(exc, "code", "")).endswith("not_connected"):
            ctx.enrichment.notes.append(
                f"{vendor} is not connected for this account: no {vendor} context"
            )
        else:
            ctx.enrichment.notes.append(
                f"{vendor} refused the lookup ({exc.status or 'error'}): "
                f"continuing without {vendor} context"
            )
    return None


def _not_configured(ctx: TicketContext, client: T | None, label: str) -> T | None:
    """The vendor client, or None with a note for the brief when it is not set up."""
    if client is None:
        ctx.enrichment.notes.append(
            f"{label} is not configured for this account: no {label} context"
        )
    return client


def enrich(rt: Runtime, ctx: TicketContext) -> TicketContext:
    e = ctx.enrichment
    email = ctx.requester_email
    services = rt.services(ctx.tenant_id)
    shop = _not_configured(ctx, services.orders, "Shopify")
    if shop is not None and (email or ctx.require_reading().entities.order_numbers):
        found: dict[str, Order] = {}
        by_email = _vendor_call(ctx, "Shopify", shop.find_orders, email=email) if email else []
        for o in by_email or ():
            found[o.id] = o
        for name in _order_names(ctx):
            if not any(o.name == name for o in found.values()):
                for o in _vendor_call(ctx, "Shopify", shop.find_orders, order_name=name) or ():
                    found[o.id] = o
        visible, e.hidden_orders = visible_orders(list(found.values()), email)
        e.orders = sorted(
            visible, key=lambda o: o.created_at.timestamp() if o.created_at else 0, reverse=True
        )
        e.customer = next((o.customer for o in e.orders if o.customer is not None), None)
        e.agent_order_summaries = [s for s in (agent_summary(o) for o in e.orders[:5]) if s]
    stripe = _not_configured(ctx, services.payments, "Stripe")
    if stripe is not None and email:
        e.payments = _vendor_call(ctx, "Stripe", stripe.payment_context, email)
    return ctx


def look_up_history(rt: Runtime, ctx: TicketContext) -> TicketContext:
    """Earlier contacts by the same requester about the same order (or category) in the window."""
    mentioned = _order_names(ctx)
    refs = mentioned or ([ctx.enrichment.orders[0].name] if len(ctx.enrichment.orders) == 1 else [])
    ctx.order_refs = tuple(refs)
    who = requester_hash(ctx.requester_email)
    if not who:
        return ctx
    days = float(ctx.require_policy().escalation["repeat_contact_window_days"])
    since = datetime.fromtimestamp(time.time() - days * 86400, UTC).isoformat()
    ctx.prior_contacts = decisions.prior_contacts(
        rt.db,
        ctx.tenant_id,
        requester_hash=who,
        since=since,
        ticket_id=ctx.ticket_id,
        version=ctx.version,
        order_refs=refs,
        category=ctx.require_reading().category,
    )
    return ctx


# --- 4. suggest -----------------------------------------------------------------------------
def suggest_reply(rt: Runtime, ctx: TicketContext) -> TicketContext:
    """The reply agents see (a Claude draft when drafting is on) and the one an automated reply
    would send. Automated replies only ever use the fixed templates / the commerce area's order
    answer, filled from systems of record: no model-written text goes out without an agent."""
    r = ctx.require_reading()
    name = ctx.ticket.requester.name if ctx.ticket else ""
    language = r.language or "en"
    orders = ctx.enrichment.orders
    fixed = None
    if r.category == "order_status" and len(orders) == 1:
        # The order-status answer exists in English only.
        wismo = customer_answer(orders[0], customer_name=name) if language == "en" else ""
        if wismo:
            fixed = SuggestedReply(wismo, "wismo", "en", replies.check_reply(wismo))
    if fixed is None:
        filled = replies.fill(
            r.category,
            language,
            name=name,
            orders=orders,
            answer=ctx.require_policy().answers.get(r.category, ""),
        )
        if filled:
            fixed = SuggestedReply(filled[0], "template", filled[1], replies.check_reply(filled[0]))
    ctx.auto_reply = fixed
    ctx.suggested = fixed
    if not ctx.dry_run:
        # None when drafting is off, not configured or Claude is unavailable: templates stay.
        drafted = draft_reply(
            get_drafter(rt, ctx.tenant_id),
            ctx.tenant_id,
            ticket_text=ctx.require_text(),
            reading=r,
            orders=orders,
            language=language,
            placeholders=ctx.placeholders,
        )
        if drafted is not None and drafted.text:
            text = drafted.text
            ctx.draft_cost_usd = float(drafted.cost_usd or 0.0)
            ctx.suggested = SuggestedReply(text, "claude", language, replies.check_reply(text))
    return ctx


# --- 5. decide ------------------------------------------------------------------------------
def _step_down(mode: str) -> str:
    return {"auto": "assist", "assist": "shadow"}.get(mode, mode)


def decide(rt: Runtime, ctx: TicketContext) -> TicketContext:
    r, cp = ctx.require_reading(), ctx.category_policy
    trace: list[RuleVerdict] = [RuleVerdict("mode", "info", f"{r.category} is in {cp.mode} mode")]
    mode = cp.mode
    if cp.rollout_percent < 100 and mode in ("auto", "assist"):
        bucket = rules.rollout_bucket(ctx.tenant_id, r.category, ctx.ticket_id)
        if bucket < cp.rollout_percent:
            trace.append(
                RuleVerdict("rollout", "pass", f"bucket {bucket} < {cp.rollout_percent:g}%")
            )
        else:
            mode = _step_down(mode)
            trace.append(
                RuleVerdict(
                    "rollout", "fail", f"bucket {bucket} ≥ {cp.rollout_percent:g}%: {mode} instead"
                )
            )

    escalations: list[RuleVerdict] = []
    for rule in rules.ESCALATION_RULES.values():
        verdict = rule(ctx)
        trace.append(verdict)
        if verdict.verdict == "escalate":
            escalations.append(verdict)
    failed_gate: RuleVerdict | None = None
    for gate in rules.AUTO_GATES.values():
        verdict = gate(ctx)
        trace.append(verdict)
        if verdict.verdict != "pass" and failed_gate is None:
            failed_gate = verdict
    ctx.proposals = []
    if (
        mode != "off"
    ):  # collaborative actions for an agent to approve (connector/pipeline/proposals.py)
        for verdict, proposal in proposals.evaluate(ctx):
            trace.append(verdict)
            if proposal is not None:
                ctx.proposals.append(proposal)
    # A proposal waits for an agent: an automated reply must not solve the ticket meanwhile.
    would_automate = not escalations and failed_gate is None and not ctx.proposals

    order = {"urgent": 3, "high": 2, "normal": 1, "low": 0}
    priority = max(
        (v.priority for v in escalations if v.priority), key=lambda p: order.get(p, 0), default=None
    )
    tags: tuple[str, ...] = (*BASE_TAGS, f"deskguard_{r.category}")
    if escalations:
        tags += (rules.ESCALATED_TAG, *(v.tag for v in escalations if v.tag))
    base = Decision(
        configured_mode=cp.mode,
        mode=mode,
        outcome=SHADOW,
        rule="",
        reason="",
        trace=tuple(trace),
        escalated=bool(escalations),
        priority=priority,
        tags=tuple(dict.fromkeys(tags)),
        would_automate=would_automate,
    )
    if mode == "off":
        d = base.with_outcome(OFF, "mode_off", f"{r.category} is switched off: nothing written")
    elif mode == "shadow":
        what = (
            "would escalate"
            if escalations
            else ("would auto-reply" if would_automate else "would suggest")
        )
        what += "".join(f"; would propose {p.kind.replace('_', ' ')}" for p in ctx.proposals)
        d = base.with_outcome(SHADOW, "mode_shadow", f"shadow mode: recorded only ({what})")
    elif escalations:
        d = base.with_outcome(
            ESCALATE, escalations[0].rule, "needs a person: " + escalations[0].detail
        )
    elif mode == "assist":
        d = base.with_outcome(
            ASSIST_NOTE, "mode_assist", "assist mode: internal note with a suggested reply"
        )
    elif would_automate:
        d = base.with_outcome(
            AUTO_REPLY, "auto_gates_passed", "every auto gate passed: automated public reply"
        )
    elif ctx.proposals and failed_gate is None:
        waiting = ", ".join(p.kind.replace("_", " ") for p in ctx.proposals)
        d = base.with_outcome(
            ASSIST_NOTE,
            "proposal_pending",
            f"auto fell back to assist: a proposed {waiting} awaits an agent's approval",
            RuleVerdict("proposal_pending", "fail", f"proposed {waiting} awaits an agent"),
            tags=("deskguard_auto_fallback",),
        )
        d = replace(d, fallback_gate="proposal_pending")
    else:
        # Not escalated, not automated and no proposal alone held it back: a gate failed.
        assert failed_gate is not None
        d = base.with_outcome(
            ASSIST_NOTE,
            failed_gate.rule,
            f"auto fell back to assist: {failed_gate.detail}",
            tags=("deskguard_auto_fallback",),
        )
        d = replace(d, fallback_gate=failed_gate.rule)
    ctx.decision = d
    return ctx


def apply_caps(rt: Runtime, ctx: TicketContext) -> TicketContext:
    """The last gate: one slot of the hourly/daily automated-reply budget, taken atomically."""
    d = ctx.require_decision()
    if d.outcome != AUTO_REPLY or ctx.dry_run:
        return ctx
    if kill_switch_on(rt.db, ctx.tenant_id):
        return ctx  # the write will be blocked and deferred; keep the budget for when it runs
    c = ctx.require_policy().caps
    check = caps.reserve(
        rt.db,
        ctx.tenant_id,
        action_key(ctx, "zendesk.public_reply"),
        per_hour=int(c["auto_replies_per_hour"]),
        per_day=int(c["auto_replies_per_day"]),
        ticket_id=ctx.ticket_id,
    )
    if check.allowed:
        ctx.decision = d.with_outcome(
            AUTO_REPLY, d.rule, d.reason, RuleVerdict("caps", "pass", check.reason)
        )
    else:
        ctx.decision = d.with_outcome(
            ASSIST_NOTE,
            "caps",
            f"auto fell back to assist: {check.reason}",
            RuleVerdict("caps", "fail", check.reason),
            tags=("deskguard_cap_reached", "deskguard_auto_fallback"),
        )
    return ctx


# --- 6. write -------------------------------------------------------------------------------
def compose(rt: Runtime, ctx: TicketContext) -> TicketContext:
    ctx.brief = decision_brief(ctx)
    d = ctx.require_decision()
    if d.outcome == AUTO_REPLY:
        s = ctx.auto_reply
        if s is None:  # the reply_ready gate lets no automated reply through without one
            raise RuntimeError("an automated reply was decided without an auto_reply text")
        ctx.public_text = replies.with_notice(s.text, s.language)
        problems = replies.check_reply(ctx.public_text)
        if problems:  # belt and braces: the notice and template together must still pass
            ctx.decision = d.with_outcome(
                ASSIST_NOTE,
                "reply_ready",
                "auto fell back to assist: " + "; ".join(problems),
                RuleVerdict("reply_ready", "fail", "; ".join(problems)),
                tags=("deskguard_auto_fallback",),
            )
            ctx.public_text = ""
            ctx.brief = decision_brief(ctx)
    return ctx


def context_json(ctx: TicketContext) -> dict[str, Any]:
    e = ctx.enrichment
    return {
        "orders": to_dict(e.orders),
        "hidden_orders": e.hidden_orders,
        "customer": to_dict(e.customer),
        "payments": to_dict(e.payments) if e.payments else {},
        "notes": list(e.notes),
        "order_refs": list(ctx.order_refs),
        "prior_contacts": ctx.prior_contacts,
        "injection": list(ctx.injection_hits),
        "proposals": [p.as_dict() for p in ctx.proposals],
    }


def record_decision(rt: Runtime, ctx: TicketContext) -> TicketContext:
    """The decisions row and the first events of its audit chain, in one transaction."""
    from connector.pipeline import events

    if ctx.dry_run:
        return ctx
    r, d, text = ctx.require_reading(), ctx.require_decision(), ctx.require_text()
    usage = r.usage
    snapshot = {"subject": text.subject, "body": text.body}
    db = rt.db
    # Shared: a new decisions row (its id from the table's sequence) and audit appends (which take
    # the chain's lock); nothing here reads a row another writer could change in between.
    with transaction(db, shared=True):
        decision_id = ctx.decision_id = decisions.insert(
            db,
            {
                "tenant_id": ctx.tenant_id,
                "ticket_id": ctx.ticket_id,
                "job_id": ctx.job_id,
                "created_at": audit.now_iso(),
                "category": r.category,
                "confidence": r.confidence,
                "mode": d.mode,
                "outcome": d.outcome,
                "rule": d.rule,
                "reason": d.reason,
                "reading": audit.canonical_json(to_dict(r)),
                "policy_trace": json.dumps([v.as_dict() for v in d.trace]),
                "context": audit.canonical_json(context_json(ctx)),
                "brief": ctx.brief,
                "suggested_reply": ctx.suggested.text if ctx.suggested else "",
                "engine": r.engine,
                "model": r.model,
                "cost_usd": r.cost_usd + ctx.draft_cost_usd,
                "version": ctx.version,
                "requester_hash": requester_hash(ctx.requester_email),
                "order_refs": json.dumps(list(ctx.order_refs)),
                "configured_mode": d.configured_mode,
                "escalated": int(d.escalated),
                "priority": d.priority,
                "tags": json.dumps(list(d.tags)),
                "would_automate": int(d.would_automate),
                "fallback_gate": d.fallback_gate,
                "input_snapshot": audit.canonical_json(snapshot),
                "snapshot_digest": ctx.snapshot_digest,
                "input_tokens": usage.input_tokens if usage else 0,
                "output_tokens": usage.output_tokens if usage else 0,
            },
        )
        common = {"ticket_id": ctx.ticket_id, "job_id": ctx.job_id}
        audit.record(
            db,
            ctx.tenant_id,
            events.DecisionInput(
                version=ctx.version,
                snapshot=snapshot,
                digest=ctx.snapshot_digest,
                redactions=ctx.action_result.pop("redactions", {}),
                decision_id=decision_id,
                **common,
            ),
        )
        audit.record(
            db,
            ctx.tenant_id,
            events.DecisionReading(
                reading=to_dict(r),
                engine=r.engine,
                model=r.model,
                input_tokens=usage.input_tokens if usage else 0,
                output_tokens=usage.output_tokens if usage else 0,
                cost_usd=r.cost_usd,
                decision_id=decision_id,
                **common,
            ),
        )
        audit.record(
            db,
            ctx.tenant_id,
            events.DecisionPolicy(
                configured_mode=d.configured_mode,
                mode=d.mode,
                outcome=d.outcome,
                rule=d.rule,
                reason=d.reason,
                trace=[v.as_dict() for v in d.trace],
                escalated=d.escalated,
                would_automate=d.would_automate,
                decision_id=decision_id,
                **common,
            ),
        )
        audit.record(
            db,
            ctx.tenant_id,
            events.DecisionOutput(
                brief=ctx.brief,
                suggested_reply=ctx.suggested.text if ctx.suggested else "",
                reply_source=ctx.suggested.source if ctx.suggested else "",
                public_reply=ctx.public_text,
                decision_id=decision_id,
                **common,
            ),
        )
    return ctx


def resume_recorded(rt: Runtime, ctx: TicketContext, recorded: dict[str, Any]) -> TicketContext:
    """Put a decision recorded earlier for this same ticket event back into the context, so the
    run goes straight to ``act``: no second classification, no second decision row."""
    ctx.decision_id = int(recorded["id"])
    ctx.decision = Decision(
        configured_mode=recorded["configured_mode"] or recorded["mode"],
        mode=recorded["mode"],
        outcome=recorded["outcome"],
        rule=recorded["rule"],
        reason=recorded.get("policy_reason") or recorded["reason"],
        escalated=bool(recorded["escalated"]),
        priority=recorded["priority"],
        tags=tuple(recorded["tags"] or ()),
        would_automate=bool(recorded["would_automate"]),
        fallback_gate=recorded["fallback_gate"],
    )
    ctx.brief = recorded["brief"] or ""
    ctx.public_text = recorded.get("public_reply") or ""
    if recorded["outcome"] == AUTO_REPLY and not ctx.public_text:
        raise PermanentError(
            f"decision {recorded['id']}: the recorded automated reply text is gone (redacted)",
            vendor="deskguard",
        )
    return ctx


def act(rt: Runtime, ctx: TicketContext) -> TicketContext:
    """The only stage that writes to Zendesk, and only through connector.actions."""
    d = ctx.require_decision()
    if ctx.dry_run or d.outcome in (OFF, SHADOW):
        ctx.action_kind = ""
        return ctx
    desk = rt.services(ctx.tenant_id).require_desk()
    ticket_id = ctx.ticket_id
    if d.outcome == AUTO_REPLY:
        kind, body = "zendesk.public_reply", ctx.public_text
        tags = (*d.tags, "deskguard_auto")

        def send(key: str) -> dict[str, Any]:
            return dict(desk.public_reply(ticket_id, body, marker=key, solve=True, tags=tags) or {})
    else:
        kind, body, tags, priority = "zendesk.internal_note", ctx.brief, d.tags, d.priority

        def send(key: str) -> dict[str, Any]:
            return dict(
                desk.add_internal_note(ticket_id, body, marker=key, tags=tags, priority=priority)
                or {}
            )

    def reconcile(key: str) -> dict[str, Any] | None:
        found = desk.find_comment_with_marker(ticket_id, key)
        return {"comment_id": found.id, "reconciled": True} if found is not None else None

    ctx.action_kind = kind
    key = action_key(ctx, kind)
    params = {
        "ticket_id": ticket_id,
        "outcome": d.outcome,
        "rule": d.rule,
        "tags": list(tags),
        "priority": d.priority,
        "chars": len(body),
        "marker": DESKGUARD_MARKER,
    }
    outcome = actions.execute(
        rt.db,
        ctx.tenant_id,
        actions.WriteAction(
            vendor="zendesk",
            kind=kind,
            idempotency_key=key,
            params=params,
            send=send,
            reconcile=reconcile,
            ticket_id=ticket_id,
            job_id=ctx.job_id,
            lease_seconds=min(60.0, float(rt.config.queue_lease_seconds)),
        ),
    )
    ctx.action_result = {
        "action_id": outcome.action_id,
        "state": outcome.state,
        "replayed": outcome.replayed,
        "reconciled": outcome.reconciled,
        **outcome.result,
    }
    return ctx
