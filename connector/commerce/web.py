"""HTTP API for collaborative actions (Flask blueprint).

- ``GET  /api/v1/tenants/<t>/tickets/<id>/approvals``  a ticket's approvals (``?state=`` filter)
- ``GET  /api/v1/tenants/<t>/approvals``               the tenant's approvals (``?state=``)
- ``GET  /api/v1/tenants/<t>/approvals/<id>``          one approval
- ``POST /api/v1/tenants/<t>/approvals/<id>/approve``  body ``{"agent": "...", "note": "..."}``
- ``POST /api/v1/tenants/<t>/approvals/<id>/reject``   same body

Authenticated with the admin bearer token (``Authorization: Bearer $DESKGUARD_ADMIN_TOKEN``);
with no token configured the API is off (403). The side panel calls the same functions in
connector/commerce/approvals.py with its own agent authentication.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from connector.commerce import approvals
from connector.domain import to_dict
from connector.errors import BadRequest
from connector.web_context import get_runtime, require_admin

bp = Blueprint("approvals_api", __name__, url_prefix="/api/v1/tenants/<tenant>")


bp.before_request(require_admin)


def _states() -> tuple[str, ...] | None:
    raw = request.args.get("state", "")
    states = tuple(s for s in raw.split(",") if s)
    bad = [s for s in states if s not in approvals.STATES]
    if bad:
        raise BadRequest(f"unknown state {bad[0]!r}: expected one of {', '.join(approvals.STATES)}")
    return states or None


def _decision_body() -> tuple[str, str]:
    body = request.get_json(silent=True) if request.data else {}
    if body is None or not isinstance(body, dict):
        raise BadRequest(
            'body must be a JSON object like {"agent": "jo@example.com", "note": "..."}'
        )
    agent = str(body.get("agent") or "admin").strip()
    note = str(body.get("note") or "")
    if len(agent) > 200 or len(note) > 2000:
        raise BadRequest("agent or note is too long")
    return agent, note


@bp.get("/tickets/<int:ticket_id>/approvals")
def ticket_approvals(tenant: str, ticket_id: int):
    items = approvals.list_approvals(
        get_runtime().db, tenant, ticket_id=ticket_id, states=_states()
    )
    return jsonify({"approvals": [to_dict(a) for a in items]})


@bp.get("/approvals")
def tenant_approvals(tenant: str):
    items = approvals.list_approvals(get_runtime().db, tenant, states=_states())
    return jsonify({"approvals": [to_dict(a) for a in items]})


@bp.get("/approvals/<int:approval_id>")
def one_approval(tenant: str, approval_id: int):
    return jsonify(to_dict(approvals.get(get_runtime().db, tenant, approval_id)))


@bp.post("/approvals/<int:approval_id>/<any(approve, reject):decision>")
def decide(tenant: str, approval_id: int, decision: str):
    agent, note = _decision_body()
    fn = approvals.approve if decision == "approve" else approvals.reject
    approval = fn(get_runtime(), tenant, approval_id, agent, note=note)
    return jsonify(to_dict(approval))
