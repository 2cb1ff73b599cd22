"""Small time helpers shared by the CLI and reports."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from connector.errors import BadRequest

_RELATIVE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, *, now: datetime | None = None) -> str:
    """'30d', '12h' or an ISO date/time → an ISO-8601 UTC timestamp string."""
    now = now or datetime.now(UTC)
    match = _RELATIVE.match(text)
    if match:
        return (now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})).isoformat()
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(
            f"--since {text!r}: use an ISO date like 2026-11-01 or an age like 30d"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).isoformat()
