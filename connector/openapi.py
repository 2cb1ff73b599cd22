"""The OpenAPI 3.1 description of every route the sidecar serves, at ``GET /api/openapi.json``.

The data shapes and security schemes are ``openapi.json`` beside this file (JSON Schema 2020-12,
as OpenAPI 3.1 uses it); the operations are the table below. tests/test_openapi_document.py fails
when a route of ``app.url_map`` is missing here (or described but not served) and when a real
response does not match its schema.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from flask import Blueprint, Response, jsonify

bp = Blueprint("openapi", __name__)

VERSION = "1"
Security = tuple[dict[str, list[str]], ...]  # alternatives; {} means "no credentials"
ADMIN: Security = ({"adminBearer": []},)
ADMIN_OR_SESSION: Security = ({"adminBearer": []}, {"adminSession": []})
SESSION: Security = ({"adminSession": []},)
PANEL: Security = ({"panelToken": [], "panelSession": []}, {"panelToken": []})
PUBLIC: Security = ({},)


@dataclass(frozen=True)
class Op:
    """One operation: ``ok`` maps a success status to a schema name, ``"html"``, ``"text"`` or
    ``"redirect"``; ``errors`` are the statuses that answer the JSON error shape."""

    method: str
    path: str
    summary: str
    tag: str
    security: Security
    ok: dict[int, str]
    errors: tuple[int, ...] = ()
    body: str | None = None  # a schema name (JSON) or "form"
    query: tuple[tuple[str, str, str], ...] = ()  # (name, type, description)
    extra: dict[str, Any] = field(default_factory=dict)


A = (400, 401, 403, 404, 429)  # the admin API's errors
P = (400, 401, 404)  # the panel API's errors
# One operation per entry, kept as a table (the formatter would give each argument a line).
# fmt: off
OPS: tuple[Op, ...] = (
    # --- health -----------------------------------------------------------------------------
    Op("get", "/healthz", "The process is up", "health", PUBLIC, {200: "Health"}),
    Op("get", "/readyz", "The ledger is readable, sound, writable and migrated", "health", PUBLIC,
       {200: "Ready"}, (503,)),
    Op("get", "/api/openapi.json", "This document", "health", PUBLIC, {200: "json"}),
    Op("get", "/metrics", "Prometheus text format, read from the ledger at scrape time", "metrics",
       ({"adminBearer": []}, {}), {200: "text"}, (401, 403, 429),
       extra={"description": "Anonymous from loopback with DESKGUARD_METRICS_ALLOW_LOOPBACK."}),
    # --- webhooks ---------------------------------------------------------------------------
    Op("post", "/webhooks/zendesk/{tenant_id}", "A Zendesk ticket event (queued)", "webhooks",
       ({"zendeskSignature": []},), {202: "ZendeskAccepted"}, (*P, 413), "object"),
    Op("post", "/webhooks/shopify/{tenant_id}", "A Shopify webhook for one tenant", "webhooks",
       ({"shopifyHmac": []},), {200: "ShopifyReceipt"}, (*P, 413), "object"),
    Op("post", "/webhooks/shopify", "A Shopify webhook; the tenant from X-Shopify-Shop-Domain",
       "webhooks", ({"shopifyHmac": []},), {200: "ShopifyReceipt"}, (*P, 413), "object"),
    Op("post", "/webhooks/stripe/{tenant}", "A Stripe event", "webhooks",
       ({"stripeSignature": []},), {200: "StripeReceipt"}, (*P, 413, 503), "object"),
    # --- admin API: pipeline ----------------------------------------------------------------
    Op("get", "/api/v1/tenants/{tenant}/kill-switch", "The kill switch", "admin API", ADMIN,
       {200: "KillSwitchStatus"}, A),
    Op("put", "/api/v1/tenants/{tenant}/kill-switch", "Set the kill switch", "admin API", ADMIN,
       {200: "KillSwitchStatus"}, A, "KillSwitchChange"),
    Op("post", "/api/v1/tenants/{tenant}/kill-switch", "Set the kill switch (as PUT)", "admin API",
       ADMIN, {200: "KillSwitchStatus"}, A, "KillSwitchChange"),
    Op("get", "/api/v1/tenants/{tenant}/policy", "The effective policy and go-live status",
       "admin API", ADMIN, {200: "PolicyView"}, A),
    Op("patch", "/api/v1/tenants/{tenant}/policy", "Change part of the policy", "admin API", ADMIN,
       {200: "PolicyView"}, (*A, 409), "PolicyPatch"),
    Op("put", "/api/v1/tenants/{tenant}/modes", "Set category modes", "admin API", ADMIN,
       {200: "PolicyView"}, (*A, 409), "ModesChange"),
    Op("get", "/api/v1/tenants/{tenant}/decisions", "Recent decisions, newest first", "admin API",
       ADMIN, {200: "DecisionList"}, A, query=(("category", "string", ""),
       ("outcome", "string", ""), ("mode", "string", ""), ("status", "string", ""),
       ("since", "string", "ISO date/time or an age like 7d"),
       ("limit", "integer", "1-1000, default 50"), ("offset", "integer", ""),
       ("full", "string", "1 or true: brief, reading, trace and context too"),)),
    Op("get", "/api/v1/tenants/{tenant}/tickets/{ticket_id}/decision",
       "A ticket's latest decision, history and audit trail", "admin API", ADMIN,
       {200: "TicketDecision"}, A),
    Op("get", "/api/v1/tenants/{tenant}/metrics", "The tenant's figures", "admin API", ADMIN,
       {200: "Figures"}, A, query=(
       ("since", "string", "ISO date/time or an age like 7d; default: whole ledger"),)),
    # --- admin API: approvals ---------------------------------------------------------------
    Op("get", "/api/v1/tenants/{tenant}/approvals", "The tenant's approvals", "admin API", ADMIN,
       {200: "ApprovalList"}, A, query=(("state", "string", "comma-separated states"),)),
    Op("get", "/api/v1/tenants/{tenant}/tickets/{ticket_id}/approvals", "A ticket's approvals",
       "admin API", ADMIN, {200: "ApprovalList"}, A, query=(
       ("state", "string", "comma-separated states"),)),
    Op("get", "/api/v1/tenants/{tenant}/approvals/{approval_id}", "One approval", "admin API",
       ADMIN, {200: "Approval"}, A),
    Op("post", "/api/v1/tenants/{tenant}/approvals/{approval_id}/{decision}",
       "Approve or reject a proposed refund or cancellation", "admin API", ADMIN, {200: "Approval"},
       (*A, 409), "ApprovalDecision"),
    # --- side panel -------------------------------------------------------------------------
    Op("get", "/panel/app", "The side panel page Zendesk frames (read-only without a launch)",
       "panel", PUBLIC, {200: "html"}),
    Op("post", "/panel/app", "Zendesk's signed launch (form field token): the page with a session",
       "panel", PUBLIC, {200: "html"}, (400, 401), "form"),
    Op("get", "/panel/api/me", "The token's tenant, the agent and the kill switch", "panel", PANEL,
       {200: "PanelMe"}, P),
    Op("get", "/panel/api/{tenant}/tickets/{ticket_id}", "Everything the panel shows for a ticket",
       "panel", PANEL, {200: "PanelTicket"}, P),
    Op("get", "/panel/api/{tenant}/permissions", "Which buttons to show the agent", "panel", PANEL,
       {200: "PanelPermissions"}, (*P, 502, 503)),
    Op("post", "/panel/api/{tenant}/tickets/{ticket_id}/feedback", "Right, wrong, or the category",
       "panel", PANEL, {201: "FeedbackSaved"}, (*P, 403, 409), "Feedback"),
    Op("post", "/panel/api/{tenant}/approvals/{approval_id}/{choice}", "Approve or reject", "panel",
       PANEL, {200: "PanelApprovalResult"}, (*P, 403, 409, 502, 503), "object"),
    Op("post", "/panel/api/{tenant}/kill-switch", "Flip the kill switch (Zendesk admins)", "panel",
       PANEL, {200: "KillSwitchFlag"}, (*P, 403, 502, 503), "KillSwitchChange"),
    # --- admin dashboard --------------------------------------------------------------------
    Op("get", "/admin/login", "The sign-in form", "dashboard", PUBLIC, {200: "html"}, (404,)),
    Op("post", "/admin/login", "Sign in with the admin token", "dashboard", PUBLIC,
       {302: "redirect", 401: "html"}, (404, 429), "form"),
    Op("post", "/admin/logout", "Sign out", "dashboard", SESSION, {302: "redirect"}, (403,),
       "form"),
    Op("get", "/admin/", "The dashboard", "dashboard", SESSION, {200: "html", 302: "redirect"},
       (400, 404), query=(("tenant", "string", ""), ("days", "integer", "1-366"),)),
    Op("get", "/admin/tickets/{ticket_id}", "One ticket's audit trail", "dashboard", SESSION,
       {200: "html", 302: "redirect"}, (404,), query=(("tenant", "string", ""),)),
    Op("post", "/admin/kill-switch", "The dashboard's kill-switch form", "dashboard", SESSION,
       {302: "redirect"}, (403, 404), "form"),
    Op("get", "/admin/api/{tenant}/metrics", "The dashboard's figures", "dashboard",
       ADMIN_OR_SESSION, {200: "DashboardFigures"}, (*P, 429), query=(
       ("days", "integer", "1-366, default 14"),)),
    Op("get", "/admin/api/{tenant}/decisions", "Decisions, filtered", "dashboard", ADMIN_OR_SESSION,
       {200: "DashboardDecisions"}, (*P, 429), query=(("category", "string", ""),
       ("outcome", "string", ""), ("from", "string", "YYYY-MM-DD"), ("to", "string", "YYYY-MM-DD"),
       ("limit", "integer", "1-500"),)),
    Op("get", "/admin/api/{tenant}/tickets/{ticket_id}", "One ticket's trail", "dashboard",
       ADMIN_OR_SESSION, {200: "TicketTrail"}, (401, 404, 429)),
    Op("post", "/admin/api/{tenant}/kill-switch", "Set the kill switch", "dashboard",
       ADMIN_OR_SESSION, {200: "KillSwitchFlag"}, A, "KillSwitchChange"),
    # --- admin console (signed in with the token or through Zendesk) -----------------------
    Op("get", "/admin/console", "Policy, caps, replays and the kill switch of a tenant", "console",
       SESSION, {200: "html", 302: "redirect"}, (404,), query=(("tenant", "string", ""),)),
    Op("get", "/admin/console/categories/{category}", "One category's policy", "console", SESSION,
       {200: "html", 302: "redirect"}, (400, 404), query=(("tenant", "string", ""),)),
    Op("post", "/admin/console/categories/{category}", "Change one category's policy", "console",
       SESSION, {200: "html", 302: "redirect"}, (400, 403, 404, 409), "form"),
    Op("post", "/admin/console/caps", "Change the caps", "console", SESSION, {302: "redirect"},
       (400, 403, 404), "form"),
    Op("post", "/admin/console/minutes-saved", "Change the minutes a reply or note saves",
       "console", SESSION, {302: "redirect"}, (400, 403, 404), "form"),
    Op("post", "/admin/console/kill-switch", "Flip the kill switch", "console", SESSION,
       {302: "redirect"}, (400, 403, 404), "form"),
    Op("post", "/admin/console/replays", "Replay recent decisions under a changed policy",
       "console", SESSION, {302: "redirect"}, (400, 403, 404), "form"),
    Op("get", "/admin/console/replays/{replay_id}", "A replay's results", "console", SESSION,
       {200: "html", 302: "redirect"}, (404,), query=(("tenant", "string", ""),)),
    Op("get", "/admin/console/export.csv", "Decisions of a date range as CSV", "console", SESSION,
       {200: "csv", 302: "redirect"}, (400, 404), query=(("tenant", "string", ""),
       ("from", "string", "YYYY-MM-DD"), ("to", "string", "YYYY-MM-DD"),)),
    Op("get", "/admin/login/zendesk", "Sign in to the console with Zendesk (OAuth)", "console",
       PUBLIC, {302: "redirect", 400: "html", 403: "html"}, (500,), query=(
       ("account", "string", "the Zendesk subdomain"), ("next", "string", ""),)),
    Op("get", "/admin/login/zendesk/callback", "Zendesk's OAuth redirect back", "console", PUBLIC,
       {200: "html", 302: "redirect", 400: "html", 403: "html"}, query=(("code", "string", ""),
       ("state", "string", ""),)),
    Op("post", "/admin/console/launch", "The Zendesk nav bar app's signed launch (form token)",
       "console", PUBLIC, {200: "html", 403: "html"}, (400, 401), "form"),
    Op("get", "/admin/console/enter", "Enter the console with a one-time sign-in link", "console",
       PUBLIC, {200: "html", 302: "redirect", 400: "html"}, query=(
       ("ticket", "string", "the sign-in link's sealed ticket"),)),
    # --- connections (Zendesk OAuth, Shopify install, Stripe) ---------------------------------
    Op("get", "/admin/connections", "Connected accounts of every tenant", "connections", SESSION,
       {200: "html", 302: "redirect"}, (404,)),
    Op("post", "/admin/connections/tenants", "Add a tenant", "connections", SESSION,
       {303: "redirect"}, (403, 404), "form"),
    Op("post", "/admin/connections/shopify/link", "Link an installed shop to a tenant",
       "connections", SESSION, {303: "redirect"}, (403, 404), "form"),
    Op("post", "/admin/connections/stripe", "Store a tenant's Stripe keys", "connections", SESSION,
       {303: "redirect"}, (403, 404), "form"),
    Op("get", "/connect/zendesk", "Start connecting a Zendesk account (OAuth)", "connections",
       ADMIN_OR_SESSION, {200: "html", 302: "redirect"}, (400, 401, 403, 429), query=(
       ("subdomain", "string", "acme for acme.zendesk.com"), ("tenant", "string", ""),
       ("go", "string", "1: continue to Zendesk"),)),
    Op("get", "/admin/connect/zendesk", "Start connecting a Zendesk account (OAuth)", "connections",
       ADMIN_OR_SESSION, {200: "html", 302: "redirect"}, (400, 401, 403, 429), query=(
       ("subdomain", "string", ""), ("tenant", "string", ""), ("go", "string", ""),)),
    Op("get", "/connect/zendesk/callback", "Zendesk's OAuth redirect back", "connections", PUBLIC,
       {200: "html"}, (400,), query=(("code", "string", ""), ("state", "string", ""),)),
    Op("post", "/connect/zendesk/disconnect", "Disconnect a tenant's Zendesk account",
       "connections", ADMIN, {200: "ZendeskDisconnected"}, (401, 403, 404, 429), query=(
       ("tenant", "string", ""),)),
    Op("get", "/shopify/install", "Shopify's app install URL: on to the grant screen",
       "connections", ({"shopifyOAuthHmac": []},), {302: "redirect"}, (400, 401)),
    Op("get", "/shopify/callback", "Shopify's OAuth redirect back", "connections",
       ({"shopifyOAuthHmac": []},), {302: "redirect"}, (400, 401)),
)
# fmt: on

_PARAMS = {
    "tenant": ("string", "Tenant id"),
    "tenant_id": ("string", "Tenant id"),
    "ticket_id": ("integer", "Zendesk ticket id"),
    "approval_id": ("integer", "Approval id"),
    "replay_id": ("integer", "Replay id"),
    "category": ("string", "Category id, e.g. order_status"),
}
_CHOICE = {"decision": ["approve", "reject"], "choice": ["approve", "reject"]}


def _path_params(path: str) -> list[dict[str, Any]]:
    out = []
    for part in path.split("/"):
        if part.startswith("{"):
            name = part[1:-1]
            if name in _CHOICE:
                schema: dict[str, Any] = {"type": "string", "enum": _CHOICE[name]}
                doc = "approve or reject"
            else:
                kind, doc = _PARAMS[name]
                schema = {"type": kind, "minimum": 0} if kind == "integer" else {"type": kind}
            out.append(
                {"name": name, "in": "path", "required": True, "schema": schema, "description": doc}
            )
    return out


def _response(kind: str) -> dict[str, Any]:
    if kind == "html":
        return {"description": "An HTML page", "content": {"text/html": {"schema": {}}}}
    if kind == "text":
        return {
            "description": "Prometheus text exposition format",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    if kind == "csv":
        return {"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}}
    if kind == "redirect":
        return {
            "description": "A redirect",
            "headers": {"Location": {"schema": {"type": "string"}}},
        }
    if kind == "json":
        return {"description": "JSON", "content": {"application/json": {"schema": {}}}}
    ref = {"$ref": f"#/components/schemas/{kind}"}
    return {"description": kind, "content": {"application/json": {"schema": ref}}}


def _request_body(body: str) -> dict[str, Any]:
    if body == "form":
        content = {"application/x-www-form-urlencoded": {"schema": {"type": "object"}}}
    elif body == "object":
        content = {"application/json": {"schema": {"type": "object"}}}
    else:
        content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{body}"}}}
    return {"required": True, "content": content}


def _operation(op: Op) -> dict[str, Any]:
    params = _path_params(op.path) + [
        {"name": n, "in": "query", "required": False, "schema": {"type": t}, "description": d}
        for n, t, d in op.query
    ]
    responses = {str(code): _response(kind) for code, kind in op.ok.items()}
    for code in op.errors:
        responses[str(code)] = {"$ref": "#/components/responses/Error"}
    responses["500"] = {"$ref": "#/components/responses/Error"}
    out: dict[str, Any] = {
        "summary": op.summary,
        "tags": [op.tag],
        "operationId": f"{op.method}_{op.path.strip('/').replace('/', '_')}",
        "security": list(op.security),
        "responses": responses,
        **op.extra,
    }
    for char in "{}.-":
        out["operationId"] = out["operationId"].replace(char, "")
    if params:
        out["parameters"] = params
    if op.body:
        out["requestBody"] = _request_body(op.body)
    return out


@cache
def document() -> dict[str, Any]:
    components = json.loads(resources.files("connector").joinpath("openapi.json").read_text())
    paths: dict[str, dict[str, Any]] = {}
    for op in OPS:
        paths.setdefault(op.path, {})[op.method] = _operation(op)
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "info": {
            "title": "Deskguard HTTP API",
            "version": VERSION,
            "description": "Every route of `deskguard serve`. Errors answer "
            '`{"error": {"code": "...", "message": "..."}}`; bodies above '
            "DESKGUARD_MAX_BODY_BYTES answer 413.",
        },
        "paths": paths,
        "components": components,
    }


@bp.get("/api/openapi.json")
def openapi_json() -> Response:
    return jsonify(document())
