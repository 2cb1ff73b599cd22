"""Who signed in: Zendesk's ``users/me`` read with the access token a person just granted
("Sign in with Zendesk", ``connector/console/signin.py``). Returns our ``SignedInUser``; HTTP
errors become our TransientError / PermanentError.

Zendesk's docs this follows (facts in docs/vendors/zendesk.md, "Signing people in"):

- Users API, "Show Self", https://developer.zendesk.com/api-reference/ticketing/users/users/ :
  ``GET /api/v2/users/me.json`` answers the user the credentials belong to, with ``id``,
  ``name``, ``email``, ``role`` (``end-user``, ``agent`` or ``admin``), ``active`` and
  ``suspended``.
- "OAuth Tokens" API reference (scopes), https://developer.zendesk.com/api-reference/ticketing/
  oauth/oauth_tokens/ : a scope is ``read``, ``write`` or ``<resource>:<read|write>``;
  ``users:read`` is enough for ``users/me``.
"""

from __future__ import annotations

from dataclasses import dataclass

import requests

from connector.errors import PermanentError, TransientError

VENDOR = "zendesk"


@dataclass(frozen=True)
class SignedInUser:
    id: int
    name: str
    email: str
    role: str
    active: bool
    suspended: bool

    @property
    def is_admin(self) -> bool:
        return self.role == "admin" and self.active and not self.suspended


def signed_in_user(base_url: str, access_token: str, *, timeout: float = 10.0) -> SignedInUser:
    """``users/me`` for ``access_token`` on the account at ``base_url``."""
    url = f"{base_url.rstrip('/')}/api/v2/users/me.json"
    try:
        resp = requests.get(
            url, headers={"Authorization": f"Bearer {access_token}"}, timeout=timeout
        )
    except (requests.Timeout, requests.ConnectionError) as exc:
        raise TransientError(f"zendesk users.me: {type(exc).__name__}", vendor=VENDOR) from None
    status = resp.status_code
    if status >= 400:
        cls = TransientError if status == 429 or status >= 500 else PermanentError
        raise cls(f"zendesk users.me: HTTP {status}", vendor=VENDOR, status=status)
    try:
        raw = resp.json().get("user") or {}
        user_id = int(raw["id"])
    except (ValueError, KeyError, TypeError, AttributeError):
        raise PermanentError("zendesk users.me: unexpected answer", vendor=VENDOR) from None
    return SignedInUser(
        id=user_id,
        name=str(raw.get("name") or ""),
        email=str(raw.get("email") or ""),
        role=str(raw.get("role") or ""),
        active=bool(raw.get("active", True)),
        suspended=bool(raw.get("suspended", False)),
    )
