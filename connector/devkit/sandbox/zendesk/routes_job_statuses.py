"""Zendesk job statuses: the progress of bulk ticket updates."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from connector.devkit.sandbox.zendesk.api import api_route
from connector.devkit.sandbox.zendesk.state import ZendeskState


def job_statuses_blueprint(state: ZendeskState) -> Blueprint:
    bp = Blueprint("job_statuses", __name__)

    @api_route(bp, "/job_statuses/<job_id>")
    def job_status(job_id: str):
        return jsonify({"job_status": state.job_status(job_id)})

    @api_route(bp, "/job_statuses/show_many")
    def job_statuses_many():
        ids = [i for i in request.args.get("ids", "").split(",") if i]
        return jsonify({"job_statuses": [state.job_status(i) for i in ids]})

    return bp
