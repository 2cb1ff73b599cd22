"""Admin API for the decision pipeline (Flask blueprint), bearer ``DESKGUARD_ADMIN_TOKEN``.

Under ``/api/v1/tenants/<t>``:

- ``GET   /kill-switch``            state, who flipped it, why, deferred jobs
- ``PUT   /kill-switch``            ``{"on": true, "reason": "..."}`` (POST too)
- ``GET   /policy``                 effective policy, modes and go-live status
- ``PATCH /policy``                 ``{"policy": {...partial...}, "reason", "override_reason"}``
- ``PUT   /modes``                  ``{"modes": {"order_status": "auto", "*": "assist"},
                                    "default_mode"?, "reason", "override_reason"?}``
- ``GET   /decisions``              ``?category=&outcome=&mode=&status=&since=&limit=&offset=``
- ``GET   /tickets/<id>/decision``  latest decision, history and audit trail
- ``GET   /metrics``                ``?since=7d`` (figures: connector/pipeline/metrics.py)

With no admin token configured the API is off (403).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from connector.errors import BadRequest
from connector.pipeline import decisions, killswitch, policy
from connector.pipeline import metrics as pipeline_metrics
from connector.web_context import get_runtime, require_admin

bp = Blueprint("pipeline_api", __name__, url_prefix="/api/v1/tenants/<tenant>")


def _actor() -> str:
    return "admin_api:" + (request.headers.get("X-Deskguard-Actor", "")[:80].strip() or "token")


bp.before_request(require_admin)


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    return body


def _text(body: dict[str, Any], name: str, limit: int = 500) -> str:
    value = body.get(name) or ""
    if not isinstance(value, str) or len(value) > limit:
        raise BadRequest(f"{name} must be a string of at most {limit} characters")
    return value.strip()


def _policy_file() -> str | None:
    return get_runtime().config.get("policy_file") or None


@bp.get("/kill-switch")
def kill_switch_get(tenant: str) -> Response:
    return jsonify(killswitch.status(get_runtime().db, tenant))


@bp.route("/kill-switch", methods=["PUT", "POST"])
def kill_switch_set(tenant: str) -> Response:
    body = _body()
    if not isinstance(body.get("on"), bool):
        raise BadRequest('give "on": true or false')
    db = get_runtime().db
    changed = killswitch.set_switch(
        db, tenant, body["on"], actor=_actor(), reason=_text(body, "reason")
    )
    return jsonify({**killswitch.status(db, tenant), "changed": changed})


@bp.get("/policy")
def policy_get(tenant: str) -> Response:
    return jsonify(decisions.policy_view(get_runtime().db, tenant, policy_file=_policy_file()))


@bp.patch("/policy")
def policy_patch(tenant: str) -> Response:
    body = _body()
    patch = body.get("policy")
    if not isinstance(patch, dict):
        raise BadRequest('give {"policy": {...partial policy...}}')
    policy.update(
        get_runtime().db,
        tenant,
        patch,
        actor=_actor(),
        reason=_text(body, "reason"),
        override_reason=_text(body, "override_reason") or None,
        policy_file=_policy_file(),
    )
    return jsonify(decisions.policy_view(get_runtime().db, tenant, policy_file=_policy_file()))


@bp.put("/modes")
def modes_put(tenant: str) -> Response:
    body = _body()
    modes = body.get("modes") or {}
    if not isinstance(modes, dict) or not all(isinstance(v, str) for v in modes.values()):
        raise BadRequest('give {"modes": {"<category>|*": "off|shadow|assist|auto"}}')
    db, reason, override = (
        get_runtime().db,
        _text(body, "reason"),
        _text(body, "override_reason") or None,
    )
    if body.get("default_mode") is not None:
        policy.set_default_mode(
            db,
            tenant,
            str(body["default_mode"]),
            actor=_actor(),
            reason=reason,
            override_reason=override,
            policy_file=_policy_file(),
        )
    if modes:
        policy.set_category_modes(
            db,
            tenant,
            modes,
            actor=_actor(),
            reason=reason,
            override_reason=override,
            policy_file=_policy_file(),
        )
    return jsonify(decisions.policy_view(db, tenant, policy_file=_policy_file()))


@bp.get("/decisions")
def decisions_list(tenant: str) -> Response:
    from connector.timeutil import parse_since

    args = request.args
    try:
        limit, offset = int(args.get("limit", 50)), int(args.get("offset", 0))
    except ValueError:
        raise BadRequest("limit and offset must be whole numbers") from None
    since = parse_since(args["since"]) if args.get("since") else None
    rows = decisions.recent_decisions(
        get_runtime().db,
        tenant,
        limit=limit,
        offset=offset,
        category=args.get("category"),
        outcome=args.get("outcome"),
        mode=args.get("mode"),
        status=args.get("status"),
        since=since,
        full=args.get("full") in ("1", "true"),
    )
    return jsonify({"decisions": rows})


@bp.get("/tickets/<int:ticket_id>/decision")
def ticket_decision(tenant: str, ticket_id: int) -> Response:
    return jsonify(decisions.ticket_decision(get_runtime().db, tenant, ticket_id))


@bp.get("/metrics")
def metrics(tenant: str) -> Response:
    from connector.timeutil import parse_since

    since = parse_since(request.args["since"]) if request.args.get("since") else None
    runtime = get_runtime()
    return jsonify(
        pipeline_metrics.figures(
            runtime.db, tenant, since=since, policy_file=_policy_file(), queue=runtime.queue
        )
    )
