"""Stripe webhook endpoints: create (answers the signing ``secret``, only then), list, retrieve,
delete. Created endpoints receive the sandbox's signed deliveries (``StripeState.deliver``)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from connector.devkit.sandbox.stripe.api import get_obj, invalid_request, list_page, stripe_route
from connector.devkit.sandbox.stripe.state import StripeState


def _public(endpoint: dict[str, Any]) -> dict[str, Any]:
    """The object as list and retrieve show it: without the secret."""
    return {k: v for k, v in endpoint.items() if k != "secret"}


def webhook_endpoints_blueprint(state: StripeState) -> Blueprint:
    bp = Blueprint("webhook_endpoints", __name__)

    @stripe_route(bp, state, "POST", "/webhook_endpoints")
    def create_webhook_endpoint(params):
        url = params.get("url")
        if not url:
            raise invalid_request(
                "Missing required param: url.", code="parameter_missing", param="url"
            )
        events = params.get("enabled_events")
        if not events or not isinstance(events, list):
            raise invalid_request(
                "Missing required param: enabled_events.",
                code="parameter_missing",
                param="enabled_events",
            )
        metadata = params.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise invalid_request("Invalid object", param="metadata")
        return state.create_webhook_endpoint(
            url,
            events,
            description=params.get("description"),
            metadata=metadata,
            api_version=params.get("api_version"),
        )

    @stripe_route(bp, state, "GET", "/webhook_endpoints")
    def list_webhook_endpoints(params):
        rows = [_public(e) for e in state.endpoint_objects.values()]
        return list_page(rows, params, "/v1/webhook_endpoints")

    @stripe_route(bp, state, "GET", "/webhook_endpoints/<obj_id>")
    def retrieve_webhook_endpoint(params, obj_id: str):
        return _public(get_obj(state.endpoint_objects, obj_id, "webhook_endpoint"))

    @stripe_route(bp, state, "DELETE", "/webhook_endpoints/<obj_id>")
    def delete_webhook_endpoint(params, obj_id: str):
        get_obj(state.endpoint_objects, obj_id, "webhook_endpoint")
        deleted = state.delete_webhook_endpoint(obj_id)
        assert deleted is not None
        return deleted

    return bp
