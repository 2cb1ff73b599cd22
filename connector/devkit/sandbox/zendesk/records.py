"""Zendesk's wire formats as the sandbox produces them: timestamps, the webhook signature, the
JSON error shape, and the placeholders a trigger's webhook body may use."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

STATUS_ORDER = ("new", "open", "pending", "hold", "solved", "closed")
PLACEHOLDER = re.compile(r"\{\{\s*([\w.]+)\s*\}\}")


def iso(ts: float) -> str:
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def sign_webhook(secret: str, timestamp: str, body: bytes) -> str:
    """Zendesk's webhook signature: base64(HMAC-SHA256(secret, timestamp + body))."""
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class ApiError(Exception):
    """An error the emulator answers with Zendesk's JSON error shape."""

    def __init__(self, status: int, error: str, description: str = "", details: dict | None = None):
        super().__init__(f"{status} {error}: {description}")
        self.status = status
        self.body: dict[str, Any] = {"error": error}
        if description:
            self.body["description"] = description
        if details:
            self.body["details"] = details


def invalid_record(field_name: str, description: str) -> ApiError:
    """Zendesk's 422 for a record that fails validation on one field."""
    return ApiError(
        422,
        "RecordInvalid",
        "Record validation errors",
        {field_name: [{"description": description}]},
    )


def render_placeholders(template: str, ticket: dict[str, Any]) -> str:
    """Substitute the ticket placeholders a Deskguard trigger body uses; unknown ones render
    empty."""
    values = {
        "ticket.id": str(ticket["id"]),
        "ticket.status": ticket["status"],
        "ticket.priority": ticket.get("priority") or "",
        "ticket.updated_at_with_timestamp": ticket["updated_at"],
        "ticket.created_at_with_timestamp": ticket["created_at"],
        "ticket.via": ticket["via"]["channel"],
        "ticket.requester.id": str(ticket["requester_id"]),
    }
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), ""), template)


def unique_tags(items: Iterable[str]) -> list[str]:
    """Tags as Zendesk stores them: trimmed, lower case, spaces as underscores, no duplicates."""
    return list(
        dict.fromkeys(str(i).strip().lower().replace(" ", "_") for i in items if str(i).strip())
    )


def deep_copy(obj: Any) -> Any:
    """A copy through JSON, so callers never hold references into the state."""
    return json.loads(json.dumps(obj))
