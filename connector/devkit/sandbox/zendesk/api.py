"""What every Zendesk route shares: the ``/api/v2`` rules (with and without ``.json``), the
request body and ``ids`` parsing, cursor and offset pagination, and the ticket sideloads."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from flask import Blueprint, g, request

from connector.devkit.sandbox.zendesk.records import ApiError
from connector.devkit.sandbox.zendesk.state import ZendeskState

API = "/api/v2"


def api_route(
    blueprint: Blueprint, rule: str, methods: tuple[str, ...] = ("GET",)
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a rule with and without the ``.json`` suffix (zenpy uses both forms)."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        blueprint.add_url_rule(API + rule, fn.__name__, fn, methods=list(methods))
        blueprint.add_url_rule(
            API + rule + ".json", fn.__name__ + "_json", fn, methods=list(methods)
        )
        return fn

    return decorate


def current_user_id() -> int:
    """The id of the user the request authenticated as."""
    return g.user["id"]


def cursor(n: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{n}".encode()).decode()


def uncursor(text: str) -> int:
    try:
        kind, _, value = base64.urlsafe_b64decode(text.encode()).decode().partition(":")
        if kind != "seq":
            raise ValueError(kind)
        return int(value)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "InvalidPaginationParameter", "cursor is invalid") from None


def page(items: list[dict[str, Any]], key: str, **extra: Any) -> dict[str, Any]:
    """Cursor pagination (``page[size]``/``page[after]``) or offset (``page``/``per_page``)."""
    if "page[size]" in request.args or "page[after]" in request.args:
        return _cursor_page(items, key, **extra)
    base = request.base_url
    per_page = min(int(request.args.get("per_page", 100)), 100)
    number = max(int(request.args.get("page", 1)), 1)
    chunk = items[(number - 1) * per_page : number * per_page]
    more = number * per_page < len(items)
    return {
        key: chunk,
        **extra,
        "count": len(items),
        "next_page": f"{base}?page={number + 1}&per_page={per_page}" if more else None,
        "previous_page": f"{base}?page={number - 1}&per_page={per_page}" if number > 1 else None,
    }


def _cursor_page(items: list[dict[str, Any]], key: str, **extra: Any) -> dict[str, Any]:
    base = request.base_url
    size = min(int(request.args.get("page[size]", 100)), 100)
    start = uncursor(request.args["page[after]"]) if "page[after]" in request.args else 0
    chunk = items[start : start + size]
    has_more = start + size < len(items)
    after = cursor(start + len(chunk))
    return {
        key: chunk,
        **extra,
        "meta": {
            "has_more": has_more,
            "after_cursor": after if has_more else None,
            "before_cursor": cursor(start) if start else None,
        },
        "links": {
            "next": f"{base}?page[size]={size}&page[after]={after}" if has_more else None,
            "prev": None,
        },
    }


def body(key: str | None = None) -> Any:
    """The JSON body, or its ``key`` object (400 ``InvalidJSON``/``InvalidValue`` otherwise)."""
    data = request.get_json(silent=True)
    if data is None:
        raise ApiError(400, "InvalidJSON", "request body is not JSON")
    if key is not None:
        if not isinstance(data, dict) or not isinstance(data.get(key), dict | list):
            raise ApiError(400, "InvalidValue", f"expected a {key!r} object")
        return data[key]
    return data


def ids_arg() -> list[int]:
    """The ``ids`` query argument (comma-separated integers)."""
    try:
        return [int(i) for i in request.args.get("ids", "").split(",") if i.strip()]
    except ValueError:
        raise ApiError(400, "InvalidValue", "ids must be integers") from None


def sideload(
    state: ZendeskState,
    payload: dict[str, Any],
    tickets: list[dict[str, Any]],
    *,
    last_audits: bool = True,
) -> dict[str, Any]:
    """Ticket sideloads (``include=``): ``users`` (requester, submitter, assignee),
    ``comment_count`` (on each ticket) and ``last_audits`` (each ticket's most recent audit,
    with its events: a ``Comment`` event carries id, author_id, body, public).

    Zendesk does not serve ``last_audits`` on the incremental export ("for performance
    reasons"): that route passes ``last_audits=False``."""
    include = set(request.args.get("include", "").split(","))
    if "last_audits" in include and last_audits:
        found = (state.last_audit(t["id"]) for t in tickets)
        payload["last_audits"] = [a for a in found if a is not None]
    if "users" in include:
        ids = {
            t[k]
            for t in tickets
            for k in ("requester_id", "submitter_id", "assignee_id")
            if t.get(k)
        }
        with state.lock:
            payload["users"] = [dict(state.users[i]) for i in sorted(ids) if i in state.users]
    if "comment_count" in include:
        for t in tickets:
            t["comment_count"] = len(state.comments.get(t["id"], []))
    return payload
