"""The demo's Zendesk tickets: realistic store tickets, kept in ``demo_tickets.json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DEMO_TICKETS_PATH = Path(__file__).with_name("demo_tickets.json")


def demo_tickets() -> list[dict[str, Any]]:
    """Tickets for ``ZendeskState.seed``: dicts with subject, body, name, email, optional tags."""
    return json.loads(DEMO_TICKETS_PATH.read_text(encoding="utf-8"))
