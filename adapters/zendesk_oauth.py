"""Zendesk's OAuth token endpoint through Authlib: the authorization URL (PKCE S256), the code
exchange, the client-credentials grant, the refresh grant and revocation. Returns our
``TokenPair``; Authlib and HTTP errors become our TransientError / PermanentError.

Zendesk's docs this follows (facts in docs/vendors/zendesk.md):

- "OAuth Tokens for Grant Types", https://developer.zendesk.com/api-reference/ticketing/oauth/
  grant_type_tokens/ : ``POST https://{subdomain}.zendesk.com/oauth/tokens``, parameters
  "formatted as JSON" (so the body is sent as JSON, not the RFC 6749 form), ``client_id`` and
  ``client_secret`` in the body, ``scope`` a space-separated string; ``expires_in`` and
  ``refresh_token_expires_in`` request the lifetimes; a refresh returns a new access and refresh
  token and invalidates the previous pair.
- "Using PKCE to make Zendesk OAuth access tokens more secure",
  https://developer.zendesk.com/documentation/ticketing/working-with-oauth/oauth-pkce/ :
  ``code_challenge`` + ``code_challenge_method=S256`` on
  ``/oauth/authorizations/new``, ``code_verifier`` on the exchange.
- "Using OAuth authentication with your application" (support article 4408845965210): the
  client-credentials grant is for confidential clients only.
- "Revoking an OAuth access token", https://developer.zendesk.com/documentation/api-basics/
  authentication/revoking-oauth-token : ``DELETE /api/v2/oauth/tokens/{id}.json`` answers 204.
  Community reports say ``DELETE .../tokens/current.json`` can answer 204 without revoking, so
  the token's id is read first (``GET /api/v2/oauth/tokens/current.json``) and revoked by id.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session

from connector.errors import PermanentError, TransientError

VENDOR = "zendesk"
_INT_FIELDS = ("expires_in", "refresh_token_expires_in")


@dataclass(frozen=True)
class TokenPair:
    """One access token with its refresh token and absolute expiry times (unix seconds)."""

    access_token: str
    refresh_token: str | None
    expires_at: float
    refresh_expires_at: float | None
    scope: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at,
            "refresh_expires_at": self.refresh_expires_at,
            "scope": self.scope,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TokenPair:
        return cls(
            access_token=str(data["access_token"]),
            refresh_token=data.get("refresh_token"),
            expires_at=float(data["expires_at"]),
            refresh_expires_at=data.get("refresh_expires_at"),
            scope=str(data.get("scope") or ""),
        )


class _JsonTokenPoster(requests.Session):
    """The HTTP session Authlib sends token requests through. Authlib builds the RFC 6749 form
    body (client authentication included); this sends the same parameters as the JSON body
    Zendesk's reference documents, with the lifetimes as integers."""

    def send(self, request, **kwargs):  # type: ignore[override]
        content_type = request.headers.get("Content-Type", "")
        if request.method == "POST" and content_type.startswith(
            "application/x-www-form-urlencoded"
        ):
            body = request.body.decode() if isinstance(request.body, bytes) else request.body or ""
            fields = dict(parse_qsl(body, keep_blank_values=True))
            for name in _INT_FIELDS:
                if name in fields:
                    fields[name] = int(fields[name])
            request.body = json.dumps(fields).encode()
            request.headers["Content-Type"] = "application/json"
            request.headers["Content-Length"] = str(len(request.body))
        return super().send(request, **kwargs)


def new_code_verifier() -> str:
    """A PKCE code verifier: 48 random URL-safe characters (RFC 7636 allows 43 to 128)."""
    return generate_token(48)


class ZendeskOAuthClient:
    """The token endpoint of one Zendesk account for one OAuth client."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        timeout: float = 10.0,
        clock=time.time,
    ):
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self._secret = client_secret
        self.timeout = timeout
        self.clock = clock

    def __repr__(self) -> str:  # never shows the secret
        return f"ZendeskOAuthClient({self.base_url!r}, client_id={self.client_id!r})"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/oauth/tokens"

    def _session(self, **kwargs: Any) -> OAuth2Session:
        session = OAuth2Session(
            self.client_id,
            self._secret,
            token_endpoint_auth_method="client_secret_post",
            code_challenge_method="S256",
            **kwargs,
        )
        session.session = _JsonTokenPoster()
        return session

    def authorization_url(
        self, *, redirect_uri: str, scope: str, state: str, code_verifier: str
    ) -> str:
        """``/oauth/authorizations/new`` with response_type=code, state and the S256
        challenge of ``code_verifier``."""
        with self._session(redirect_uri=redirect_uri, scope=scope) as session:
            url, _ = session.create_authorization_url(
                f"{self.base_url}/oauth/authorizations/new",
                state=state,
                code_verifier=code_verifier,
            )
        return str(url)

    def exchange_code(
        self,
        *,
        code: str,
        redirect_uri: str,
        code_verifier: str,
        scope: str,
        expires_in: int,
        refresh_expires_in: int,
    ) -> TokenPair:
        return self._grant(
            "authorization_code",
            code=code,
            redirect_uri=redirect_uri,
            code_verifier=code_verifier,
            scope=scope,
            expires_in=expires_in,
            refresh_token_expires_in=refresh_expires_in,
        )

    def client_credentials(
        self, *, scope: str, expires_in: int, refresh_expires_in: int
    ) -> TokenPair:
        return self._grant(
            "client_credentials",
            scope=scope,
            expires_in=expires_in,
            refresh_token_expires_in=refresh_expires_in,
        )

    def refresh(self, refresh_token: str, *, expires_in: int, refresh_expires_in: int) -> TokenPair:
        """A new pair for ``refresh_token``; Zendesk deletes the old pair on success."""
        with self._session() as session:
            token = self._call(
                "refresh_token",
                lambda: session.refresh_token(
                    self.token_url,
                    refresh_token=refresh_token,
                    expires_in=expires_in,
                    refresh_token_expires_in=refresh_expires_in,
                    timeout=self.timeout,
                ),
            )
        return self._pair(token)

    def _grant(self, grant_type: str, **params: Any) -> TokenPair:
        with self._session() as session:
            token = self._call(
                grant_type,
                lambda: session.fetch_token(
                    self.token_url, grant_type=grant_type, timeout=self.timeout, **params
                ),
            )
        return self._pair(token)

    def revoke(self, access_token: str) -> bool:
        """Revoke ``access_token`` (and its refresh token). False when it was already unusable
        (401/404: expired, revoked or unknown)."""
        headers = {"Authorization": f"Bearer {access_token}"}
        api = f"{self.base_url}/api/v2/oauth/tokens"
        with requests.Session() as http:
            shown = self._http(
                lambda: http.get(f"{api}/current.json", headers=headers, timeout=self.timeout)
            )
            if shown.status_code in (401, 404):
                return False
            self._raise_for(shown, "oauth_tokens.show")
            token_id = int(shown.json()["token"]["id"])
            deleted = self._http(
                lambda: http.delete(f"{api}/{token_id}.json", headers=headers, timeout=self.timeout)
            )
            if deleted.status_code in (401, 404):
                return False
            self._raise_for(deleted, "oauth_tokens.revoke")
        return True

    # --- plumbing --------------------------------------------------------------------------
    def _pair(self, token: dict[str, Any]) -> TokenPair:
        now = self.clock()
        refresh_in = token.get("refresh_token_expires_in")
        return TokenPair(
            access_token=str(token["access_token"]),
            refresh_token=token.get("refresh_token"),
            expires_at=now + float(token.get("expires_in") or 0),
            refresh_expires_at=now + float(refresh_in) if refresh_in else None,
            scope=str(token.get("scope") or ""),
        )

    def _call(self, operation: str, fn):
        try:
            return self._http(fn)
        except OAuthError as exc:
            # invalid_grant, invalid_client, invalid_scope...: retrying the same request cannot
            # succeed; the message names Zendesk's error code (never a token).
            raise PermanentError(
                f"zendesk oauth {operation}: {exc.error}: {exc.description or ''}".strip(),
                vendor=VENDOR,
                status=400,
            ) from None

    @staticmethod
    def _http(fn):
        try:
            return fn()
        except requests.HTTPError as exc:  # Authlib raises it on 5xx and non-JSON answers
            status = exc.response.status_code if exc.response is not None else None
            cls = (
                TransientError
                if status is None or status == 429 or status >= 500
                else (PermanentError)
            )
            raise cls(f"zendesk oauth: HTTP {status}", vendor=VENDOR, status=status) from None
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise TransientError(f"zendesk oauth: {type(exc).__name__}", vendor=VENDOR) from None

    @staticmethod
    def _raise_for(response: requests.Response, operation: str) -> None:
        status = response.status_code
        if status < 400:
            return
        cls = TransientError if status == 429 or status >= 500 else PermanentError
        raise cls(f"zendesk {operation}: HTTP {status}", vendor=VENDOR, status=status)
