"""Zendesk search (``/search``), for the ticket queries Deskguard makes."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from connector.devkit.sandbox.zendesk.api import api_route, page
from connector.devkit.sandbox.zendesk.state import ZendeskState


def search_blueprint(state: ZendeskState) -> Blueprint:
    bp = Blueprint("search", __name__)

    @api_route(bp, "/search")
    def search():
        results = [
            {**t, "result_type": "ticket"}
            for t in state.search_tickets(request.args.get("query", ""))
        ]
        payload = page(results, "results", facets=None)
        payload.pop("meta", None)
        payload.pop("links", None)
        return jsonify(payload)

    return bp
