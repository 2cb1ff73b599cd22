"""Zendesk sandbox: the Support API endpoints Deskguard uses, with Zendesk's JSON shapes,
API-token basic auth, cursor and offset pagination, 429 + ``Retry-After`` rate limits
(account-wide and the incremental export's own 10 req/min), and signed webhook deliveries fired
by triggers.

The real zenpy client talks to it over HTTP on 127.0.0.1 (tests and ``make demo``). The data and
behaviour live in :class:`ZendeskState` (``state.py`` and the layers under it), the HTTP side in
one blueprint per resource (``routes_*.py``) assembled by ``app.py``. Start one with
``start_zendesk_sandbox()``; run it standalone with ``deskguard sandbox zendesk``.
"""

from __future__ import annotations

from connector.devkit.sandbox.zendesk.app import create_zendesk_app
from connector.devkit.sandbox.zendesk.records import parse_iso, sign_webhook
from connector.devkit.sandbox.zendesk.server import ZendeskSandbox, start_zendesk_sandbox
from connector.devkit.sandbox.zendesk.state import ZendeskState

__all__ = [
    "ZendeskSandbox",
    "ZendeskState",
    "create_zendesk_app",
    "parse_iso",
    "sign_webhook",
    "start_zendesk_sandbox",
]
