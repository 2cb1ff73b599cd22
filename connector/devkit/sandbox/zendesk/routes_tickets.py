"""Zendesk tickets: list, create, show (one or many), update (one or in bulk), comments, audits
and tags."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from connector.devkit.sandbox.zendesk.api import (
    api_route,
    body,
    current_user_id,
    ids_arg,
    page,
    sideload,
)
from connector.devkit.sandbox.zendesk.records import ApiError, deep_copy
from connector.devkit.sandbox.zendesk.state import ZendeskState

TAG_CHANGES = {"PUT": "add", "POST": "set", "DELETE": "remove"}


def tickets_blueprint(state: ZendeskState) -> Blueprint:
    bp = Blueprint("tickets", __name__)

    @api_route(bp, "/tickets", ("GET", "POST"))
    def tickets():
        if request.method == "POST":
            ticket, audit = state.create_ticket(body("ticket"), author_id=current_user_id())
            return jsonify({"ticket": ticket, "audit": audit}), 201
        # ``external_id`` filters the list ("List Tickets", Tickets API reference,
        # https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#list-tickets):
        # an exact lookup that, unlike search, sees a ticket as soon as it exists.
        external_id = request.args.get("external_id")
        with state.lock:
            items = [
                dict(t)
                for t in sorted(state.tickets.values(), key=lambda t: t["id"])
                if t["status"] != "deleted"
                and (external_id is None or t.get("external_id") == external_id)
            ]
        return jsonify(page(items, "tickets"))

    @api_route(bp, "/tickets/show_many")
    def tickets_show_many():
        found = []
        for tid in ids_arg()[:100]:
            try:
                found.append(state.get_ticket(tid))
            except ApiError:
                continue
        return jsonify(sideload(state, {"tickets": found}, found))

    @api_route(bp, "/tickets/<int:ticket_id>", ("GET", "PUT"))
    def ticket(ticket_id: int):
        if request.method == "PUT":
            changed, audit = state.update_ticket(
                ticket_id, body("ticket"), author_id=current_user_id()
            )
            return jsonify({"ticket": changed, "audit": audit})
        found = state.get_ticket(ticket_id)
        return jsonify(sideload(state, {"ticket": found}, [found]))

    @api_route(bp, "/tickets/<int:ticket_id>/comments")
    def comments(ticket_id: int):
        items = state.list_comments(ticket_id)
        if request.args.get("sort_order") == "desc":
            items.reverse()
        payload = page(items, "comments")
        if "users" in request.args.get("include", ""):
            with state.lock:
                ids = {c["author_id"] for c in payload["comments"]}
                payload["users"] = [dict(state.users[i]) for i in sorted(ids) if i in state.users]
        return jsonify(payload)

    @api_route(bp, "/tickets/<int:ticket_id>/audits")
    def audits(ticket_id: int):
        state.get_ticket(ticket_id)
        with state.lock:
            items = deep_copy(state.audits.get(ticket_id, []))
        return jsonify(page(items, "audits"))

    @api_route(bp, "/tickets/<int:ticket_id>/tags", ("GET", "PUT", "POST", "DELETE"))
    def tags(ticket_id: int):
        if request.method == "GET":
            return jsonify({"tags": state.get_ticket(ticket_id)["tags"]})
        wanted = list(body("tags"))
        how = TAG_CHANGES[request.method]
        return jsonify(
            {"tags": state.change_tags(ticket_id, wanted, how, author_id=current_user_id())}
        )

    @api_route(bp, "/tickets/update_many", ("PUT",))
    def update_many():
        data = body()
        if isinstance(data.get("tickets"), list):
            items = data["tickets"]
            if any(not isinstance(i, dict) or "id" not in i for i in items):
                raise ApiError(400, "InvalidValue", "every ticket needs an id")
        elif isinstance(data.get("ticket"), dict) and request.args.get("ids"):
            items = [{"id": i, **data["ticket"]} for i in ids_arg()]
        else:
            raise ApiError(400, "InvalidValue", "expected tickets[] or ids + ticket")
        return jsonify({"job_status": state.start_update_many(items, author_id=current_user_id())})

    return bp
