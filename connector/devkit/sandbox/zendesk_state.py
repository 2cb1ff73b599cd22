"""The Zendesk sandbox's state and wire formats, under the module path tests and the CLI import
them from. They live in the ``zendesk`` package: ``zendesk/state.py`` (and the layers under it),
``zendesk/records.py`` and ``zendesk/demo.py``."""

from __future__ import annotations

from connector.devkit.sandbox.zendesk.demo import demo_tickets
from connector.devkit.sandbox.zendesk.records import (
    STATUS_ORDER,
    ApiError,
    iso,
    parse_iso,
    render_placeholders,
    sign_webhook,
)
from connector.devkit.sandbox.zendesk.state import ZendeskState
from connector.devkit.sandbox.zendesk.state_core import RateLimiter
from connector.devkit.sandbox.zendesk.state_webhooks import Delivery

__all__ = [
    "STATUS_ORDER",
    "ApiError",
    "Delivery",
    "RateLimiter",
    "ZendeskState",
    "demo_tickets",
    "iso",
    "parse_iso",
    "render_placeholders",
    "sign_webhook",
]
