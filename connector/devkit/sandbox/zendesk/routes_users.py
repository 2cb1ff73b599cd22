"""Zendesk users and custom roles: the authenticated user, users by id, custom roles by id."""

from __future__ import annotations

from flask import Blueprint, g, jsonify

from connector.devkit.sandbox.zendesk.api import api_route, ids_arg
from connector.devkit.sandbox.zendesk.records import ApiError
from connector.devkit.sandbox.zendesk.state import ZendeskState


def users_blueprint(state: ZendeskState) -> Blueprint:
    bp = Blueprint("users", __name__)

    @api_route(bp, "/users/me")
    def users_me():
        return jsonify({"user": dict(g.user)})

    @api_route(bp, "/users/show_many")
    def users_many():
        with state.lock:
            return jsonify({"users": [dict(state.users[i]) for i in ids_arg() if i in state.users]})

    @api_route(bp, "/users/<int:user_id>")
    def user(user_id: int):
        with state.lock:
            found = state.users.get(user_id)
        if found is None:
            raise ApiError(404, "RecordNotFound", "Not found")
        return jsonify({"user": dict(found)})

    @api_route(bp, "/custom_roles/<int:role_id>")
    def custom_role(role_id: int):
        with state.lock:
            found = state.custom_roles.get(role_id)
        if found is None:
            raise ApiError(404, "RecordNotFound", "Not found")
        return jsonify({"custom_role": dict(found)})

    return bp
