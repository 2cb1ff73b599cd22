"""The panel's seams to other areas: approvals (issue #6) and the kill switch (issue #5).

Those areas own the behaviour; this module only finds their functions, so the panel keeps one
place that knows their names. When an area is not installed, the panel degrades to what the
foundation offers (no approvals; the kill switch through ``connector.tenants``).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from connector import tenants
from connector.errors import NotFound
from connector.runtime import Runtime


def _module(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _approvals() -> ModuleType | None:
    return _module("connector.commerce.approvals")


def pending_approvals(runtime: Runtime, tenant_id: str, ticket_id: int) -> list[dict[str, Any]]:
    """Open collaborative actions (refund, cancel) for one ticket, as JSON-ready dicts: the ones
    waiting for an agent, plus approved ones still executing, deferred (kill switch) or failed."""
    mod = _approvals()
    if mod is None:
        return []
    if hasattr(mod, "list_approvals"):
        items = mod.list_approvals(runtime.db, tenant_id, ticket_id=ticket_id, states=OPEN_STATES)
    elif hasattr(mod, "list_pending"):
        items = mod.list_pending(runtime.db, tenant_id, ticket_id=ticket_id)
    else:
        return []
    return [_approval_dict(item) for item in items]


OPEN_STATES = ("proposed", "approved", "executing", "failed")


def _approval_dict(item: Any) -> dict[str, Any]:
    from connector.domain import to_dict

    data = to_dict(item) if not isinstance(item, dict) else dict(item)
    state = data.get("state") or "proposed"
    return {
        "id": data.get("id"),
        "kind": data.get("kind") or data.get("action") or "",
        "state": state,
        "summary": data.get("summary") or data.get("description") or "",
        "reason": data.get("reason") or "",
        "amount": data.get("amount"),
        "currency": data.get("currency") or "",
        "requested_at": data.get("created_at") or data.get("requested_at") or "",
        "requested_by": data.get("proposed_by") or data.get("requested_by") or "",
        "decided_by": data.get("decided_by") or "",
        "deferred_reason": data.get("deferred_reason") or "",
        "error": data.get("error") or "",
        # what an agent may still do: decide a proposal, or approve a failed one again (retry)
        "can_decide": state == "proposed",
        "can_retry": state == "failed",
    }


def decide_approval(
    runtime: Runtime, tenant_id: str, approval_id: int, *, approve: bool, actor: str, note: str = ""
) -> dict[str, Any]:
    """Approve or reject one pending action of ``tenant_id``; NotFound when it is not theirs."""
    mod = _approvals()
    fn = getattr(mod, "approve" if approve else "reject", None) if mod else None
    if fn is None:
        raise NotFound("approvals are not available in this installation")
    result = fn(runtime, tenant_id, approval_id, actor=actor, note=note)
    from connector.domain import to_dict

    return (
        to_dict(result) if result is not None and not isinstance(result, dict) else (result or {})
    )


def set_kill_switch(runtime: Runtime, tenant_id: str, on: bool, *, actor: str, reason: str) -> bool:
    """Flip the tenant's kill switch; prefers the pipeline's function (it also syncs Zendesk)."""
    queries = _module("connector.pipeline.queries")
    fn = getattr(queries, "set_kill_switch", None) if queries else None
    if fn is not None:
        return bool(fn(runtime, tenant_id, on, actor=actor, reason=reason))
    return tenants.set_kill_switch(runtime.db, tenant_id, on, actor=actor, reason=reason)
