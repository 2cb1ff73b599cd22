"""The side panel's session: what a verified signed launch (``launch.py``) turns into.

Zendesk's signed token comes only with the first page request ("the JWT is only sent on the
first request", see docs/vendors/zendesk.md, signed URLs), so the page carries a session that the
panel's later calls send back as ``X-Deskguard-Session``. A session is an itsdangerous signature
over (tenant, app installation, agent id, agent name) with a timestamp; it is valid for
``DESKGUARD_APP_SESSION_MINUTES``.

Binding: the signing key is derived per tenant from ``DESKGUARD_SECRET_KEYS`` (HMAC-SHA256 of the
tenant id), and the payload names the tenant and the installation, so a session of tenant A does
not verify for tenant B, and a session from an earlier installation stops working when the
installation id changes. Every key of ``DESKGUARD_SECRET_KEYS`` verifies (rotation); the first
signs. Nothing is stored: revoking a session means waiting for its expiry, rotating the secret
keys, or revoking the app token every panel call also carries.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from connector.errors import ConfigError, Unauthorized

HEADER = "X-Deskguard-Session"
SALT = "deskguard-panel-session"


class SessionExpired(Unauthorized):
    code = "session_expired"


@dataclass(frozen=True)
class PanelSession:
    """An agent Zendesk vouched for, in one tenant's app installation."""

    tenant_id: str
    installation_id: str
    agent_id: str
    name: str


def _serializer(config, tenant_id: str) -> URLSafeTimedSerializer:
    keys = list(config.get("secret_keys") or ())
    if not keys:
        raise ConfigError("DESKGUARD_SECRET_KEYS is not set: side-panel sessions cannot be signed")
    derived = [
        hmac.new(key.encode(), f"{SALT}\x00{tenant_id}".encode(), hashlib.sha256).digest()
        for key in keys
    ]
    # itsdangerous signs with the last key and accepts any: the first configured key signs.
    return URLSafeTimedSerializer(list(reversed(derived)), salt=SALT)


def issue(config, session: PanelSession) -> str:
    return _serializer(config, session.tenant_id).dumps(
        {
            "t": session.tenant_id,
            "i": session.installation_id,
            "a": session.agent_id,
            "n": session.name,
        }
    )


def read(config, tenant_id: str, installation_id: str, token: str) -> PanelSession:
    """The session in ``token`` for ``tenant_id``; Unauthorized (401) when it is forged, expired,
    of another tenant or of another installation."""
    max_age = int(float(config.get("app_session_minutes") or 30) * 60)
    try:
        data = _serializer(config, tenant_id).loads(token, max_age=max_age)
    except SignatureExpired:
        raise SessionExpired(
            "the side-panel session has expired: reopen the Deskguard app in Zendesk"
        ) from None
    except BadSignature:
        raise Unauthorized("the side-panel session is not valid for this account") from None
    if not isinstance(data, dict) or data.get("t") != tenant_id:
        raise Unauthorized("the side-panel session is not valid for this account")
    if not installation_id or data.get("i") != installation_id:
        raise Unauthorized(
            "the side-panel session belongs to another app installation: reopen the app"
        )
    agent_id = str(data.get("a") or "")
    if not (agent_id.isascii() and agent_id.isdecimal()):
        raise Unauthorized("the side-panel session names no Zendesk user")
    return PanelSession(tenant_id, installation_id, agent_id, str(data.get("n") or ""))
