"""The OAuth side of the Shopify sandbox's app: client credentials grant with expiring tokens,
install codes for the authorization-code grant, and the signed query strings Shopify sends.

What it reproduces (docs/vendors/shopify.md, "Getting tokens"):

- ``POST /admin/oauth/access_token`` with ``grant_type=client_credentials`` answers
  ``{access_token, scope, expires_in}``; tokens expire after ``token_ttl_seconds`` (24 h unless a
  test sets less) and then answer 401 on the Admin API.
- the install request to the app URL and the callback carry ``hmac``: hex HMAC-SHA256, keyed with
  the client secret, of the other query parameters sorted and joined as ``k=v&k=v``.
- an authorization code is used once; exchanging it answers ``{access_token, scope}`` (an
  offline token that does not expire).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

DEFAULT_SCOPES = "read_orders,read_customers,write_orders"


def sign_query(params: Mapping[str, str], secret: str) -> str:
    """The ``hmac`` Shopify puts on an install request or callback: hex HMAC-SHA256 of the other
    parameters, sorted by name, joined as ``k=v`` pairs with ``&``."""
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "hmac")
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def signed_query(params: Mapping[str, str], secret: str) -> str:
    """``params`` plus their ``hmac``, as a URL query string."""
    return urllib.parse.urlencode({**params, "hmac": sign_query(params, secret)})


def admin_host(shop_domain: str) -> str:
    """The ``host`` parameter: base64 of the shop's admin URL without the scheme."""
    handle = shop_domain.removesuffix(".myshopify.com")
    return base64.b64encode(f"admin.shopify.com/store/{handle}".encode()).decode().rstrip("=")


@dataclass
class Grant:
    kind: str  # client_credentials | authorization_code
    token: str = field(repr=False)
    scope: str
    expires_at: float | None


@dataclass
class OAuthApp:
    """The app as this shop knows it. Every public method is thread-safe."""

    client_id: str
    client_secret: str
    shop_domain: str
    token_ttl_seconds: float = 86400.0
    clock: Callable[[], float] = time.time
    scopes: str = DEFAULT_SCOPES
    installed: bool = True  # client credentials need the app installed on the store
    tokens: dict[str, Grant] = field(default_factory=dict)
    grants: list[Grant] = field(default_factory=list)
    codes: dict[str, str] = field(default_factory=dict)  # code -> scope
    lock: threading.RLock = field(default_factory=threading.RLock)

    # -- the install request and the callback -------------------------------------------------
    def install_request_url(self, app_url: str, *, timestamp: int | None = None) -> str:
        """The signed GET Shopify sends to the app URL when a merchant installs the app."""
        params = {
            "host": admin_host(self.shop_domain),
            "shop": self.shop_domain,
            "timestamp": str(int(self.clock()) if timestamp is None else timestamp),
        }
        return f"{app_url}?{signed_query(params, self.client_secret)}"

    def callback_query(self, state: str, scope: str) -> str:
        """The signed query of the redirect back to the app after the merchant clicked Install."""
        code = secrets.token_hex(16)
        with self.lock:
            self.codes[code] = scope
        params = {
            "code": code,
            "host": admin_host(self.shop_domain),
            "shop": self.shop_domain,
            "state": state,
            "timestamp": str(int(self.clock())),
        }
        return signed_query(params, self.client_secret)

    # -- token endpoint ---------------------------------------------------------------------
    def credentials_match(self, client_id: str, client_secret: str) -> bool:
        return hmac.compare_digest(client_id.encode(), self.client_id.encode()) and (
            hmac.compare_digest(client_secret.encode(), self.client_secret.encode())
        )

    def client_credentials(self) -> Grant | None:
        """A fresh expiring token; None when the app is not installed on the store."""
        with self.lock:
            if not self.installed:
                return None
            return self._issue("client_credentials", self.token_ttl_seconds)

    def exchange_code(self, code: str) -> Grant | None:
        """The offline token for a one-time ``code``; None when unknown or already used."""
        with self.lock:
            scope = self.codes.pop(code, None)
            if scope is None:
                return None
            return self._issue("authorization_code", None, scope=scope)

    def _issue(self, kind: str, ttl: float | None, *, scope: str | None = None) -> Grant:
        prefix = "shpat_" if kind == "client_credentials" else "shpua_"
        grant = Grant(
            kind,
            prefix + secrets.token_hex(16),
            scope or self.scopes,
            None if ttl is None else self.clock() + ttl,
        )
        self.tokens[grant.token] = grant
        self.grants.append(grant)
        return grant

    # -- checks and knobs -----------------------------------------------------------------------
    def token_valid(self, token: str) -> bool:
        with self.lock:
            grant = self.tokens.get(token)
            if grant is None:
                return False
            return grant.expires_at is None or self.clock() < grant.expires_at

    def expire_tokens(self) -> None:
        """Every expiring token issued so far expires now (the next Admin API call gets 401)."""
        with self.lock:
            now = self.clock()
            for grant in self.tokens.values():
                if grant.expires_at is not None:
                    grant.expires_at = now

    def revoke(self, token: str) -> None:
        with self.lock:
            self.tokens.pop(token, None)

    def grants_of(self, kind: str) -> list[Grant]:
        with self.lock:
            return [g for g in self.grants if g.kind == kind]
