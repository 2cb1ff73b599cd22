"""Stripe customers: list (filter by ``email``), search (``query=email:'x'``), retrieve.

Search lags behind writes by ``StripeState.search_lag_seconds``, like Stripe's index (up to a
minute, up to an hour during outages), so callers need the list as a fallback."""

from __future__ import annotations

import base64
from typing import Any

from flask import Blueprint

from connector.devkit.sandbox.stripe.api import (
    get_obj,
    invalid_request,
    list_page,
    page_limit,
    stripe_route,
)
from connector.devkit.sandbox.stripe.state import StripeState


def email_query(query: str) -> str:
    """The email of the one search query Deskguard sends: ``email:'a@b.com'``."""
    q = query.strip()
    if not (q.startswith("email:") and len(q) > 8 and q[6] in "'\"" and q.endswith(q[6])):
        raise invalid_request(
            f"The emulator only supports queries of the form email:'x', got: {query!r}",
            param="query",
        )
    return q[7:-1]


def _search_offset(params: dict[str, Any]) -> int:
    try:
        return int(base64.urlsafe_b64decode(params["page"]).decode()) if params.get("page") else 0
    except ValueError:
        raise invalid_request("Invalid page", param="page") from None


def customers_blueprint(state: StripeState) -> Blueprint:
    bp = Blueprint("customers", __name__)

    @stripe_route(bp, state, "GET", "/customers")
    def list_customers(params):
        rows = [
            c
            for c in state.customers.values()
            if not params.get("email") or c["email"] == params["email"]
        ]
        return list_page(rows, params, "/v1/customers")

    @stripe_route(bp, state, "GET", "/customers/search")
    def search_customers(params):
        email = email_query(params.get("query", ""))
        limit = page_limit(params)
        now = state.now()
        found = sorted(
            (
                c
                for c in state.customers.values()
                if c["email"] == email and c["created"] + state.search_lag_seconds <= now
            ),
            key=lambda c: (c["created"], c["id"]),
            reverse=True,
        )
        offset = _search_offset(params)
        more = len(found) > offset + limit
        next_page = base64.urlsafe_b64encode(str(offset + limit).encode()).decode()
        return {
            "object": "search_result",
            "data": found[offset : offset + limit],
            "has_more": more,
            "next_page": next_page if more else None,
            "url": "/v1/customers/search",
        }

    @stripe_route(bp, state, "GET", "/customers/<obj_id>")
    def retrieve_customer(params, obj_id: str):
        return get_obj(state.customers, obj_id, "customer")

    return bp
