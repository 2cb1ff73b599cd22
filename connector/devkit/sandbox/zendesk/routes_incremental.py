"""Zendesk's cursor-based incremental ticket export (``/incremental/tickets/cursor``).

It has its own rate limit (10 requests a minute), enforced by the app's request gate."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from connector.devkit.sandbox.zendesk.api import api_route, cursor, sideload, uncursor
from connector.devkit.sandbox.zendesk.records import ApiError
from connector.devkit.sandbox.zendesk.state import ZendeskState


def _start_time(state: ZendeskState) -> int:
    try:
        start = int(request.args["start_time"])
    except ValueError:
        raise ApiError(400, "InvalidValue", "start_time must be a unix timestamp") from None
    if start > state.clock():
        raise ApiError(400, "InvalidValue", "start_time is in the future")
    return start


def incremental_blueprint(state: ZendeskState) -> Blueprint:
    bp = Blueprint("incremental_export", __name__)

    @api_route(bp, "/incremental/tickets/cursor")
    def incremental_cursor():
        per_page = min(int(request.args.get("per_page", 1000)), 1000)
        if "cursor" in request.args and "start_time" in request.args:
            raise ApiError(400, "InvalidValue", "send either start_time or cursor")
        if "cursor" in request.args:
            seq = uncursor(request.args["cursor"])
            items, last, end = state.export_since(seq=seq, limit=per_page)
        elif "start_time" in request.args:
            start = _start_time(state)
            items, last, end = state.export_since(start_time=start, limit=per_page)
        else:
            raise ApiError(400, "InvalidValue", "start_time or cursor is required")
        after = cursor(last)
        payload = {
            "tickets": items,
            "after_cursor": after,
            "after_url": f"{request.base_url}?cursor={after}&per_page={per_page}",
            "before_cursor": None,
            "before_url": None,
            "end_of_stream": end,
        }
        return jsonify(sideload(state, payload, items, last_audits=False))

    return bp
