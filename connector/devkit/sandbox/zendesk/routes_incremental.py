"""Zendesk's cursor-based incremental ticket export (``/incremental/tickets/cursor``).

It has its own rate limit (10 requests a minute), enforced by the app's request gate. Like
Zendesk, it can leave out the changes of the last minute: "any items that were created or changed
within the minute prior to your request are excluded" (Using the Incremental Export API,
https://developer.zendesk.com/documentation/ticketing/managing-tickets/using-the-incremental-export-api).
Off by default (tests that poll right after a change); ``POST /_sandbox/export_exclude_recent
{"seconds": 60}`` turns it on. The cursor then stops before the left-out changes, so the next
request returns them."""

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
    recent = {"seconds": 0.0}

    @bp.post("/_sandbox/export_exclude_recent")
    def export_exclude_recent():
        recent["seconds"] = float((request.get_json(force=True) or {}).get("seconds", 0))
        return {"ok": True, "exclude_recent_seconds": recent["seconds"]}

    def leave_out_recent(items: list, last: int, end: bool) -> tuple[list, int, bool]:
        if not recent["seconds"]:
            return items, last, end
        cutoff = state.clock() - recent["seconds"]
        kept = [t for t in items if t["generated_timestamp"] <= cutoff]
        if len(kept) == len(items):
            return items, last, end
        with state.lock:
            first_left_out = state.change_seq[items[len(kept)]["id"]]
        return kept, first_left_out - 1, True

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
        items, last, end = leave_out_recent(items, last, end)
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
