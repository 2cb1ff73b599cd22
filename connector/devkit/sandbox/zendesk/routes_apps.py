"""Zendesk apps: installations (where the Deskguard app's settings live), the app's public key,
and the agent-facing page that opens an app through a signed launch (``app_signing.py``)."""

from __future__ import annotations

from html import escape

from flask import Blueprint, Response, jsonify, request

from connector.devkit.sandbox.zendesk import app_signing
from connector.devkit.sandbox.zendesk.api import api_route
from connector.devkit.sandbox.zendesk.records import ApiError, deep_copy
from connector.devkit.sandbox.zendesk.state import ZendeskState


def apps_blueprint(state: ZendeskState) -> Blueprint:
    bp = Blueprint("apps", __name__)

    @api_route(bp, "/apps/installations")
    def installations():
        with state.lock:
            return jsonify({"installations": deep_copy(state.installations)})

    # Zendesk Apps API, "Get App Public Key": GET /api/v2/apps/{app_id}/public_key.pem
    @bp.get("/api/v2/apps/<int:app_id>/public_key.pem")
    def public_key(app_id: int):
        app_signing.installation_of_app(state, app_id)  # 404 for an app not installed here
        pem = app_signing.signing(state).public_pem(app_id)
        return Response(pem, mimetype="application/x-pem-file")

    @bp.get("/agent/apps/<int:installation_id>/launch")
    def launch(installation_id: int):
        """What an agent's browser does when Zendesk frames the app: POST the signed token."""
        try:
            user_id = int(request.args.get("user", ""))
            ticket = request.args.get("ticket")
            ticket_id = int(ticket) if ticket is not None else None
        except ValueError:
            raise ApiError(400, "InvalidValue", "user and ticket must be integers") from None
        action, fields = app_signing.launch_form(
            state,
            installation_id,
            user_id,
            ticket_id=ticket_id,
            location=request.args.get("location", "ticket_sidebar"),
        )
        inputs = "".join(
            f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
            for k, v in fields.items()
        )
        page = (
            "<!doctype html><title>Zendesk (emulator): opening the app</title>"
            f'<form method="post" action="{escape(action)}">{inputs}'
            "<noscript><button>Open the app</button></noscript></form>"
            "<script>document.forms[0].submit()</script>"
        )
        resp = Response(page, mimetype="text/html")
        resp.headers["Cache-Control"] = "no-store"
        return resp

    return bp
