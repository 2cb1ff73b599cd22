"""What the side panel shows for one ticket, and the agent feedback it collects.

Everything is read straight from the ledger (``decisions``, ``jobs``, ``feedback``) for the
tenant the app token belongs to: every query carries ``tenant_id``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import sqlite_utils

from connector import audit, tenants
from connector.audit import now_iso
from connector.commerce import approvals
from connector.db import transaction
from connector.domain import CATEGORIES, CATEGORY_DESCRIPTIONS, ZERO_DECIMAL, to_dict
from connector.errors import BadRequest, DeskguardError, NotFound
from connector.panel import wording
from connector.panel.events import FeedbackRecorded

if TYPE_CHECKING:
    from connector.runtime import Runtime


class NotProcessed(DeskguardError):
    http_status = 409
    code = "not_processed"


DECISION_COLUMNS = (
    "id",
    "ticket_id",
    "job_id",
    "created_at",
    "category",
    "confidence",
    "mode",
    "outcome",
    "rule",
    "reason",
    "reading",
    "policy_trace",
    "context",
    "brief",
    "suggested_reply",
    "engine",
    "model",
    "cost_usd",
    "latency_ms",
    "status",
    "action",
    "action_result",
    "escalated",
    "priority",
)
JSON_COLUMNS = ("reading", "policy_trace", "context", "action_result")


def _obj(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one (ledger rows can be anything)."""
    return value if isinstance(value, dict) else {}


def _json(text: str | None, default: Any) -> Any:
    if not text:
        return default
    try:
        return json.loads(text)
    except ValueError:
        return default


def decision_row(row: tuple) -> dict[str, Any]:
    data = dict(zip(DECISION_COLUMNS, row, strict=True))
    for col in JSON_COLUMNS:
        data[col] = _json(data[col], [] if col == "policy_trace" else {})
    if not isinstance(data["action_result"], dict):
        data["action_result"] = {}
    return data


def latest_decision(
    db: sqlite_utils.Database, tenant_id: str, ticket_id: int
) -> dict[str, Any] | None:
    row = db.conn.execute(
        f"SELECT {', '.join(DECISION_COLUMNS)} FROM decisions WHERE tenant_id = ? AND ticket_id = ?"
        " ORDER BY id DESC LIMIT 1",
        (tenant_id, ticket_id),
    ).fetchone()
    return decision_row(row) if row else None


# The intake's job contract (connector/zendesk/intake.py): one ``zendesk.ticket`` job per ticket
# change, with the dedupe key ``zendesk.ticket:<ticket id>:<updated_at>``.
TICKET_JOB_KIND = "zendesk.ticket"


def latest_job(db: sqlite_utils.Database, tenant_id: str, ticket_id: int) -> dict[str, Any] | None:
    """The newest ticket-processing job for this ticket.

    Found by a range over the dedupe-key prefix, so the lookup is a probe of the
    ``UNIQUE (tenant_id, dedupe_key)`` index rather than a scan of the tenant's jobs."""
    prefix = f"{TICKET_JOB_KIND}:{int(ticket_id)}:"
    row = db.conn.execute(
        "SELECT id, kind, state, attempts, last_error, updated_at FROM jobs WHERE tenant_id = ?"
        " AND dedupe_key >= ? AND dedupe_key < ? AND kind = ? ORDER BY id DESC LIMIT 1",
        (tenant_id, prefix, prefix[:-1] + ";", TICKET_JOB_KIND),
    ).fetchone()
    if row is None:
        return None
    return dict(
        zip(("id", "kind", "state", "attempts", "last_error", "updated_at"), row, strict=True)
    )


def _alternatives(reading: dict[str, Any], category: str | None) -> list[dict[str, Any]]:
    out = []
    for alt in reading.get("alternatives") or []:
        if isinstance(alt, (list, tuple)) and len(alt) >= 2:
            name, score = alt[0], alt[1]
        elif isinstance(alt, dict):
            name, score = alt.get("category"), alt.get("score")
        else:
            continue
        if name and name != category:
            out.append(
                {
                    "category": name,
                    "score": score,
                    "label": wording.category(name),
                    "score_text": wording.probability(score),
                }
            )
    return out[:3]


def _policy(d: dict[str, Any]) -> dict[str, Any]:
    """What the policy decided and why, with every rule in words next to its code."""
    raw = d["policy_trace"] if isinstance(d["policy_trace"], list) else []
    trace = [t for t in raw if isinstance(t, dict)]
    rule = d["rule"] or ""
    deciding = next((t for t in reversed(trace) if t.get("rule") == rule), None)
    return {
        "mode": d["mode"],
        "outcome": d["outcome"],
        "rule": rule,
        "reason": d["reason"],
        "trace": trace,
        "mode_text": wording.mode(d["mode"]),
        "outcome_text": wording.outcome(d["outcome"]),
        "rule_text": wording.rule(rule),
        "rule_detail": wording.detail(deciding.get("detail")) if deciding else "",
        "trace_text": [
            {
                "rule": t.get("rule") or "",
                "verdict": t.get("verdict") or "",
                "text": wording.check(t.get("rule")),
                "verdict_text": wording.verdict(t.get("verdict")),
                "detail": wording.detail(t.get("detail")),
            }
            for t in trace
        ],
    }


def _happened(d: dict[str, Any], kill_switch: bool) -> dict[str, Any]:
    """What Deskguard already did on the ticket, in one sentence (and whether it answered it)."""
    status, outcome = d["status"], d["outcome"]
    at = wording.when(d["created_at"])
    action = d["action"] or ""
    if status == "deferred":
        text = (
            "Held by the kill switch: nothing was written to Zendesk yet."
            if kill_switch
            else "Waiting to be written to Zendesk."
        )
        return {"kind": "held", "text": text, "answered": False}
    if outcome == "auto_reply" and status == "done" and action in ("", "zendesk.public_reply"):
        return {
            "kind": "answered",
            "text": f"Deskguard answered the customer and solved the ticket · {at}",
            "answered": True,
        }
    if outcome == "escalate":
        priority = f", priority {d['priority']}" if d.get("priority") else ""
        return {
            "kind": "escalated",
            "text": f"Escalated to a person{priority}; see the internal note · {at}",
            "answered": False,
        }
    if outcome == "shadow":
        # the pipeline's reason ends with what it would have done: "(would auto-reply; ...)"
        reason = str(d.get("reason") or "")
        would = reason[reason.find("(") + 1 : -1] if reason.endswith(")") and "(" in reason else ""
        return {
            "kind": "shadow",
            "text": "Shadow mode: Deskguard decided but wrote nothing to Zendesk"
            + (f"; {_would(would)}." if would else "."),
            "answered": False,
        }
    if outcome == "off":
        return {"kind": "off", "text": "Deskguard is off for this category.", "answered": False}
    if outcome == "assist_note" and status == "done":
        return {
            "kind": "note",
            "text": f"Internal note added for agents · {at}",
            "answered": False,
        }
    return {"kind": "", "text": "", "answered": False}


SHADOW_WOULD = {
    "would auto-reply": "it would have answered automatically",
    "would suggest": "it would have suggested a reply",
    "would escalate": "it would have escalated to a person",
}


def _would(text: str) -> str:
    """The shadow decision's "would auto-reply; would propose refund" as a sentence."""
    parts = []
    for part in (p.strip() for p in text.split(";")):
        if part in SHADOW_WOULD:
            parts.append(SHADOW_WOULD[part])
        elif part.startswith("would propose "):
            what = wording.detail(part.removeprefix("would propose "))
            parts.append(f"it would have proposed a {what}")
        elif part:
            parts.append(wording.detail(part))
    return " and ".join(parts)


def _customer(context: dict[str, Any], orders: list[dict[str, Any]], vip: dict[str, Any]) -> dict:
    """The shop's customer: tier, lifetime spend and order count (from Shopify's customer record,
    which the order lookup already returns)."""
    raw = context.get("customer")
    if not isinstance(raw, dict):
        raw = next((o["customer"] for o in orders if isinstance(o.get("customer"), dict)), None)
    if not isinstance(raw, dict):
        return {}
    tags = [str(t) for t in raw.get("tags") or [] if t]
    vip_tags = {str(t).lower() for t in vip.get("vip_tags") or []}
    spend = _obj(raw.get("lifetime_spend"))
    is_vip = any(t.lower() in vip_tags for t in tags)
    try:
        limit = float(vip.get("vip_lifetime_spend") or 0)
        if not is_vip and limit and float(str(spend.get("amount") or 0)) >= limit:
            is_vip = True
    except ValueError:
        pass
    count = raw.get("order_count")
    return {
        "email": raw.get("email") or "",
        "tier": "VIP" if is_vip else "",
        "tags": [t for t in tags if t.lower() not in vip_tags],
        "order_count": count if isinstance(count, int) else None,
        "lifetime_spend": spend,
        "lifetime_spend_text": wording.money(spend),
        "order_count_text": (
            f"{count} order{'s' if count != 1 else ''}" if isinstance(count, int) else ""
        ),
    }


def _minor_total(order: dict[str, Any]) -> tuple[int, str] | None:
    total = _obj(order.get("total"))
    currency = str(total.get("currency") or "").lower()
    try:
        exp = 0 if currency in ZERO_DECIMAL else 2
        return int(Decimal(str(total.get("amount"))).scaleb(exp)), currency
    except (ArithmeticError, ValueError):
        return None


def _charge_line(c: dict[str, Any]) -> dict[str, Any]:
    refunded = c.get("amount_refunded") if isinstance(c.get("amount_refunded"), int) else 0
    status = wording.charge_status(c.get("status"))
    if refunded and isinstance(c.get("amount"), int):
        status = "Refunded" if refunded >= c["amount"] else "Partly refunded"
    return {
        "kind": "charge",
        "id": c.get("id") or "",
        "order_name": (c.get("metadata") or {}).get("order_name") or "",
        "amount_text": wording.minor_money(c.get("amount"), c.get("currency")),
        "status_text": status,
        "date_text": wording.date(c.get("created_at")),
        "detail_text": (
            f"{wording.minor_money(refunded, c.get('currency'))} refunded" if refunded else ""
        ),
        "disputed": bool(c.get("disputed")),
        "created_at": c.get("created_at") or "",
    }


def _payments_by_order(
    orders: list[dict[str, Any]], payments: dict[str, Any]
) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, Any]]]:
    """Each Stripe charge (with its refunds and disputes) under the order it paid for: the order
    its metadata names, else the one order with the same amount and currency (the rule of
    connector/commerce/disputes.py). Charges of no shown order are returned apart."""
    charges = [c for c in payments.get("charges") or [] if isinstance(c, dict)]
    by_order: dict[str, list[dict[str, Any]]] = {str(o.get("name") or ""): [] for o in orders}
    rest: list[dict[str, Any]] = []
    lines: dict[str, dict[str, Any]] = {}
    intents: dict[str, dict[str, Any]] = {}
    for c in sorted(charges, key=lambda c: str(c.get("created_at") or ""), reverse=True):
        line = _charge_line(c)
        lines[line["id"]] = line
        if c.get("payment_intent"):
            intents[str(c["payment_intent"])] = line
        name = line["order_name"]
        if not name:
            same = [
                str(o.get("name") or "")
                for o in orders
                if _minor_total(o) == (c.get("amount"), str(c.get("currency") or "").lower())
            ]
            name = same[0] if len(same) == 1 else ""
            line["order_name"] = name
        (by_order[name] if name in by_order and name else rest).append(line)
    for kind, items in (("refund", payments.get("refunds")), ("dispute", payments.get("disputes"))):
        for x in items or []:
            if not isinstance(x, dict):
                continue
            owner = lines.get(str(x.get("charge") or "")) or intents.get(
                str(x.get("payment_intent") or "")
            )
            extra = _refund_or_dispute(kind, x)
            if owner is not None and owner["order_name"] in by_order and owner["order_name"]:
                by_order[owner["order_name"]].append(extra)
            else:
                rest.append(extra)
    return by_order, rest


def _refund_or_dispute(kind: str, x: dict[str, Any]) -> dict[str, Any]:
    amount = wording.minor_money(x.get("amount"), x.get("currency"))
    if kind == "refund":
        return {
            "kind": "refund",
            "amount_text": amount,
            "status_text": wording.refund_status(x.get("status")),
            "date_text": wording.date(x.get("created_at")),
            "detail_text": wording.humanize(x.get("reason")) if x.get("reason") else "",
            "disputed": False,
        }
    due = wording.date(x.get("due_by"))
    return {
        "kind": "dispute",
        "amount_text": amount,
        "status_text": "Chargeback: " + (wording.dispute_status(x.get("status")) or "open"),
        "date_text": wording.date(x.get("created_at")),
        "detail_text": wording.dispute_reason(x.get("reason"))
        + (f"; respond by {due}" if due else ""),
        "disputed": True,
    }


def _order_for_panel(o: dict[str, Any], payments: list[dict[str, Any]]) -> dict[str, Any]:
    out = dict(o)
    shipments = []
    for f in o.get("fulfillments") or []:
        if not isinstance(f, dict):
            continue
        eta = wording.date(f.get("estimated_delivery_at"))
        delivered = wording.date(f.get("delivered_at"))
        shipments.append(
            {
                **f,
                "status_text": wording.shipment_status(f.get("status")),
                "when_text": (
                    f"on {delivered}" if delivered else (f"expected {eta}" if eta else "")
                ),
            }
        )
    out["fulfillments"] = shipments
    cancelled = wording.date(o.get("cancelled_at"))
    out["financial_status_text"] = wording.financial_status(o.get("financial_status"))
    out["fulfillment_status_text"] = wording.fulfillment_status(o.get("fulfillment_status"))
    out["cancelled_text"] = (
        f"Cancelled {cancelled}"
        + (f" ({wording.cancel_reason(o.get('cancel_reason'))})" if o.get("cancel_reason") else "")
        if o.get("cancelled_at")
        else ""
    )
    out["total_text"] = wording.money(o.get("total"))
    out["date_text"] = wording.date(o.get("created_at"))
    out["payments"] = payments
    out.pop("customer", None)  # shown once, as the customer
    return out


def _context(context: dict[str, Any], vip: dict[str, Any]) -> dict[str, Any]:
    orders = [o for o in context.get("orders") or [] if isinstance(o, dict)]
    payments = context.get("payments") or context.get("payment") or {}
    payments = payments if isinstance(payments, dict) else {}
    by_order, rest = _payments_by_order(orders, payments)
    hidden = context.get("hidden_orders")
    return {
        "orders": [_order_for_panel(o, by_order.get(str(o.get("name") or ""), [])) for o in orders],
        "other_payments": rest,
        "payments": payments,
        "customer": _customer(context, orders, vip),
        "hidden_orders": hidden if isinstance(hidden, int) else 0,
        "context_notes": [str(n) for n in context.get("notes") or context.get("errors") or []],
    }


def _decision_for_panel(
    d: dict[str, Any], *, kill_switch: bool = False, vip: dict[str, Any] | None = None
) -> dict[str, Any]:
    reading = d["reading"] if isinstance(d["reading"], dict) else {}
    category = d["category"] or reading.get("category")
    context = d["context"] if isinstance(d["context"], dict) else {}
    confidence = d["confidence"] if d["confidence"] is not None else reading.get("confidence")
    flags = [str(f) for f in reading.get("risk_flags") or []]
    happened = _happened(d, kill_switch)
    return {
        "id": d["id"],
        "created_at": d["created_at"],
        "created_at_text": wording.when(d["created_at"]),
        "status": d["status"],
        "category": category,
        "category_label": wording.category(category),
        "category_description": CATEGORY_DESCRIPTIONS.get(category or "", ""),
        "confidence": confidence,
        "confidence_text": wording.probability(confidence),
        "alternatives": _alternatives(reading, category),
        "sentiment": reading.get("sentiment"),
        "sentiment_text": wording.sentiment(reading.get("sentiment")),
        "sentiment_score": reading.get("sentiment_score"),
        "urgency": reading.get("urgency"),
        "urgency_text": wording.urgency(reading.get("urgency")),
        "language": reading.get("language"),
        "risk_flags": flags,
        "risk_flags_text": [wording.risk_flag(f) for f in flags],
        "reasons": list(reading.get("reasons") or []),
        "engine": d["engine"] or reading.get("engine"),
        "model": d["model"] or reading.get("model"),
        "policy": _policy(d),
        "happened": happened,
        "answered": happened["answered"],
        **_context(context, vip or {}),
        "suggested_reply": d["suggested_reply"] or "",
    }


def my_feedback(
    db: sqlite_utils.Database, tenant_id: str, decision_id: int, agent_id: str
) -> dict | None:
    row = db.conn.execute(
        "SELECT verdict, correct_category, created_at FROM feedback"
        " WHERE tenant_id = ? AND decision_id = ?"
        " AND agent_id = ? AND source = 'panel'",
        (tenant_id, decision_id, agent_id),
    ).fetchone()
    return {"verdict": row[0], "correct_category": row[1], "created_at": row[2]} if row else None


Names = Callable[[str], str | None]


def ticket_view(
    runtime: Runtime, agent, ticket_id: int, *, names: Names | None = None
) -> dict[str, Any]:
    """Everything the side panel renders for one ticket, in one response.

    ``names`` turns an audit actor (``"agent:42"``) into the person's name when the caller knows
    it without asking Zendesk (reading the panel never calls Zendesk); the agent reading the
    panel is always known."""
    db = runtime.db
    tenant_id = agent.tenant_id
    decision = latest_decision(db, tenant_id, ticket_id)
    job = latest_job(db, tenant_id, ticket_id)
    kill_switch = tenants.kill_switch_on(db, tenant_id)
    view: dict[str, Any] = {
        "tenant": tenant_id,
        "ticket_id": ticket_id,
        "agent": agent.as_dict(),
        "kill_switch": kill_switch,
        "categories": [
            {"id": c, "description": CATEGORY_DESCRIPTIONS[c], "label": wording.category(c)}
            for c in CATEGORIES
        ],
        "decision": None,
        "feedback": None,
        "approvals": [],
        "history": [],
        "job": job,
    }
    newer_job = job and (decision is None or job["id"] != decision["job_id"])
    if job and job["state"] == "dead" and (decision is None or newer_job):
        view["state"], view["message"] = (
            "failed",
            "Processing failed: " + (job["last_error"] or "unknown error"),
        )
    elif decision is None:
        if job and job["state"] in ("queued", "running"):
            view["state"], view["message"] = (
                "queued",
                "Deskguard is reading this ticket; refresh in a moment.",
            )
        else:
            view["state"], view["message"] = (
                "not_processed",
                "Deskguard has not processed this ticket yet.",
            )
    elif decision["status"] == "failed":
        view["state"], view["message"] = (
            "failed",
            "Processing failed: " + (decision["reason"] or "see the audit log"),
        )
    else:
        view["state"] = "deferred" if decision["status"] == "deferred" else "processed"
        view["message"] = ""
        if view["state"] == "deferred":
            view["message"] = (
                "Held by the kill switch: Deskguard writes nothing until it is turned off."
                if kill_switch
                else "Deferred: Deskguard will finish this ticket shortly."
            )
    if decision is not None:
        vip = _vip_policy(runtime, tenant_id)
        view["decision"] = _decision_for_panel(decision, kill_switch=kill_switch, vip=vip)
        if agent.id:
            view["feedback"] = my_feedback(db, tenant_id, decision["id"], agent.id)
    who = _namer(agent, names)
    orders_of = _order_names(view["decision"])
    everything = approvals.list_approvals(db, tenant_id, ticket_id=ticket_id, limit=20)
    view["approvals"] = [
        approval_for_panel(a, who, orders_of)
        for a in everything
        if a.state in approvals.OPEN_STATES
    ]
    view["history"] = [
        approval_for_panel(a, who, orders_of)
        for a in everything
        if a.state not in approvals.OPEN_STATES
    ]
    return view


def _vip_policy(runtime: Runtime, tenant_id: str) -> dict[str, Any]:
    """The tenant's VIP rule (tags, lifetime spend), as the pipeline's ``vip`` rule reads it."""
    from connector.pipeline import policy

    try:
        pol = policy.load(
            runtime.db, tenant_id, policy_file=runtime.config.get("policy_file") or None
        )
        return dict(pol.escalation)
    except (DeskguardError, OSError, ValueError, KeyError):
        return {}


def _namer(agent, names: Names | None) -> Callable[[str], str]:
    def who(actor: str) -> str:
        known: dict[str, str] = {}
        if agent.id and agent.name:
            known[f"agent:{agent.id}"] = agent.name
        if names is not None and actor not in known:
            found = names(actor)
            if found:
                known[actor] = found
        return wording.person(actor, known)

    return who


def _order_names(decision: dict[str, Any] | None) -> dict[str, str]:
    """Payment intent / charge id → the order it paid for, from the decision's context."""
    out: dict[str, str] = {}
    if not decision:
        return out
    for c in (decision.get("payments") or {}).get("charges") or []:
        if not isinstance(c, dict):
            continue
        name = (c.get("metadata") or {}).get("order_name") or ""
        if name:
            for key in (c.get("id"), c.get("payment_intent")):
                if key:
                    out[str(key)] = name
    return out


REFUND_REASONS = {
    "duplicate": "charged twice",
    "fraudulent": "fraud",
    "requested_by_customer": "the customer asked",
}


def _approval_title(data: dict[str, Any], orders_of: dict[str, str]) -> str:
    """ "Refund 129.00 USD for order #1002" / "Cancel order #1002": no payment ids."""
    params = _obj(data.get("params"))
    kind = data.get("kind") or ""
    if kind == "refund":
        target = str(params.get("payment_intent") or params.get("charge") or "")
        order = params.get("order_name") or orders_of.get(target, "")
        amount = wording.minor_money(params.get("amount"), params.get("currency"))
        return f"Refund {amount}" + (f" for order {order}" if order else "")
    if kind == "cancel_order":
        return f"Cancel order {params.get('order_name') or ''}".strip()
    return wording.humanize(kind)


def _approval_status(data: dict[str, Any], who: Callable[[str], str]) -> str:
    """Where a proposed action stands, as a sentence with who and when."""
    state = data.get("state") or "proposed"
    kind = data.get("kind") or ""
    params = _obj(data.get("params"))
    by = who(data.get("decided_by") or "")
    decided = wording.when(data.get("decided_at"))
    if state == "proposed":
        return "Waiting for your approval"
    if state == "rejected":
        return f"Rejected by {by}" + (f" on {decided}" if decided else "")
    if state == "done":
        at = wording.when(data.get("executed_at") or data.get("updated_at"))
        if kind == "refund":
            amount = wording.minor_money(params.get("amount"), params.get("currency"))
            return f"Refunded {amount} by {by}" + (f" on {at}" if at else "")
        if kind == "cancel_order":
            return f"Cancelled by {by}" + (f" on {at}" if at else "")
        return f"Done by {by}" + (f" on {at}" if at else "")
    if state == "failed":
        return f"Failed after {by} approved it: " + (data.get("error") or "see the audit log")
    if state == "executing":
        return f"Approved by {by}; running now"
    held = wording.deferred_reason(data.get("deferred_reason"))
    return (
        f"Approved by {by}"
        + (f" on {decided}" if decided else "")
        + (f"; {held}" if held else "; running shortly")
    )


def _outcome_lines(
    data: dict[str, Any], who: Callable[[str], str], orders_of: dict[str, str]
) -> dict[str, str]:
    """For a finished action: a headline ("Refunded 58.90 USD for order #1003") and who/when
    ("by Dana Admin on 7 Dec 2026, 07:28 UTC")."""
    state = data.get("state")
    if state not in ("done", "rejected"):
        return {"headline": "", "byline": ""}
    title = _approval_title(data, orders_of)
    if state == "rejected":
        headline = "Rejected: " + title[0].lower() + title[1:]
        at = wording.when(data.get("decided_at"))
    else:
        params = _obj(data.get("params"))
        if data.get("kind") == "refund":
            headline = "Refunded" + title[len("Refund") :]
        elif data.get("kind") == "cancel_order":
            headline = f"Cancelled order {params.get('order_name') or ''}".strip()
        else:
            headline = "Done: " + title
        at = wording.when(data.get("executed_at") or data.get("updated_at"))
    byline = f"by {who(data.get('decided_by') or '')}" + (f" on {at}" if at else "")
    return {"headline": headline, "byline": byline}


def _stored_name_first(data: dict[str, Any], who: Callable[[str], str]) -> Callable[[str], str]:
    """``who``, except that the decider reads as the name stored with the decision (when the
    deciding path knew one), so the name does not depend on this process having met them."""
    decider, stored = data.get("decided_by") or "", (data.get("decided_by_name") or "").strip()

    def named(actor: str) -> str:
        return stored if stored and actor == decider else who(actor)

    return named


def approval_for_panel(
    approval: Any,
    who: Callable[[str], str] | None = None,
    orders_of: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One collaborative action (refund, cancel) as the panel shows it: waiting for an agent,
    approved and still executing, deferred (kill switch) or failed, or done / rejected."""
    data = to_dict(approval)
    state = data.get("state") or "proposed"
    who = _stored_name_first(data, who or wording.person)
    reason = data.get("reason") or ""
    params = _obj(data.get("params"))
    return {
        "id": data.get("id"),
        "kind": data.get("kind") or "",
        "state": state,
        "summary": data.get("summary") or "",
        "title": _approval_title(data, orders_of or {}),
        "status_text": _approval_status(data, who),
        **_outcome_lines(data, who, orders_of or {}),
        "why_text": REFUND_REASONS.get(str(params.get("reason") or ""), "")
        if data.get("kind") == "refund"
        else wording.cancel_reason(params.get("reason")),
        "reason": reason,
        "amount": data.get("amount"),
        "currency": data.get("currency") or "",
        "requested_at": data.get("created_at") or "",
        "requested_by": data.get("proposed_by") or "",
        "decided_by": data.get("decided_by") or "",
        "decided_by_name": who(data.get("decided_by") or "") if data.get("decided_by") else "",
        "decided_at": data.get("decided_at") or "",
        "executed_at": data.get("executed_at") or "",
        "deferred_reason": data.get("deferred_reason") or "",
        "error": data.get("error") or "",
        # what an agent may still do: decide a proposal, or approve a failed one again (retry)
        "can_decide": state == "proposed",
        "can_retry": state == "failed",
    }


def record_feedback(
    db: sqlite_utils.Database, agent, ticket_id: int, body: dict[str, Any]
) -> dict[str, Any]:
    """Store an agent's verdict on the latest (or the named) decision of a ticket.

    ``{"verdict": "right"|"wrong", "correct_category": "<id>"?, "decision_id": N?}``. Naming a
    category without a verdict means "right" when it equals the prediction and "wrong" otherwise.
    One verdict per agent per decision: a later one replaces the earlier.
    """
    tenant_id = agent.tenant_id
    verdict = body.get("verdict")
    correct = body.get("correct_category") or None
    if verdict not in (None, "right", "wrong"):
        raise BadRequest("verdict must be 'right' or 'wrong'")
    if correct is not None and correct not in CATEGORIES:
        raise BadRequest(f"unknown category {correct!r}")
    decision_id = body.get("decision_id")
    if decision_id is not None and not isinstance(decision_id, int):
        raise BadRequest("decision_id must be an integer")
    with transaction(db):
        if decision_id is None:
            row = db.conn.execute(
                "SELECT id, category FROM decisions WHERE tenant_id = ? AND ticket_id = ?"
                " ORDER BY id DESC LIMIT 1",
                (tenant_id, ticket_id),
            ).fetchone()
            if row is None:
                raise NotProcessed("this ticket has no Deskguard decision to judge yet")
        else:
            row = db.conn.execute(
                "SELECT id, category FROM decisions WHERE tenant_id = ? AND ticket_id = ?"
                " AND id = ?",
                (tenant_id, ticket_id, decision_id),
            ).fetchone()
            if row is None:
                raise NotFound("no such decision for this ticket")
        decision_id, predicted = row
        if verdict is None:
            if correct is None:
                raise BadRequest("give a verdict ('right' or 'wrong') or the correct category")
            verdict = "right" if correct == predicted else "wrong"
        if verdict == "right":
            if correct not in (None, predicted):
                raise BadRequest("a 'right' verdict cannot name a different category")
            correct = predicted
        elif correct == predicted:
            raise BadRequest("a 'wrong' verdict needs a category other than the predicted one")
        db.conn.execute(
            "INSERT INTO feedback (tenant_id, ticket_id, decision_id, agent_id, verdict,"
            " correct_category, source, created_at) VALUES (?,?,?,?,?,?, 'panel', ?)"
            " ON CONFLICT (tenant_id, decision_id, agent_id, source) WHERE decision_id IS NOT NULL"
            " DO UPDATE SET verdict = excluded.verdict,"
            " correct_category = excluded.correct_category,"
            " created_at = excluded.created_at",
            (tenant_id, ticket_id, decision_id, agent.id, verdict, correct, now_iso()),
        )
        audit.record(
            db,
            tenant_id,
            FeedbackRecorded(
                decision_id=decision_id,
                agent_id=agent.id,
                verdict=verdict,
                correct_category=correct,
                predicted_category=predicted,
                ticket_id=ticket_id,
            ),
        )
    return {"decision_id": decision_id, "verdict": verdict, "correct_category": correct}
