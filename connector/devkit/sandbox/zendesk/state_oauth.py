"""OAuth in the Zendesk sandbox: OAuth clients, authorization codes (with PKCE), access and
refresh tokens with lifetimes, rotation on refresh, revocation and scope checks.

What it follows (Zendesk's docs; see docs/vendors/zendesk.md):

- "OAuth Tokens for Grant Types" (developer.zendesk.com/api-reference/ticketing/oauth/
  grant_type_tokens/): ``POST /oauth/tokens`` with ``grant_type`` ``authorization_code``
  (a code valid 120 s, ``code_verifier`` when the authorization used PKCE), ``refresh_token``
  (returns a new pair and invalidates the previous access and refresh tokens) and
  ``client_credentials`` (confidential clients only); ``expires_in`` and
  ``refresh_token_expires_in`` set the lifetimes (access: more than 300 and less than 172,800 s,
  and less than the refresh token's). The implicit and password grants are refused.
- "Using PKCE to make Zendesk OAuth access tokens more secure": ``code_challenge`` with
  ``code_challenge_method=S256`` on the authorization URL, ``code_verifier`` on the exchange.
- Support article 10212201463962: access tokens expire after 30 minutes by default, refresh
  tokens after 30 days.
- "OAuth Clients" (api-reference/ticketing/oauth/oauth_clients/): a client's ``user_id`` is the
  admin who created it; a client-credentials token acts as that admin here.
- "Revoking an OAuth access token": ``DELETE /api/v2/oauth/tokens/{id}.json`` (and
  ``/current.json``) answers 204 and the token stops working at once.

The lower bound of ``expires_in`` is an option (``min_expires_in``) so tests can watch tokens
expire within seconds; it defaults to Zendesk's 300.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import secrets
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

DEFAULT_EXPIRES_IN = 30 * 60  # support article 10212201463962
DEFAULT_REFRESH_EXPIRES_IN = 30 * 24 * 3600
MAX_EXPIRES_IN = 172_800
CODE_LIFETIME = 120  # "an authorization code valid for 120 seconds"


class OAuthError(Exception):
    """An OAuth error answered as ``{"error": ..., "error_description": ...}``."""

    def __init__(self, status: int, error: str, description: str):
        super().__init__(description)
        self.status = status
        self.body = {"error": error, "error_description": description}


@dataclass
class OAuthClient:
    identifier: str
    secret: str
    user_id: int  # the admin who created the client
    redirect_uris: list[str] = field(default_factory=list)
    kind: str = "confidential"
    allowed_scopes: frozenset[str] | None = None  # None: any scope
    id: int = 0


@dataclass
class AccessToken:
    id: int
    token: str
    client: str
    user_id: int
    scopes: tuple[str, ...]
    expires_at: float
    refresh_token: str | None
    created_at: float


def pkce_challenge(verifier: str) -> str:
    """S256: BASE64URL(SHA256(verifier)) without padding (RFC 7636)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class OAuthState:
    """The account's OAuth side. Thread-safe; ``clock`` is the sandbox's clock."""

    def __init__(self, clock: Callable[[], float], *, min_expires_in: int = 300):
        self.clock = clock
        self.min_expires_in = min_expires_in
        self.lock = threading.RLock()
        self.clients: dict[str, OAuthClient] = {}
        self.codes: dict[str, dict[str, Any]] = {}
        self.access: dict[str, AccessToken] = {}
        self.refresh: dict[str, dict[str, Any]] = {}  # refresh token → {access, expires_at}
        self.grants: Counter[str] = Counter()  # successful grants by grant_type
        self.revoked = 0
        self._ids = itertools.count(40_001)

    # --- clients --------------------------------------------------------------------------
    def add_client(
        self,
        identifier: str,
        *,
        user_id: int,
        redirect_uris: list[str] | None = None,
        secret: str | None = None,
        allowed_scopes: set[str] | None = None,
    ) -> OAuthClient:
        with self.lock:
            client = OAuthClient(
                identifier=identifier,
                secret=secret or secrets.token_hex(32),
                user_id=user_id,
                redirect_uris=list(redirect_uris or []),
                allowed_scopes=frozenset(allowed_scopes) if allowed_scopes else None,
                id=next(self._ids),
            )
            self.clients[identifier] = client
            return client

    def _client(self, identifier: str, secret: str | None, *, need_secret: bool) -> OAuthClient:
        client = self.clients.get(identifier or "")
        if client is None:
            raise OAuthError(401, "invalid_client", "Client authentication failed.")
        if (need_secret or secret is not None) and (
            not secret or not hmac.compare_digest(client.secret, secret)
        ):
            raise OAuthError(401, "invalid_client", "Client authentication failed.")
        return client

    def _scopes(self, client: OAuthClient, scope: str | None) -> tuple[str, ...]:
        scopes = tuple((scope or "read").split())
        if client.allowed_scopes is not None and not set(scopes) <= client.allowed_scopes:
            raise OAuthError(400, "invalid_scope", "The requested scope is not allowed.")
        return scopes

    # --- authorization codes --------------------------------------------------------------
    def check_authorization(self, params: dict[str, str]) -> OAuthClient:
        """Validate an authorization request before the consent page is shown."""
        if params.get("response_type") != "code":
            raise OAuthError(400, "unsupported_response_type", "Only response_type=code.")
        client = self._client(params.get("client_id", ""), None, need_secret=False)
        if params.get("redirect_uri") not in client.redirect_uris:
            raise OAuthError(400, "invalid_request", "redirect_uri is not registered.")
        method = params.get("code_challenge_method")
        if params.get("code_challenge") and method != "S256":
            raise OAuthError(400, "invalid_request", "code_challenge_method must be S256.")
        self._scopes(client, params.get("scope"))
        return client

    def issue_code(self, params: dict[str, str], *, user_id: int) -> str:
        client = self.check_authorization(params)
        code = secrets.token_hex(32)
        with self.lock:
            self.codes[code] = {
                "client": client.identifier,
                "user_id": user_id,
                "redirect_uri": params["redirect_uri"],
                "scopes": self._scopes(client, params.get("scope")),
                "challenge": params.get("code_challenge") or None,
                "expires_at": self.clock() + CODE_LIFETIME,
            }
        return code

    # --- the token endpoint ---------------------------------------------------------------
    def token_request(self, data: dict[str, Any]) -> dict[str, Any]:
        grant = str(data.get("grant_type") or "")
        handler = {
            "authorization_code": self._grant_code,
            "refresh_token": self._grant_refresh,
            "client_credentials": self._grant_client_credentials,
        }.get(grant)
        if handler is None:
            raise OAuthError(
                400, "unsupported_grant_type", f"The grant type {grant!r} is not supported."
            )
        lifetimes = self._lifetimes(data)
        with self.lock:
            issued = handler(data, lifetimes)
            self.grants[grant] += 1
            return issued

    def _lifetimes(self, data: dict[str, Any]) -> tuple[int, int]:
        try:
            expires_in = int(data.get("expires_in") or DEFAULT_EXPIRES_IN)
            refresh_in = int(data.get("refresh_token_expires_in") or DEFAULT_REFRESH_EXPIRES_IN)
        except (TypeError, ValueError):
            raise OAuthError(400, "invalid_request", "expires_in must be an integer.") from None
        if not self.min_expires_in <= expires_in < MAX_EXPIRES_IN:
            raise OAuthError(
                400,
                "invalid_request",
                f"expires_in must be between {self.min_expires_in} and {MAX_EXPIRES_IN}.",
            )
        if refresh_in <= expires_in:
            raise OAuthError(
                400, "invalid_request", "refresh_token_expires_in must exceed expires_in."
            )
        return expires_in, refresh_in

    def _grant_code(self, data: dict[str, Any], lifetimes: tuple[int, int]) -> dict[str, Any]:
        client = self._client(
            str(data.get("client_id") or ""), data.get("client_secret"), need_secret=False
        )
        grant = self.codes.pop(str(data.get("code") or ""), None)  # single use
        if grant is None or grant["client"] != client.identifier:
            raise OAuthError(400, "invalid_grant", "The authorization code is invalid.")
        if grant["expires_at"] < self.clock():
            raise OAuthError(400, "invalid_grant", "The authorization code has expired.")
        if data.get("redirect_uri") and data["redirect_uri"] != grant["redirect_uri"]:
            raise OAuthError(400, "invalid_grant", "redirect_uri does not match.")
        if grant["challenge"]:
            verifier = str(data.get("code_verifier") or "")
            if not verifier or not hmac.compare_digest(
                pkce_challenge(verifier), grant["challenge"]
            ):
                raise OAuthError(400, "invalid_grant", "The code_verifier does not match.")
        elif client.kind == "confidential" and not data.get("client_secret"):
            raise OAuthError(401, "invalid_client", "Client authentication failed.")
        return self._issue(client.identifier, grant["user_id"], grant["scopes"], lifetimes)

    def _grant_client_credentials(
        self, data: dict[str, Any], lifetimes: tuple[int, int]
    ) -> dict[str, Any]:
        client = self._client(
            str(data.get("client_id") or ""), data.get("client_secret"), need_secret=True
        )
        if client.kind != "confidential":
            raise OAuthError(400, "unauthorized_client", "Only confidential clients.")
        scopes = self._scopes(client, data.get("scope"))
        return self._issue(client.identifier, client.user_id, scopes, lifetimes)

    def _grant_refresh(self, data: dict[str, Any], lifetimes: tuple[int, int]) -> dict[str, Any]:
        client = self._client(
            str(data.get("client_id") or ""), data.get("client_secret"), need_secret=False
        )
        old = self.refresh.get(str(data.get("refresh_token") or ""))
        if old is None or old["client"] != client.identifier:
            raise OAuthError(400, "invalid_grant", "The refresh token is invalid.")
        if old["expires_at"] < self.clock():
            raise OAuthError(400, "invalid_grant", "The refresh token has expired.")
        previous = self.access.get(old["access"])
        # Rotation: the previous access and refresh tokens are deleted.
        self.refresh.pop(str(data["refresh_token"]), None)
        self.access.pop(old["access"], None)
        scopes = previous.scopes if previous else old["scopes"]
        return self._issue(client.identifier, old["user_id"], scopes, lifetimes)

    def _issue(
        self, client: str, user_id: int, scopes: tuple[str, ...], lifetimes: tuple[int, int]
    ) -> dict[str, Any]:
        expires_in, refresh_in = lifetimes
        now = self.clock()
        access, refresh = secrets.token_hex(32), secrets.token_hex(32)
        self.access[access] = AccessToken(
            id=next(self._ids),
            token=access,
            client=client,
            user_id=user_id,
            scopes=scopes,
            expires_at=now + expires_in,
            refresh_token=refresh,
            created_at=now,
        )
        self.refresh[refresh] = {
            "access": access,
            "client": client,
            "user_id": user_id,
            "scopes": scopes,
            "expires_at": now + refresh_in,
        }
        return {
            "access_token": access,
            "token_type": "bearer",
            "scope": " ".join(scopes),
            "expires_in": expires_in,
            "refresh_token": refresh,
            "refresh_token_expires_in": refresh_in,
        }

    # --- using and revoking tokens ----------------------------------------------------------
    def authenticate(self, token: str) -> AccessToken | None:
        """The live access token, or None (unknown, revoked or expired)."""
        with self.lock:
            found = self.access.get(token)
            if found is None or found.expires_at <= self.clock():
                return None
            return found

    def revoke(self, token: AccessToken) -> None:
        with self.lock:
            self.access.pop(token.token, None)
            if token.refresh_token:
                self.refresh.pop(token.refresh_token, None)
            self.revoked += 1

    def by_id(self, token_id: int) -> AccessToken | None:
        with self.lock:
            return next((t for t in self.access.values() if t.id == token_id), None)

    # --- helpers for tests and the demo ---------------------------------------------------
    def expire_access_tokens(self) -> int:
        """Make every live access token expire now (as if its lifetime had passed)."""
        with self.lock:
            now = self.clock()
            for token in self.access.values():
                token.expires_at = min(token.expires_at, now)
            return len(self.access)

    def live_tokens(self) -> list[AccessToken]:
        with self.lock:
            now = self.clock()
            return [t for t in self.access.values() if t.expires_at > now]


def scope_allows(scopes: tuple[str, ...], resource: str, write: bool) -> bool:
    """Zendesk's scope rule: ``read``/``write`` cover every resource; ``<resource>:read`` and
    ``<resource>:write`` one resource ("OAuth Tokens" API reference, Scopes)."""
    level = "write" if write else "read"
    return level in scopes or f"{resource}:{level}" in scopes or resource in scopes
