"""What every Stripe ``/v1`` route shares: the request pipeline (request log, auth, injected
failures, restricted-key permissions, idempotent replay), Stripe's error bodies and headers, form
decoding and list pagination.

Each resource's blueprint declares its routes with :func:`stripe_route`; any other ``/v1`` URL
goes through the same pipeline and answers Stripe's 404 (:func:`unknown_urls_blueprint`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Callable, Mapping
from typing import Any, cast

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import HTTPException

from connector.devkit.sandbox.stripe.state import API_VERSION, PERMISSIONS, Failure, StripeState

Handler = Callable[[dict[str, Any]], dict[str, Any]]
ACCOUNT = "acct_deskguardsandbox"
NO_KEY = (
    "You did not provide an API key. You need to provide your API key in the Authorization "
    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY')."
)
IDEMPOTENCY_MISMATCH = (
    "Keys for idempotent requests can only be used with the same parameters they were first used "
    "with. Try using a key other than '{key}' if you meant to execute a different request."
)


class StripeApiError(Exception):
    def __init__(
        self,
        status: int,
        type_: str,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status, self.type, self.message = status, type_, message
        self.code, self.param = code, param
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code:
            err["code"] = self.code
            err["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param:
            err["param"] = self.param
        return {"error": err}


def invalid_request(message: str, **details: Any) -> StripeApiError:
    """A 400 ``invalid_request_error`` (``code=`` and ``param=`` as keywords)."""
    return StripeApiError(400, "invalid_request_error", message, **details)


# --- routes ---------------------------------------------------------------------------------
def stripe_route(
    blueprint: Blueprint, state: StripeState, method: str, rule: str
) -> Callable[[Callable[..., dict[str, Any]]], Callable[..., Response]]:
    """Register ``method /v1<rule>``. The decorated handler takes the decoded params (plus the
    rule's URL arguments) and returns the response object; it runs inside :func:`dispatch`."""

    def decorate(handler: Callable[..., dict[str, Any]]) -> Callable[..., Response]:
        def view(**url_args: Any) -> Response:
            if request.method != method:  # Flask also routes HEAD to GET views
                return dispatch(state, None)
            return dispatch(state, lambda params: handler(params, **url_args))

        blueprint.add_url_rule("/v1" + rule, handler.__name__, view, methods=[method])
        return view

    return decorate


def unknown_urls_blueprint(state: StripeState) -> Blueprint:
    """Every other ``/v1`` URL: the pipeline runs (so auth, injected failures and idempotent
    replays apply), then Stripe's 404. Surrounding slashes are ignored, as Stripe's router
    does: ``/v1/customers/`` lists customers."""
    bp = Blueprint("unknown_urls", __name__)

    @bp.route("/v1/<path:path>", methods=["GET", "POST", "DELETE"])
    def unknown_url(path: str) -> Response:
        stripped = path.strip("/")
        if stripped != path:
            view = _view_for("/v1/" + stripped)
            if view is not None:
                return view[0](**view[1])
        return dispatch(state, None)

    return bp


def _view_for(path: str) -> tuple[Callable[..., Response], Mapping[str, Any]] | None:
    adapter = current_app.create_url_adapter(request)
    if adapter is None:
        return None
    try:
        endpoint, args = adapter.match(path, method=request.method)
    except HTTPException:  # includes RequestRedirect
        return None
    if endpoint == "unknown_urls.unknown_url":
        return None
    # Every /v1 view is a stripe_route or unknown_url view: it returns a Response.
    return cast("Callable[..., Response]", current_app.view_functions[endpoint]), args


# --- the pipeline ---------------------------------------------------------------------------
def dispatch(state: StripeState, handler: Handler | None) -> Response:
    """Run one API request: log it, authenticate, apply injected failures and permissions,
    replay or record idempotent POSTs, then ``handler`` (None: the URL is unknown → 404)."""
    method = request.method
    path = request.path.removeprefix("/v1/")
    form = request.args if method == "GET" else request.form
    params = parse_params(form.items(multi=True))
    idem = request.headers.get("Idempotency-Key") if method == "POST" else None
    with state.lock:
        entry: dict[str, Any] = {
            "method": method,
            "path": "/v1/" + path,
            "params": params,
            "idempotency_key": idem,
            "stripe_version": request.headers.get("Stripe-Version"),
            "status": None,
        }
        state.requests.append(entry)
        try:
            key, perms = authenticate(state)
            failure = injected_failure(state, method, "/v1/" + path)
            if failure:
                raise StripeApiError(failure.status, "api_error", failure.message)
            require(perms, key, method, path.strip("/").split("/")[0])
            status, body, headers = _run(state, handler, key, idem, method, path, params)
        except StripeApiError as exc:
            status, body, headers = exc.status, exc.body(), exc.headers
        entry["status"] = status
        return respond(status, body, headers, default_version=state.api_version)


def _run(
    state: StripeState,
    handler: Handler | None,
    key: str,
    idem: str | None,
    method: str,
    path: str,
    params: dict[str, Any],
) -> tuple[int, dict[str, Any], dict[str, str] | None]:
    """The handler's (status, body, headers), or the stored answer for a replayed
    ``Idempotency-Key``. Once the endpoint has run, its result, success or error, is what the
    key replays."""
    if idem:
        stored = state.idempotency.get((key, idem))
        if stored:
            if stored[0] != fingerprint(method, path, params):
                raise StripeApiError(
                    400, "idempotency_error", IDEMPOTENCY_MISMATCH.format(key=idem)
                )
            return stored[1], stored[2], {"Idempotent-Replayed": "true", "Idempotency-Key": idem}
    if handler is None:
        raise StripeApiError(
            404, "invalid_request_error", f"Unrecognized request URL ({method}: /v1/{path})."
        )
    try:
        status, body = 200, handler(params)
    except StripeApiError as exc:
        if not idem:
            raise
        status, body = exc.status, exc.body()
    if not idem:
        return status, body, None
    state.idempotency[(key, idem)] = (fingerprint(method, path, params), status, body)
    return status, body, {"Idempotency-Key": idem}


def respond(
    status: int,
    body: dict[str, Any],
    headers: dict[str, str] | None = None,
    *,
    default_version: str = API_VERSION,
) -> Response:
    """A JSON response with Stripe's ``Request-Id`` and ``Stripe-Version`` headers: the version
    the request named, else the account's default ("How API versioning works",
    https://docs.stripe.com/api-versions)."""
    resp = Response(json.dumps(body), status=status, mimetype="application/json")
    resp.headers["Request-Id"] = "req_" + uuid.uuid4().hex[:14]
    resp.headers["Stripe-Version"] = request.headers.get("Stripe-Version") or default_version
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def _masked(key: str) -> str:
    return f"{key[:8]}{'*' * 8}{key[-4:]}"


def authenticate(state: StripeState) -> tuple[str, frozenset[str] | None]:
    """The API key (Bearer, or basic auth with the key as user) and its permissions (None: a
    secret key, which may do everything)."""
    header = request.headers.get("Authorization", "")
    key = ""
    if header.startswith("Bearer "):
        key = header[7:].strip()
    elif header.startswith("Basic "):
        try:
            key = base64.b64decode(header[6:]).decode().split(":", 1)[0]
        except (ValueError, UnicodeDecodeError):
            key = ""
    if not key:
        raise StripeApiError(401, "invalid_request_error", NO_KEY)
    if key not in state.keys:
        raise StripeApiError(
            401,
            "invalid_request_error",
            f"Invalid API Key provided: {_masked(key)}",
            code="api_key_invalid" if not key.startswith(("sk_", "rk_")) else None,
        )
    return key, state.keys[key]


def require(perms: frozenset[str] | None, key: str, method: str, resource: str) -> None:
    """403 when a restricted key lacks the permission ``method`` on ``resource`` needs."""
    needed = PERMISSIONS.get((method, resource))
    if perms is None or needed is None or needed in perms:
        return
    raise StripeApiError(
        403,
        "invalid_request_error",
        f"The provided key '{_masked(key)}' does not have the required permissions for this "
        f"endpoint on account '{ACCOUNT}'. Having the '{needed}' permission would allow this "
        "request to continue.",
    )


def injected_failure(state: StripeState, method: str, path: str) -> Failure | None:
    for f in state.failures:
        if f.times > 0 and f.method == method and path.startswith(f.path):
            f.times -= 1
            return f
    return None


# --- params and lists -----------------------------------------------------------------------
def parse_params(items) -> dict[str, Any]:
    """Stripe's form encoding: ``a=1``, ``metadata[k]=v``, ``expand[]=x`` / ``expand[0]=x``."""
    out: dict[str, Any] = {}
    for key, value in items:
        if "[" not in key:
            out[key] = value
            continue
        head, rest = key.split("[", 1)
        sub = rest.rstrip("]")
        if sub == "" or sub.isdigit():
            out.setdefault(head, []).append(value)
        else:
            out.setdefault(head, {})[sub] = value
    return out


def fingerprint(method: str, path: str, params: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps([method, path, params], sort_keys=True).encode()).hexdigest()


def get_obj(table: dict[str, dict[str, Any]], obj_id: str | None, kind: str) -> dict[str, Any]:
    """The object ``obj_id`` names (None: no id, e.g. a PaymentIntent with no charge), or 404."""
    obj = table.get(obj_id) if obj_id is not None else None
    if obj is None:
        raise StripeApiError(
            404,
            "invalid_request_error",
            f"No such {kind}: '{obj_id}'",
            code="resource_missing",
            param="id",
        )
    return obj


def page_limit(params: dict[str, Any]) -> int:
    try:
        limit = int(params.get("limit", 10))
    except ValueError:
        raise invalid_request("Invalid integer: limit", param="limit") from None
    if not 1 <= limit <= 100:
        raise invalid_request(
            "This value must be greater than or equal to 1 and less than or equal to 100.",
            param="limit",
        )
    return limit


def list_page(objects: list[dict[str, Any]], params: dict[str, Any], url: str) -> dict[str, Any]:
    """A list page: newest first, after ``starting_after``, ``limit`` long, with ``has_more``."""
    ordered = sorted(objects, key=lambda o: (o["created"], o["id"]), reverse=True)
    after = params.get("starting_after")
    if after:
        ids = [o["id"] for o in ordered]
        if after not in ids:
            raise invalid_request(
                f"No such object: '{after}'", code="resource_missing", param="starting_after"
            )
        ordered = ordered[ids.index(after) + 1 :]
    limit = page_limit(params)
    return {"object": "list", "data": ordered[:limit], "has_more": len(ordered) > limit, "url": url}


def by_charge_or_pi(
    table: dict[str, dict[str, Any]], params: dict[str, Any], url: str
) -> dict[str, Any]:
    """A list of refunds or disputes, filtered by ``charge`` and/or ``payment_intent``."""
    rows = [
        o
        for o in table.values()
        if (not params.get("charge") or o["charge"] == params["charge"])
        and (not params.get("payment_intent") or o["payment_intent"] == params["payment_intent"])
    ]
    return list_page(rows, params, url)
