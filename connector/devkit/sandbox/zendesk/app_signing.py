"""Signed app launches, as Zendesk makes them for apps whose manifest sets ``signedUrls``.

Zendesk loads such an app's first page with a POST whose form field ``token`` is a JWT signed
RS256 with the app's private key, and serves the matching public key at
``GET /api/v2/apps/{app_id}/public_key.pem`` (docs/vendors/zendesk.md, "Signed URLs"): the key
is the app's, so every installation of one app in the account signs with it. The emulator holds
one RSA key per installed app, made on first use, and signs launches for any agent or admin of
the account:

- ``launch_token(state, installation_id, user_id)``: the JWT (claims ``iss`` = the account's host,
  ``aud`` = the installation's API URL, ``sub`` = the user's API URL, ``iat``/``nbf``/``exp`` five
  minutes apart, ``jti``, ``context``, ``cnf.jku`` = the key's URL);
- ``launch_form(...)``: the POST a Zendesk iframe sends to the app's URL (action URL + fields);
- ``launch_page_url(...)``: the emulator's agent-facing page (``routes_apps.py``) that makes the
  browser send that POST, for the demo and the browser tests.

The launch page authenticates nobody: it stands for "an agent signed in to Zendesk opens a
ticket". Only the emulator serves it.
"""

from __future__ import annotations

import secrets
import threading
import time
import weakref
from typing import Any
from urllib.parse import urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from connector.devkit.sandbox.zendesk.records import ApiError
from connector.devkit.sandbox.zendesk.state import ZendeskState

LAUNCH_TTL_SECONDS = 300  # the lifetime of Zendesk's token (five minutes)
PANEL_PATH = "/panel/app"
# The URL of each location in the app manifest (connector/panel/zendesk_app), on the sidecar.
LOCATION_PATHS = {"ticket_sidebar": PANEL_PATH, "nav_bar": "/admin/console/launch"}


class AppSigning:
    """The account's app keys: one RSA key per app id."""

    def __init__(self) -> None:
        self._keys: dict[int, rsa.RSAPrivateKey] = {}
        self._lock = threading.Lock()

    def private_key(self, app_id: int) -> rsa.RSAPrivateKey:
        with self._lock:
            key = self._keys.get(app_id)
            if key is None:
                key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
                self._keys[app_id] = key
            return key

    def public_pem(self, app_id: int) -> bytes:
        return (
            self.private_key(app_id)
            .public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

    def rotate(self, app_id: int) -> None:
        """A new key for the app (what a key rotation at Zendesk looks like)."""
        with self._lock:
            self._keys.pop(app_id, None)


_SIGNING: weakref.WeakKeyDictionary[ZendeskState, AppSigning] = weakref.WeakKeyDictionary()
_SIGNING_LOCK = threading.Lock()


def signing(state: ZendeskState) -> AppSigning:
    """The app keys of one emulated account."""
    with _SIGNING_LOCK:
        found = _SIGNING.get(state)
        if found is None:
            found = _SIGNING[state] = AppSigning()
        return found


def installation(state: ZendeskState, installation_id: int) -> dict[str, Any]:
    with state.lock:
        for inst in state.installations:
            if inst["id"] == installation_id:
                return dict(inst, settings=dict(inst["settings"]))
    raise ApiError(404, "RecordNotFound", "Not found")


def installation_of_app(state: ZendeskState, app_id: int) -> dict[str, Any]:
    with state.lock:
        for inst in state.installations:
            if inst["app_id"] == app_id:
                return dict(inst, settings=dict(inst["settings"]))
    raise ApiError(404, "RecordNotFound", "Not found")


def issuer(state: ZendeskState) -> str:
    return urlsplit(state.base_url).netloc


def audience(state: ZendeskState, installation_id: int) -> str:
    return state.url(f"apps/installations/{installation_id}.json")


def _agent(state: ZendeskState, user_id: int) -> dict[str, Any]:
    with state.lock:
        user = state.users.get(user_id)
    if user is None:
        raise ApiError(404, "RecordNotFound", "Not found")
    if user["role"] not in ("agent", "admin") or user.get("suspended"):
        raise ApiError(403, "Forbidden", "apps are shown to signed-in agents only")
    return user


def launch_claims(
    state: ZendeskState,
    installation_id: int,
    user_id: int,
    *,
    now: float | None = None,
    location: str = "ticket_sidebar",
) -> dict[str, Any]:
    inst = installation(state, installation_id)
    _agent(state, user_id)
    issued = int(now if now is not None else time.time())
    return {
        "iss": issuer(state),
        "aud": audience(state, installation_id),
        "sub": state.url(f"users/{user_id}.json"),
        "iat": issued,
        "nbf": issued,
        "exp": issued + LAUNCH_TTL_SECONDS,
        "jti": secrets.token_hex(16),
        "context": {"product": "support", "location": location},
        "cnf": {"jku": state.url(f"apps/{inst['app_id']}/public_key.pem")},
    }


def launch_token(
    state: ZendeskState,
    installation_id: int,
    user_id: int,
    *,
    now: float | None = None,
    location: str = "ticket_sidebar",
    **claims: Any,
) -> str:
    """A launch token for ``user_id``; ``claims`` override or add claims (tests)."""
    payload = {
        **launch_claims(state, installation_id, user_id, now=now, location=location),
        **claims,
    }
    key = signing(state).private_key(installation(state, installation_id)["app_id"])
    return jwt.encode(payload, key, algorithm="RS256")


def launch_form(
    state: ZendeskState,
    installation_id: int,
    user_id: int,
    *,
    ticket_id: int | None = None,
    location: str = "ticket_sidebar",
) -> tuple[str, dict[str, str]]:
    """The POST Zendesk sends to the app's URL: (action URL, form fields). The query names the
    account (``origin``) and the app (``app_guid``) as Zendesk's does; ``ticket`` and ``shim``
    let the sidecar's demo mode render its stand-in ZAF client (ignored otherwise)."""
    inst = installation(state, installation_id)
    sidecar = str(inst["settings"].get("sidecar_url") or "").rstrip("/")
    if not sidecar:
        raise ApiError(422, "InvalidValue", "the installation has no sidecar_url setting")
    query: dict[str, Any] = {"origin": state.base_url, "app_guid": f"app-{installation_id}"}
    if ticket_id is not None:
        query.update({"ticket": ticket_id, "shim": 1})
    path = LOCATION_PATHS.get(location)
    if path is None:
        raise ApiError(400, "InvalidValue", f"unknown app location {location!r}")
    action = f"{sidecar}{path}?{urlencode(query)}"
    return action, {"token": launch_token(state, installation_id, user_id, location=location)}


def launch_page_url(
    state: ZendeskState,
    installation_id: int,
    user_id: int,
    ticket_id: int | None = None,
    *,
    location: str = "ticket_sidebar",
) -> str:
    """The emulator page that makes a browser send the signed launch (demo, browser tests)."""
    query: dict[str, Any] = {"user": user_id}
    if ticket_id is not None:
        query["ticket"] = ticket_id
    if location != "ticket_sidebar":
        query["location"] = location
    return f"{state.base_url}/agent/apps/{installation_id}/launch?{urlencode(query)}"
