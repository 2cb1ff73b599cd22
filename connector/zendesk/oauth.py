"""A tenant's Zendesk OAuth tokens: stored encrypted, refreshed before they expire and once on a
401, one refresh at a time across threads and processes.

Zendesk retires API tokens (none can be created since 27 October 2026; all are deactivated on
30 April 2027: "Migrating from API tokens to OAuth access tokens",
https://developer.zendesk.com/documentation/api-basics/authentication/oauth-migration/). OAuth
access tokens expire (30 minutes by default, refresh tokens after 30 days: support article
10212201463962), and a refresh "returns a new access token and refresh token while invalidating
the previous access and refresh tokens" ("OAuth Tokens for Grant Types",
https://developer.zendesk.com/api-reference/ticketing/oauth/grant_type_tokens/). So:

- The pair (access token, refresh token, expiry times, scope, grant) is ONE encrypted secret
  (``zendesk_oauth_tokens``): a new pair replaces the old one in a single write, never half.
- A refresh runs inside a ledger write transaction (``BEGIN IMMEDIATE``) on a connection of its
  own: threads and processes that need a refresh queue on the ledger's write lock, and each
  re-reads the stored pair once it holds the lock. Whoever finds a pair that is still good (or
  differs from the one Zendesk refused) uses it instead of refreshing again, so a pair is
  refreshed once and no process ever sends a refresh token that another already spent. The lock
  is held for the token request only (its timeout: ``DESKGUARD_ZENDESK_TIMEOUT_SECONDS``, at most
  10 s).
- Lifetimes are requested explicitly (``expires_in``, ``refresh_token_expires_in``), and only
  the scopes in ``DESKGUARD_ZENDESK_OAUTH_SCOPES``.
- Self-hosted tenants use the client-credentials grant of their own confidential OAuth client
  ("Using OAuth authentication with your application", support article 4408845965210); when a
  refresh token is refused (e.g. after a crash between Zendesk's answer and our commit), a new
  client-credentials grant replaces it. Tenants connected in the browser (authorization code
  with PKCE, ``connect.py``) must reconnect when their refresh token is refused or expired.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import sqlite_utils

from adapters.zendesk_oauth import TokenPair, ZendeskOAuthClient
from connector import audit, logs
from connector.db import Ledger, transaction
from connector.errors import ConfigError, PermanentError

if TYPE_CHECKING:
    from connector.runtime import Runtime

TOKENS = "zendesk_oauth_tokens"  # secret name: the JSON of StoredTokens
CLIENT_CREDENTIALS = "client_credentials"
AUTHORIZATION_CODE = "authorization_code"
LOG = logs.get("zendesk.oauth")


@audit.event
@dataclass(frozen=True)
class ZendeskConnected(audit.Event):
    """A tenant's Zendesk account was connected by OAuth (or moved to it from an API token)."""

    kind: ClassVar[str] = "zendesk.oauth_connected"
    grant: str
    scope: str
    connected_by: str
    api_user_id: int | None = None


@audit.event
@dataclass(frozen=True)
class ZendeskDisconnected(audit.Event):
    kind: ClassVar[str] = "zendesk.oauth_disconnected"
    disconnected_by: str
    token_revoked: bool
    webhook_deleted: bool
    trigger_deleted: bool


@dataclass(frozen=True)
class OAuthConfig:
    """The OAuth client Deskguard uses and what it asks Zendesk for."""

    client_id: str
    client_secret: str
    scope: str
    expires_in: int
    refresh_expires_in: int
    refresh_margin: float
    timeout: float


def oauth_config(config: Any) -> OAuthConfig | None:
    """From the settings; None when no OAuth client is configured."""
    client_id = config.get("zendesk_oauth_client_id") or ""
    secret = config.get("zendesk_oauth_client_secret") or ""
    if not client_id or not secret:
        return None
    expires_in = int(config.get("zendesk_oauth_expires_in_seconds") or 1800)
    return OAuthConfig(
        client_id=client_id,
        client_secret=secret,
        scope=" ".join(config.get("zendesk_oauth_scopes") or ()),
        expires_in=expires_in,
        refresh_expires_in=int(config.get("zendesk_oauth_refresh_expires_in_seconds") or 2592000),
        refresh_margin=min(
            float(config.get("zendesk_oauth_refresh_margin_seconds") or 0), expires_in / 2
        ),
        timeout=min(float(config.get("zendesk_timeout_seconds") or 10.0), 10.0),
    )


def require_oauth_config(config: Any) -> OAuthConfig:
    found = oauth_config(config)
    if found is None:
        raise ConfigError(
            "no Zendesk OAuth client is configured: set DESKGUARD_ZENDESK_OAUTH_CLIENT_ID and "
            "DESKGUARD_ZENDESK_OAUTH_CLIENT_SECRET (Admin Center > Apps and integrations > APIs > "
            "OAuth clients; see docs/zendesk.md)"
        )
    return found


@dataclass(frozen=True)
class StoredTokens:
    pair: TokenPair
    grant: str

    def to_json(self) -> str:
        return json.dumps({**self.pair.to_dict(), "grant": self.grant}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> StoredTokens:
        data = json.loads(text)
        return cls(TokenPair.from_dict(data), str(data.get("grant") or CLIENT_CREDENTIALS))


def load_tokens(runtime: Runtime, db: sqlite_utils.Database, tenant_id: str) -> StoredTokens | None:
    value = runtime.secrets.get(db, tenant_id, TOKENS)
    return StoredTokens.from_json(value.reveal()) if value is not None else None


def save_tokens(
    runtime: Runtime, db: sqlite_utils.Database, tenant_id: str, stored: StoredTokens
) -> None:
    runtime.secrets.put(db, tenant_id, TOKENS, stored.to_json())


def forget_tokens(runtime: Runtime, db: sqlite_utils.Database, tenant_id: str) -> bool:
    return runtime.secrets.delete(db, tenant_id, TOKENS)


@contextlib.contextmanager
def refresh_lock(runtime: Runtime) -> Iterator[sqlite_utils.Database]:
    """The ledger's write lock on a connection of its own (never a savepoint of a caller's
    transaction, whose rollback would lose a refresh token Zendesk has already rotated)."""
    path = runtime.ledger.path
    if path == ":memory:":
        with transaction(runtime.db) as db:
            yield db
        return
    # A handle of its own on either engine: a second SQLite connection, or a one-connection pool.
    own = Ledger(path, busy_timeout_ms=runtime.ledger.busy_timeout_ms, pool_size=1)
    try:
        with transaction(own.db) as db:
            yield db
    finally:
        own.close()


def oauth_client(config: OAuthConfig, base_url: str) -> ZendeskOAuthClient:
    return ZendeskOAuthClient(
        base_url, config.client_id, config.client_secret, timeout=config.timeout
    )


class TenantTokens:
    """The OAuth access token of one tenant, for the adapter (``adapters.zendesk.AccessTokens``).

    ``refreshes`` counts the refreshes (and first grants) this object made: tests and the status
    command read it."""

    def __init__(
        self,
        runtime: Runtime,
        tenant_id: str,
        client: ZendeskOAuthClient,
        config: OAuthConfig,
        *,
        allow_client_credentials: bool,
        clock: Callable[[], float] = time.time,
    ):
        self.runtime = runtime
        self.tenant_id = tenant_id
        self.client = client
        self.config = config
        self.allow_client_credentials = allow_client_credentials
        self.clock = clock
        self.refreshes = 0
        self._cached: StoredTokens | None = None
        self._lock = threading.Lock()  # threads of this process queue here before the ledger

    def current(self) -> str:
        cached = self._cached
        if cached is not None and self._fresh(cached):
            return cached.pair.access_token
        return self._renew(rejected=None)

    def after_rejection(self, rejected: str) -> str:
        return self._renew(rejected=rejected)

    def _fresh(self, stored: StoredTokens) -> bool:
        return stored.pair.expires_at - self.config.refresh_margin > self.clock()

    def _renew(self, *, rejected: str | None) -> str:
        with self._lock, refresh_lock(self.runtime) as db:
            stored = load_tokens(self.runtime, db, self.tenant_id)
            usable = (
                stored is not None and stored.pair.access_token != rejected and self._fresh(stored)
            )
            if not usable:
                stored = self._obtain(stored)
                save_tokens(self.runtime, db, self.tenant_id, stored)
                self.refreshes += 1
                logs.log(
                    LOG,
                    logging.INFO,
                    "zendesk.oauth_token_renewed",
                    tenant=self.tenant_id,
                    grant=stored.grant,
                    after_401=rejected is not None,
                )
        assert stored is not None
        self._cached = stored
        return stored.pair.access_token

    def _obtain(self, stored: StoredTokens | None) -> StoredTokens:
        """A new pair: the refresh grant when there is a refresh token, else (or when Zendesk
        refuses it) a client-credentials grant where this tenant may use one."""
        cfg = self.config
        if stored is not None and stored.pair.refresh_token:
            try:
                pair = self.client.refresh(
                    stored.pair.refresh_token,
                    expires_in=cfg.expires_in,
                    refresh_expires_in=cfg.refresh_expires_in,
                )
                return StoredTokens(pair, stored.grant)
            except PermanentError:
                if not self.allow_client_credentials:
                    raise PermanentError(
                        f"the Zendesk refresh token of tenant {self.tenant_id!r} was refused "
                        "(expired or revoked): an admin must reconnect at /connect/zendesk",
                        vendor="zendesk",
                        status=401,
                    ) from None
        if not self.allow_client_credentials:
            raise ConfigError(
                f"tenant {self.tenant_id!r} has no Zendesk OAuth tokens: connect it at "
                "/connect/zendesk"
            )
        pair = self.client.client_credentials(
            scope=cfg.scope, expires_in=cfg.expires_in, refresh_expires_in=cfg.refresh_expires_in
        )
        return StoredTokens(pair, CLIENT_CREDENTIALS)
