"""Zendesk webhooks (with their signing secrets) and the triggers that invoke them."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from connector.devkit.sandbox.zendesk.api import api_route, body, current_user_id, page
from connector.devkit.sandbox.zendesk.records import ApiError, deep_copy
from connector.devkit.sandbox.zendesk.state import ZendeskState


def webhooks_blueprint(state: ZendeskState) -> Blueprint:
    bp = Blueprint("webhooks", __name__)

    @api_route(bp, "/webhooks", ("GET", "POST"))
    def webhooks():
        if request.method == "POST":
            created = state.create_webhook(body("webhook"), author_id=current_user_id())
            return jsonify({"webhook": created}), 201
        contains = request.args.get("filter[name_contains]", "").lower()
        with state.lock:
            hooks = [dict(h) for h in state.webhooks.values() if contains in h["name"].lower()]
        return jsonify(
            {
                "webhooks": hooks,
                "meta": {"has_more": False, "after_cursor": None, "before_cursor": None},
                "links": {"next": None, "prev": None},
            }
        )

    @api_route(bp, "/webhooks/<webhook_id>", ("GET", "DELETE"))
    def webhook(webhook_id: str):
        if request.method == "DELETE":
            state.get_webhook(webhook_id)
            with state.lock:
                del state.webhooks[webhook_id]
            return Response(status=204)
        return jsonify({"webhook": state.get_webhook(webhook_id)})

    @api_route(bp, "/webhooks/<webhook_id>/signing_secret", ("GET", "POST"))
    def webhook_secret(webhook_id: str):
        secret = state.signing_secret(webhook_id, reset=request.method == "POST")
        return jsonify({"signing_secret": {"algorithm": "SHA256", "secret": secret}})

    return bp


def triggers_blueprint(state: ZendeskState) -> Blueprint:
    bp = Blueprint("triggers", __name__)

    @api_route(bp, "/triggers", ("GET", "POST"))
    def triggers():
        if request.method == "POST":
            return jsonify({"trigger": state.create_trigger(body("trigger"))}), 201
        with state.lock:
            items = [
                deep_copy(t) for t in sorted(state.triggers.values(), key=lambda t: t["position"])
            ]
        return jsonify(page(items, "triggers"))

    @api_route(bp, "/triggers/<int:trigger_id>", ("GET", "DELETE"))
    def trigger(trigger_id: int):
        with state.lock:
            found = state.triggers.get(trigger_id)
            if found is None:
                raise ApiError(404, "RecordNotFound", "Not found")
            if request.method == "DELETE":
                del state.triggers[trigger_id]
                return Response(status=204)
            return jsonify({"trigger": deep_copy(found)})

    return bp
