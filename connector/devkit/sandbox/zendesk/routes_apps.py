"""Zendesk app installations (where the Deskguard app's settings live)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from connector.devkit.sandbox.zendesk.api import api_route
from connector.devkit.sandbox.zendesk.records import deep_copy
from connector.devkit.sandbox.zendesk.state import ZendeskState


def apps_blueprint(state: ZendeskState) -> Blueprint:
    bp = Blueprint("apps", __name__)

    @api_route(bp, "/apps/installations")
    def installations():
        with state.lock:
            return jsonify({"installations": deep_copy(state.installations)})

    return bp
