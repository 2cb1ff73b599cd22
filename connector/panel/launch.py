"""The signed side-panel launch: who the agent is, as Zendesk signs it.

The app's manifest sets ``signedUrls: true``. Zendesk then loads the panel's first page with a
POST whose form field ``token`` is a JWT signed RS256 with the app's private key (Zendesk,
"Building a server-side app - Part 5: Securing the app",
https://developer.zendesk.com/documentation/apps/build-an-app/building-a-server-side-app/part-5-secure-the-app/
, and "Authenticating Zendesk in your server-side app", which it links). Facts, with sources, in
docs/vendors/zendesk.md ("Signed URLs"). What is checked here, in order:

1. the header names RS256 (nothing else is ever accepted: ``alg=none`` and HS256 made with the
   public key as an HMAC secret are refused before any key is fetched);
2. ``iss`` names a Zendesk account that is one of our tenants (the claim is read unverified only
   to choose the tenant, then verified with everything else);
3. the signature, with the app's public key fetched from that tenant's Zendesk
   (``GET /api/v2/apps/{app_id}/public_key.pem``, Zendesk Apps API "Get App Public Key",
   https://developer.zendesk.com/api-reference/ticketing/apps/apps/#get-app-public-key), cached;
4. ``exp``, ``iat``, ``iss``, ``aud`` and ``sub`` present; ``exp`` not passed and ``iat`` not in
   the future (``LEEWAY_SECONDS`` of clock skew);
5. ``iss`` equals the tenant's Zendesk host and ``aud`` the tenant's app installation
   (``<Zendesk URL>/api/v2/apps/installations/<installation id>.json``);
6. ``sub`` names the Zendesk user (``<Zendesk URL>/api/v2/users/<id>.json``).

Any failure is 401 (the reason is logged, the token never is); the key or the installation not
being available is 503 (``LaunchUnavailable``), never a 500.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from connector import logs
from connector.errors import DeskguardError, Unauthorized
from connector.panel.sessions import PanelSession
from connector.tenants import get_setting

if TYPE_CHECKING:
    from connector.runtime import Runtime

LOG = logs.get("panel.launch")
# Part 5: "Zendesk signs the ZAF JWT with an RSA digital signature known as RS256".
ALGORITHMS = ["RS256"]
LEEWAY_SECONDS = 30
REFETCH_AFTER_SECONDS = 60  # a failing signature refetches the key at most this often per tenant
MAX_TOKEN_CHARS = 8192
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]
_USER_URL = re.compile(r"^https?://(?P<host>[^/]+)/api/v2/users/(?P<id>\d{1,19})(?:\.json)?$")


class LaunchUnavailable(DeskguardError):
    """The launch cannot be checked now (key unreachable, installation not configured)."""

    http_status = 503
    code = "launch_unavailable"


@dataclass(frozen=True)
class AppInstallation:
    """What a tenant's signed launches must match."""

    tenant_id: str
    zendesk_url: str
    app_id: str
    installation_id: str
    key_url: str
    # True when DESKGUARD_APP_PUBLIC_KEY_URL (or the tenant setting) names the key's URL: it is
    # fetched as a public file, without Zendesk credentials. Otherwise the Zendesk adapter fetches
    # it from the tenant's account with the tenant's credentials.
    key_url_configured: bool = False

    @property
    def issuer(self) -> str:
        return issuer_of(self.zendesk_url)

    @property
    def audience(self) -> str:
        return f"{self.zendesk_url}/api/v2/apps/installations/{self.installation_id}.json"


def issuer_of(zendesk_url: str) -> str:
    """The ``iss`` a Zendesk account signs with: its host (``acme.zendesk.com``)."""
    return urlsplit(zendesk_url).netloc.lower()


def _zendesk_url(tenant: dict[str, Any]) -> str:
    url = str(tenant.get("zendesk_url") or "").rstrip("/")
    if not url and tenant.get("zendesk_subdomain"):
        url = f"https://{tenant['zendesk_subdomain']}.zendesk.com"
    return url


def _tenant_value(runtime: Runtime, tenant_id: str, name: str) -> str:
    value = get_setting(runtime.db, tenant_id, name, None)
    if value in (None, ""):
        value = runtime.config.get(name) or ""
    return str(value).strip()


def installation_id(runtime: Runtime, tenant_id: str) -> str:
    """The tenant's app installation id ('' when not configured)."""
    return _tenant_value(runtime, tenant_id, "app_installation_id")


def installation(runtime: Runtime, tenant_id: str) -> AppInstallation:
    """The tenant's app installation; LaunchUnavailable (503) when it is not configured."""
    from connector.tenants import get_tenant

    url = _zendesk_url(get_tenant(runtime.db, tenant_id))
    app_id = _tenant_value(runtime, tenant_id, "app_id")
    install_id = installation_id(runtime, tenant_id)
    if not url or not install_id:
        raise LaunchUnavailable(
            "the side panel cannot verify Zendesk's signed launch: set DESKGUARD_ZENDESK_URL and "
            "DESKGUARD_APP_INSTALLATION_ID (or the tenant settings app_installation_id)"
        )
    key_url = _tenant_value(runtime, tenant_id, "app_public_key_url")
    configured = bool(key_url)
    if not key_url:
        if not (app_id.isascii() and app_id.isdecimal()):
            raise LaunchUnavailable(
                "the side panel cannot fetch the app's public key: set DESKGUARD_APP_ID "
                "(or DESKGUARD_APP_PUBLIC_KEY_URL)"
            )
        key_url = f"{url}/api/v2/apps/{app_id}/public_key.pem"
    return AppInstallation(tenant_id, url, app_id, install_id, key_url, configured)


def tenant_for_issuer(db, issuer: str) -> str | None:
    """The active tenant whose Zendesk account is ``issuer`` (a host), else None."""
    wanted = issuer.strip().lower()
    if not wanted:
        return None
    cols = ("id", "zendesk_url", "zendesk_subdomain")
    for row in db.conn.execute(
        "SELECT id, zendesk_url, zendesk_subdomain FROM tenants WHERE active = 1 ORDER BY id"
    ):
        url = _zendesk_url(dict(zip(cols, row, strict=True)))
        if url and issuer_of(url) == wanted:
            return str(row[0])
    return None


# --- the app's public key ----------------------------------------------------------------------
def _pem_from_zendesk(runtime: Runtime, app: AppInstallation) -> bytes:
    """The key from the tenant's Zendesk, through the adapter and the tenant's credentials."""
    try:
        return runtime.services(app.tenant_id).require_desk().app_public_key_pem(int(app.app_id))
    except DeskguardError as exc:
        raise LaunchUnavailable(
            f"the app's public key could not be read from Zendesk ({exc.message or exc.code}); "
            "check DESKGUARD_APP_ID and Deskguard's Zendesk connection"
        ) from None


def _pem_from_url(runtime: Runtime, url: str) -> bytes:
    """A configured public copy of the key: fetched without any credentials."""
    timeout = float(runtime.config.get("zendesk_timeout_seconds") or 15.0)
    try:
        resp = requests.get(url, timeout=timeout)
    except requests.RequestException as exc:
        raise LaunchUnavailable(
            f"the app's public key could not be fetched ({type(exc).__name__}); "
            "try again in a minute"
        ) from None
    if resp.status_code != 200:
        raise LaunchUnavailable(
            f"HTTP {resp.status_code} for the app's public key; check DESKGUARD_APP_PUBLIC_KEY_URL"
        )
    return resp.content


def fetch_public_key(runtime: Runtime, app: AppInstallation) -> RSAPublicKey:
    """The app's RSA public key. Any failure is LaunchUnavailable (503)."""
    pem = (
        _pem_from_url(runtime, app.key_url)
        if app.key_url_configured
        else _pem_from_zendesk(runtime, app)
    )
    try:
        key = load_pem_public_key(pem)
    except ValueError:
        raise LaunchUnavailable("the app's public key from Zendesk is not a PEM key") from None
    if not isinstance(key, RSAPublicKey):
        raise LaunchUnavailable("the app's public key from Zendesk is not an RSA key")
    return key


class PublicKeys:
    """Per-process cache of each tenant's app public key (keyed by tenant and key URL)."""

    def __init__(
        self,
        ttl_seconds: float,
        *,
        fetch: Callable[[Runtime, AppInstallation], RSAPublicKey] = fetch_public_key,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.ttl = float(ttl_seconds)
        self.fetch = fetch
        self.clock = clock
        self._keys: dict[tuple[str, str], tuple[float, RSAPublicKey]] = {}
        self._lock = threading.Lock()
        self.fetches = 0

    def get(self, runtime: Runtime, app: AppInstallation, *, stale: bool = False) -> RSAPublicKey:
        """The cached key; ``stale=True`` (a signature failed) refetches a key older than
        REFETCH_AFTER_SECONDS, so a rotated key is picked up and forged tokens cannot make us
        fetch more than once a minute."""
        slot = (app.tenant_id, app.key_url)
        now = self.clock()
        with self._lock:
            entry = self._keys.get(slot)
        if entry is not None:
            fetched_at, key = entry
            fresh = now - fetched_at < self.ttl
            if fresh and not (stale and now - fetched_at >= REFETCH_AFTER_SECONDS):
                return key
        key = self.fetch(runtime, app)
        with self._lock:
            self.fetches += 1
            self._keys[slot] = (self.clock(), key)
        return key

    def forget(self, tenant_id: str | None = None) -> None:
        with self._lock:
            self._keys = {k: v for k, v in self._keys.items() if tenant_id not in (None, k[0])}


# --- the check ---------------------------------------------------------------------------------
def _refuse(reason: str, tenant_id: str | None = None) -> Unauthorized:
    logs.log(LOG, logging.WARNING, "panel.launch_refused", tenant=tenant_id, reason=reason)
    return Unauthorized("the side panel was not opened from Zendesk (signed launch refused)")


def _user_id(sub: Any, issuer: str) -> str | None:
    match = _USER_URL.match(str(sub or ""))
    if match is None or match.group("host").lower() != issuer:
        return None
    return match.group("id")


def _decode(token: str, key: RSAPublicKey, app: AppInstallation) -> dict[str, Any]:
    # Part 5, "Validating the ZAF JWT": jwt.decode with the app's public key, algorithms RS256
    # and the installation as audience; the issuer is the account's host.
    return jwt.decode(
        token,
        key,
        algorithms=ALGORITHMS,
        audience=app.audience,
        issuer=app.issuer,
        leeway=LEEWAY_SECONDS,
        options={"require": REQUIRED_CLAIMS, "verify_iat": True},
    )


def _verified_claims(
    runtime: Runtime, keys: PublicKeys, app: AppInstallation, token: str
) -> dict[str, Any]:
    try:
        return _decode(token, keys.get(runtime, app), app)
    except jwt.InvalidSignatureError:
        try:  # maybe Zendesk rotated the key: fetch it again (at most once a minute) and retry
            return _decode(token, keys.get(runtime, app, stale=True), app)
        except jwt.InvalidTokenError as exc:
            raise _refuse(type(exc).__name__, app.tenant_id) from None
    except jwt.InvalidTokenError as exc:
        raise _refuse(type(exc).__name__, app.tenant_id) from None


def verify_launch(runtime: Runtime, keys: PublicKeys, token: str) -> PanelSession:
    """The agent a signed launch names, or Unauthorized (401) / LaunchUnavailable (503)."""
    token = (token or "").strip()
    if not token or len(token) > MAX_TOKEN_CHARS:
        raise _refuse("no token" if not token else "token too long")
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError as exc:
        raise _refuse(f"malformed: {type(exc).__name__}") from None
    if header.get("alg") not in ALGORITHMS:
        raise _refuse(f"algorithm {str(header.get('alg'))[:20]!r} is not RS256")
    tenant_id = tenant_for_issuer(runtime.db, str(unverified.get("iss") or ""))
    if tenant_id is None:
        raise _refuse("issuer is not a Zendesk account of this sidecar")
    app = installation(runtime, tenant_id)
    claims = _verified_claims(runtime, keys, app, token)
    agent_id = _user_id(claims.get("sub"), app.issuer)
    if agent_id is None:
        raise _refuse("sub names no Zendesk user of this account", tenant_id)
    logs.log(LOG, logging.INFO, "panel.launch", tenant=tenant_id, agent_id=agent_id)
    return PanelSession(tenant_id, app.installation_id, agent_id, "")
