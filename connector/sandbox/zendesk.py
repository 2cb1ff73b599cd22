"""Zendesk sandbox: the Support API endpoints Deskguard uses, with Zendesk's JSON shapes, API-token
basic auth, cursor and offset pagination, 429 + ``Retry-After`` rate limits (account-wide and the
incremental export's own 10 req/min), and signed webhook deliveries fired by triggers.

The real zenpy client talks to it over HTTP on 127.0.0.1 (tests and ``make demo``); the data and
behaviour live in :class:`ZendeskState` (``zendesk_state.py``). Start one with
``start_zendesk_sandbox()``; run it standalone with ``deskguard sandbox zendesk``.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, g, jsonify, request

from connector.sandbox import RunningServer, serve_in_thread
from connector.sandbox.zendesk_state import ApiError, ZendeskState, parse_iso, sign_webhook

__all__ = [
    "ZendeskSandbox",
    "ZendeskState",
    "create_zendesk_app",
    "parse_iso",
    "sign_webhook",
    "start_zendesk_sandbox",
]

API = "/api/v2"


def _cursor(n: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{n}".encode()).decode()


def _uncursor(text: str) -> int:
    try:
        kind, _, value = base64.urlsafe_b64decode(text.encode()).decode().partition(":")
        if kind != "seq":
            raise ValueError(kind)
        return int(value)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "InvalidPaginationParameter", "cursor is invalid") from None


def _page(items: list[dict[str, Any]], key: str, **extra: Any) -> dict[str, Any]:
    """Cursor pagination (``page[size]``/``page[after]``) or offset (``page``/``per_page``)."""
    base = request.base_url
    if "page[size]" in request.args or "page[after]" in request.args:
        size = min(int(request.args.get("page[size]", 100)), 100)
        start = _uncursor(request.args["page[after]"]) if "page[after]" in request.args else 0
        chunk = items[start : start + size]
        has_more = start + size < len(items)
        after = _cursor(start + len(chunk))
        return {
            key: chunk,
            **extra,
            "meta": {
                "has_more": has_more,
                "after_cursor": after if has_more else None,
                "before_cursor": _cursor(start) if start else None,
            },
            "links": {
                "next": f"{base}?page[size]={size}&page[after]={after}" if has_more else None,
                "prev": None,
            },
        }
    per_page = min(int(request.args.get("per_page", 100)), 100)
    page = max(int(request.args.get("page", 1)), 1)
    chunk = items[(page - 1) * per_page : page * per_page]
    more = page * per_page < len(items)
    return {
        key: chunk,
        **extra,
        "count": len(items),
        "next_page": f"{base}?page={page + 1}&per_page={per_page}" if more else None,
        "previous_page": f"{base}?page={page - 1}&per_page={per_page}" if page > 1 else None,
    }


def _body(key: str | None = None) -> Any:
    data = request.get_json(silent=True)
    if data is None:
        raise ApiError(400, "InvalidJSON", "request body is not JSON")
    if key is not None:
        if not isinstance(data, dict) or not isinstance(data.get(key), dict | list):
            raise ApiError(400, "InvalidValue", f"expected a {key!r} object")
        return data[key]
    return data


def _ids_arg() -> list[int]:
    try:
        return [int(i) for i in request.args.get("ids", "").split(",") if i.strip()]
    except ValueError:
        raise ApiError(400, "InvalidValue", "ids must be integers") from None


def create_zendesk_app(state: ZendeskState) -> Flask:
    app = Flask("zendesk-sandbox")
    app.extensions["zendesk_state"] = state

    def route(rule: str, methods: tuple[str, ...] = ("GET",)):
        """Register a rule with and without the ``.json`` suffix (zenpy uses both forms)."""

        def decorate(fn):
            app.add_url_rule(API + rule, fn.__name__, fn, methods=list(methods))
            app.add_url_rule(API + rule + ".json", fn.__name__ + "_json", fn, methods=list(methods))
            return fn

        return decorate

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return jsonify(exc.body), exc.status

    @app.before_request
    def _gate():
        if not state.base_url:
            state.base_url = request.host_url.rstrip("/")
        g.user = None
        auth = request.authorization
        if auth is None or auth.type != "basic":
            return jsonify({"error": "Couldn't authenticate you"}), 401
        g.user = state.authenticate(auth.username or "", auth.password or "")
        if g.user is None:
            return jsonify({"error": "Couldn't authenticate you"}), 401
        wait = state.rate_limit_wait(export=request.path.startswith(API + "/incremental/"))
        if wait:
            response = jsonify(
                {
                    "error": "APIRateLimitExceeded",
                    "description": "Number of allowed API requests per minute exceeded",
                }
            )
            response.status_code = 429
            response.headers["Retry-After"] = str(wait)
            return response
        with state.lock:
            failure = state.fail_next.pop(0) if state.fail_next else None
        if failure:
            status, error = failure
            return jsonify({"error": error, "description": "injected by the sandbox"}), status
        return None

    @app.after_request
    def _record(response: Response):
        body = (
            request.get_json(silent=True)
            if request.method in ("POST", "PUT", "PATCH", "DELETE")
            else None
        )
        state.log_request(
            method=request.method,
            path=request.path,
            query=request.query_string.decode(),
            json=body,
            status=response.status_code,
            user=(g.get("user") or {}).get("email"),
        )
        if state.limiter.per_minute:
            response.headers["X-Rate-Limit"] = str(state.limiter.per_minute)
            response.headers["X-Rate-Limit-Remaining"] = str(
                max(0, state.limiter.per_minute - len(state.limiter.calls))
            )
        return response

    def me() -> int:
        return g.user["id"]

    def sideload(
        payload: dict[str, Any], tickets: list[dict[str, Any]], *, last_audits: bool = True
    ) -> dict[str, Any]:
        """Ticket sideloads (``include=``): ``users`` (requester, submitter, assignee),
        ``comment_count`` (on each ticket) and ``last_audits`` (each ticket's most recent audit,
        with its events: a ``Comment`` event carries id, author_id, body, public). Zendesk does not
        serve ``last_audits`` on the incremental export ("for performance reasons"): ``last_audits=False``."""
        include = set(request.args.get("include", "").split(","))
        if "last_audits" in include and last_audits:
            found = (state.last_audit(t["id"]) for t in tickets)
            payload["last_audits"] = [a for a in found if a is not None]
        if "users" in include:
            ids = {
                t[k]
                for t in tickets
                for k in ("requester_id", "submitter_id", "assignee_id")
                if t.get(k)
            }
            with state.lock:
                payload["users"] = [dict(state.users[i]) for i in sorted(ids) if i in state.users]
        if "comment_count" in include:
            for t in tickets:
                t["comment_count"] = len(state.comments.get(t["id"], []))
        return payload

    # --- tickets -------------------------------------------------------------------------
    @route("/tickets", ("GET", "POST"))
    def tickets():
        if request.method == "POST":
            ticket, audit = state.create_ticket(_body("ticket"), author_id=me())
            return jsonify({"ticket": ticket, "audit": audit}), 201
        with state.lock:
            items = [
                dict(t)
                for t in sorted(state.tickets.values(), key=lambda t: t["id"])
                if t["status"] != "deleted"
            ]
        return jsonify(_page(items, "tickets"))

    @route("/tickets/show_many")
    def tickets_show_many():
        found = []
        for tid in _ids_arg()[:100]:
            try:
                found.append(state.get_ticket(tid))
            except ApiError:
                continue
        return jsonify(sideload({"tickets": found}, found))

    @route("/tickets/<int:ticket_id>", ("GET", "PUT"))
    def ticket(ticket_id: int):
        if request.method == "PUT":
            ticket, audit = state.update_ticket(ticket_id, _body("ticket"), author_id=me())
            return jsonify({"ticket": ticket, "audit": audit})
        found = state.get_ticket(ticket_id)
        return jsonify(sideload({"ticket": found}, [found]))

    @route("/tickets/<int:ticket_id>/comments")
    def comments(ticket_id: int):
        items = state.list_comments(ticket_id)
        if request.args.get("sort_order") == "desc":
            items.reverse()
        payload = _page(items, "comments")
        if "users" in request.args.get("include", ""):
            with state.lock:
                ids = {c["author_id"] for c in payload["comments"]}
                payload["users"] = [dict(state.users[i]) for i in sorted(ids) if i in state.users]
        return jsonify(payload)

    @route("/tickets/<int:ticket_id>/audits")
    def audits(ticket_id: int):
        state.get_ticket(ticket_id)
        with state.lock:
            items = json.loads(json.dumps(state.audits.get(ticket_id, [])))
        return jsonify(_page(items, "audits"))

    @route("/tickets/<int:ticket_id>/tags", ("GET", "PUT", "POST", "DELETE"))
    def tags(ticket_id: int):
        if request.method == "GET":
            return jsonify({"tags": state.get_ticket(ticket_id)["tags"]})
        wanted = _body("tags")
        how = {"PUT": "add", "POST": "set", "DELETE": "remove"}[request.method]
        return jsonify({"tags": state.change_tags(ticket_id, list(wanted), how, author_id=me())})

    @route("/tickets/update_many", ("PUT",))
    def update_many():
        data = _body()
        if isinstance(data.get("tickets"), list):
            items = data["tickets"]
            if any(not isinstance(i, dict) or "id" not in i for i in items):
                raise ApiError(400, "InvalidValue", "every ticket needs an id")
        elif isinstance(data.get("ticket"), dict) and request.args.get("ids"):
            items = [{"id": i, **data["ticket"]} for i in _ids_arg()]
        else:
            raise ApiError(400, "InvalidValue", "expected tickets[] or ids + ticket")
        return jsonify({"job_status": state.start_update_many(items, author_id=me())})

    @route("/job_statuses/<job_id>")
    def job_status(job_id: str):
        return jsonify({"job_status": state.job_status(job_id)})

    @route("/job_statuses/show_many")
    def job_statuses_many():
        ids = [i for i in request.args.get("ids", "").split(",") if i]
        return jsonify({"job_statuses": [state.job_status(i) for i in ids]})

    @route("/incremental/tickets/cursor")
    def incremental_cursor():
        per_page = min(int(request.args.get("per_page", 1000)), 1000)
        if "cursor" in request.args and "start_time" in request.args:
            raise ApiError(400, "InvalidValue", "send either start_time or cursor")
        if "cursor" in request.args:
            items, last, end = state.export_since(
                seq=_uncursor(request.args["cursor"]), limit=per_page
            )
        elif "start_time" in request.args:
            try:
                start = int(request.args["start_time"])
            except ValueError:
                raise ApiError(400, "InvalidValue", "start_time must be a unix timestamp") from None
            if start > state.clock():
                raise ApiError(400, "InvalidValue", "start_time is in the future")
            items, last, end = state.export_since(start_time=start, limit=per_page)
        else:
            raise ApiError(400, "InvalidValue", "start_time or cursor is required")
        after = _cursor(last)
        base = request.base_url
        payload = {
            "tickets": items,
            "after_cursor": after,
            "after_url": f"{base}?cursor={after}&per_page={per_page}",
            "before_cursor": None,
            "before_url": None,
            "end_of_stream": end,
        }
        return jsonify(sideload(payload, items, last_audits=False))

    @route("/search")
    def search():
        results = [
            {**t, "result_type": "ticket"}
            for t in state.search_tickets(request.args.get("query", ""))
        ]
        payload = _page(results, "results", facets=None)
        payload.pop("meta", None)
        payload.pop("links", None)
        return jsonify(payload)

    # --- users ---------------------------------------------------------------------------
    @route("/users/me")
    def users_me():
        return jsonify({"user": dict(g.user)})

    @route("/users/show_many")
    def users_many():
        with state.lock:
            return jsonify(
                {"users": [dict(state.users[i]) for i in _ids_arg() if i in state.users]}
            )

    @route("/users/<int:user_id>")
    def user(user_id: int):
        with state.lock:
            found = state.users.get(user_id)
        if found is None:
            raise ApiError(404, "RecordNotFound", "Not found")
        return jsonify({"user": dict(found)})

    @route("/custom_roles/<int:role_id>")
    def custom_role(role_id: int):
        with state.lock:
            found = state.custom_roles.get(role_id)
        if found is None:
            raise ApiError(404, "RecordNotFound", "Not found")
        return jsonify({"custom_role": dict(found)})

    # --- webhooks and triggers -----------------------------------------------------------
    @route("/webhooks", ("GET", "POST"))
    def webhooks():
        if request.method == "POST":
            return jsonify({"webhook": state.create_webhook(_body("webhook"), author_id=me())}), 201
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

    @route("/webhooks/<webhook_id>", ("GET", "DELETE"))
    def webhook(webhook_id: str):
        if request.method == "DELETE":
            state.get_webhook(webhook_id)
            with state.lock:
                del state.webhooks[webhook_id]
            return Response(status=204)
        return jsonify({"webhook": state.get_webhook(webhook_id)})

    @route("/webhooks/<webhook_id>/signing_secret", ("GET", "POST"))
    def webhook_secret(webhook_id: str):
        secret = state.signing_secret(webhook_id, reset=request.method == "POST")
        return jsonify({"signing_secret": {"algorithm": "SHA256", "secret": secret}})

    @route("/triggers", ("GET", "POST"))
    def triggers():
        if request.method == "POST":
            return jsonify({"trigger": state.create_trigger(_body("trigger"))}), 201
        with state.lock:
            items = [
                json.loads(json.dumps(t))
                for t in sorted(state.triggers.values(), key=lambda t: t["position"])
            ]
        return jsonify(_page(items, "triggers"))

    @route("/triggers/<int:trigger_id>", ("GET", "DELETE"))
    def trigger(trigger_id: int):
        with state.lock:
            found = state.triggers.get(trigger_id)
            if found is None:
                raise ApiError(404, "RecordNotFound", "Not found")
            if request.method == "DELETE":
                del state.triggers[trigger_id]
                return Response(status=204)
            return jsonify({"trigger": json.loads(json.dumps(found))})

    # --- apps ----------------------------------------------------------------------------
    @route("/apps/installations")
    def installations():
        with state.lock:
            return jsonify({"installations": json.loads(json.dumps(state.installations))})

    return app


@dataclass
class ZendeskSandbox:
    """A running sandbox: its state, its server, and the API credentials it accepts."""

    state: ZendeskState
    server: RunningServer

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def agent_email(self) -> str:
        return self.state.agent["email"]

    @property
    def agent_token(self) -> str:
        return self.state.agent_token

    def stop(self, *, wait: bool = True) -> None:
        """Stop serving; ``wait=False`` returns at once (the server's poll loop ends within 0.5 s)."""
        if not wait:
            threading.Thread(target=self.stop, name="zendesk-sandbox-stop", daemon=True).start()
            return
        self.server.stop()
        self.state.close()


def start_zendesk_sandbox(
    state: ZendeskState | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    **state_options: Any,
) -> ZendeskSandbox:
    """Serve a Zendesk sandbox in a background thread (port 0 picks a free port)."""
    state = state or ZendeskState(**state_options)
    server = serve_in_thread(create_zendesk_app(state), host=host, port=port)
    state.base_url = (
        server.url if host in ("127.0.0.1", "0.0.0.0") else f"http://{host}:{server.port}"
    )
    return ZendeskSandbox(state, server)
