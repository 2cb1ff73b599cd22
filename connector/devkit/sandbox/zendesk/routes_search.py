"""Zendesk search (``/search``), for the ticket queries Deskguard makes.

Search lags: "It can take up to a few minutes for new tickets, users, and other resources to be
indexed for search" (Search API reference,
https://developer.zendesk.com/api-reference/ticketing/ticket-management/search/). The sandbox
leaves tickets created in the last ``search_lag_seconds`` out of results (0 by default; set it
with ``POST /_sandbox/search_lag {"seconds": 120}``), so code that must find a ticket it just
created learns not to rely on search."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from connector.devkit.sandbox.zendesk.api import api_route, page
from connector.devkit.sandbox.zendesk.records import parse_iso
from connector.devkit.sandbox.zendesk.state import ZendeskState


def search_blueprint(state: ZendeskState) -> Blueprint:
    bp = Blueprint("search", __name__)
    lag = {"seconds": 0.0}

    @bp.post("/_sandbox/search_lag")
    def search_lag():
        lag["seconds"] = float((request.get_json(force=True) or {}).get("seconds", 0))
        return {"ok": True, "search_lag_seconds": lag["seconds"]}

    @api_route(bp, "/search")
    def search():
        indexed_before = state.clock() - lag["seconds"]
        results = [
            {**t, "result_type": "ticket"}
            for t in state.search_tickets(request.args.get("query", ""))
            if not lag["seconds"] or parse_iso(t["created_at"]) <= indexed_before
        ]
        payload = page(results, "results", facets=None)
        payload.pop("meta", None)
        payload.pop("links", None)
        return jsonify(payload)

    return bp
