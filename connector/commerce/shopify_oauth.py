"""Installing the Shopify app on a store by OAuth (authorization code grant), linking the
installed shop to a tenant, and unlinking it on uninstall.

The flow, and the Shopify doc each step follows ("Implement authorization code grant manually",
https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/authorization-code-grant):

1. Shopify sends the merchant to the app URL (``GET /shopify/install``) with ``shop``,
   ``timestamp``, ``hmac`` (and more, e.g. ``host``). ``verify_signed_query`` checks, before
   anything else is read: the ``hmac`` (hex HMAC-SHA256, keyed with the client secret, of every
   other parameter sorted by name and joined as ``k=v`` with ``&``; compared in constant time,
   against each secret of a ``new,old`` rotation), the ``timestamp`` (no older than
   ``shopify_install_max_age_seconds``, replay protection) and the shop domain (anchored
   ``<handle>.myshopify.com`` pattern, adapters/shopify.py ``clean_shop_domain``).
2. 302 to ``https://{shop}/admin/oauth/authorize?client_id&scope&redirect_uri&state`` with a
   random ``state`` nonce that is also set as an HttpOnly cookie, so the callback must come back
   to the same browser (step 2 of the doc). ``SameSite=Lax``: the callback is a top-level
   navigation from the store's admin, on which a ``Strict`` cookie would not be sent.
3. The callback (``GET /shopify/callback``) verifies the ``hmac``, ``timestamp`` and shop again,
   and that ``state`` equals the cookie (step 3), then exchanges ``code`` for an offline token
   (step 4, adapters/shopify.py ``authorization_code_token``).
4. The token is stored encrypted for the shop (``shopify_installs``). An admin links the shop to
   a tenant on /admin/connections (``link_shop``); the token then moves into the tenant's secret
   store, where connector/commerce/service.py reads it on every call. A shop already linked gets
   its new token straight away (a reinstall).
5. Uninstall: ``unlink_shop`` clears the shop from its tenant, purges the tokens and forgets the
   install, in one transaction.

Shopify's own ``shopifyapp`` package has no authorization-code grant (it offers token exchange
for embedded apps, client credentials and request verification for other surfaces), so this
module does steps 1-3 itself; ShopifyAPI's ``Session.validate_params`` keeps the client secret
on a class attribute shared by every thread, and accepts a day-old timestamp.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from connector import audit, logs
from connector.audit import now_iso
from connector.commerce.service import CLIENT_TOKEN_SECRET, TOKEN_SECRET, tenants_for_shop
from connector.db import transaction
from connector.errors import BadRequest, ConfigError, DeskguardError, NotFound
from connector.tenants import get_tenant

if TYPE_CHECKING:
    from connector.runtime import Runtime

LOG = logs.get("commerce.shopify_oauth")
SCOPES = ("read_orders", "read_customers", "write_orders")
STATE_COOKIE = "deskguard_shopify_state"
INSTALL_PATH = "/shopify/install"
CALLBACK_PATH = "/shopify/callback"


class InstallRefused(DeskguardError):
    """A signed install request or callback that does not verify (nothing was changed)."""

    http_status = 401
    code = "shopify_install_refused"


class LinkConflict(DeskguardError):
    http_status = 409
    code = "shopify_shop_linked_elsewhere"


@audit.event
@dataclass(frozen=True)
class ShopifyShopInstalled(audit.Event):
    kind: ClassVar[str] = "shopify.shop_installed"
    shop: str
    scope: str


@audit.event
@dataclass(frozen=True)
class ShopifyShopLinked(audit.Event):
    kind: ClassVar[str] = "shopify.shop_linked"
    shop: str
    actor: str


@audit.event
@dataclass(frozen=True)
class ShopifyShopUnlinked(audit.Event):
    kind: ClassVar[str] = "shopify.shop_unlinked"
    shop: str
    reason: str
    secrets_deleted: int


# --- verifying what Shopify signed -------------------------------------------------------------
def query_hmac(params: Mapping[str, str], secret: str) -> str:
    """Hex HMAC-SHA256 of the parameters other than ``hmac``, sorted, joined as ``k=v&k=v``."""
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "hmac")
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def _app_secrets(runtime: Runtime) -> list[str]:
    raw = str.__str__(runtime.config.shopify_api_secret or "")
    found = [s.strip() for s in raw.split(",") if s.strip()]
    if not found or not runtime.config.shopify_client_id:
        raise ConfigError(
            "the Shopify app is not configured: set DESKGUARD_SHOPIFY_CLIENT_ID and "
            "DESKGUARD_SHOPIFY_API_SECRET (the Dev Dashboard app's client id and secret)"
        )
    return found


def verify_signed_query(runtime: Runtime, params: Mapping[str, str]) -> str:
    """The shop of a signed install request or callback; raises InstallRefused."""
    from adapters.shopify import InvalidShopDomain, clean_shop_domain

    given = str(params.get("hmac") or "")
    if not given:
        raise InstallRefused("the request is not signed by Shopify (no hmac)")
    ok = False
    for secret in _app_secrets(runtime):  # every secret compared: no early exit
        ok |= hmac.compare_digest(query_hmac(params, secret).encode(), given.encode())
    if not ok:
        raise InstallRefused("the request's hmac does not match the app's client secret")
    try:
        stamp = int(str(params.get("timestamp") or ""))
    except ValueError:
        raise InstallRefused("the request has no valid timestamp") from None
    max_age = runtime.config.shopify_install_max_age_seconds
    if abs(time.time() - stamp) > max_age:
        raise InstallRefused(f"the request is older than {max_age}s (or from the future)")
    try:
        return clean_shop_domain(str(params.get("shop") or ""))
    except InvalidShopDomain:
        raise InstallRefused("the shop is not a <store>.myshopify.com domain") from None


# --- step 1-2: install request -> authorize -----------------------------------------------------
def new_state() -> str:
    return secrets.token_urlsafe(24)


def authorize_url(runtime: Runtime, shop: str, state: str, redirect_uri: str) -> str:
    base = runtime.config.shopify_admin_url.rstrip("/").replace("{shop}", shop)
    query = urllib.parse.urlencode(
        {
            "client_id": runtime.config.shopify_client_id,
            "scope": ",".join(SCOPES),
            "redirect_uri": redirect_uri,
            "state": state,
        }
    )
    return f"{base}/admin/oauth/authorize?{query}"


def begin_install(
    runtime: Runtime, params: Mapping[str, str], redirect_uri: str
) -> tuple[str, str]:
    """``(authorize URL, state)`` for a verified install request."""
    shop = verify_signed_query(runtime, params)
    state = new_state()
    logs.log(LOG, logging.INFO, "shopify.install_started", shop=shop)
    return authorize_url(runtime, shop, state, redirect_uri), state


# --- step 3-4: callback -> token ----------------------------------------------------------------
def complete_install(runtime: Runtime, params: Mapping[str, str], state_cookie: str | None) -> str:
    """Verify the callback, exchange its code and store the token; returns the shop."""
    from adapters.shopify import authorization_code_token

    shop = verify_signed_query(runtime, params)
    state = str(params.get("state") or "")
    if not state or not state_cookie or not hmac.compare_digest(state, state_cookie):
        raise InstallRefused(
            "the install was not started from this browser (state does not match); start it "
            "again from the Shopify admin"
        )
    code = str(params.get("code") or "")
    if not code:
        raise BadRequest("the callback carries no authorization code")
    cfg = runtime.config
    token = authorization_code_token(
        shop,
        cfg.shopify_client_id,
        _app_secrets(runtime)[0],
        code,
        admin_url=cfg.shopify_admin_url,
        timeout=cfg.shopify_timeout_seconds,
    )
    store_install(runtime, shop, token.token, token.scope)
    return shop


def store_install(runtime: Runtime, shop: str, token: str, scope: str) -> None:
    """Keep the shop's offline token: in its tenant's secrets when linked, else here."""
    db, store = runtime.db, runtime.secrets
    with transaction(db):
        linked = _linked_tenant(runtime, shop)
        now = now_iso()
        db.conn.execute(
            "INSERT INTO shopify_installs (shop, tenant_id, token_ciphertext, scope, installed_at)"
            " VALUES (?,?,?,?,?) ON CONFLICT (shop) DO UPDATE SET"
            " token_ciphertext = excluded.token_ciphertext, scope = excluded.scope,"
            " installed_at = excluded.installed_at",
            (shop, linked, None if linked else store.box.encrypt(token), scope, now),
        )
        if linked:
            store.put(db, linked, TOKEN_SECRET, token)
            store.delete(db, linked, CLIENT_TOKEN_SECRET)
            audit.record(db, linked, ShopifyShopInstalled(shop=shop, scope=scope))
    if linked:
        runtime.forget_services(linked)
    logs.log(LOG, logging.INFO, "shopify.installed", shop=shop, linked=bool(linked))


def _linked_tenant(runtime: Runtime, shop: str) -> str | None:
    row = runtime.db.conn.execute(
        "SELECT tenant_id FROM shopify_installs WHERE shop = ?", (shop,)
    ).fetchone()
    if row and row[0]:
        return str(row[0])
    return None


# --- linking ------------------------------------------------------------------------------------
def installs(runtime: Runtime) -> list[dict[str, Any]]:
    """Every installed shop: ``{shop, tenant_id, scope, installed_at, linked_at, linked_by}``."""
    rows = runtime.db.conn.execute(
        "SELECT shop, tenant_id, scope, installed_at, linked_at, linked_by"
        " FROM shopify_installs ORDER BY shop"
    ).fetchall()
    keys = ("shop", "tenant_id", "scope", "installed_at", "linked_at", "linked_by")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def link_shop(runtime: Runtime, shop: str, tenant_id: str, *, actor: str) -> None:
    """Give ``tenant_id`` the installed ``shop`` and its token. Refuses a shop another tenant
    holds (unlink it there first)."""
    db, store = runtime.db, runtime.secrets
    get_tenant(db, tenant_id)  # NotFound for an unknown tenant
    with transaction(db):
        row = db.conn.execute(
            "SELECT tenant_id, token_ciphertext FROM shopify_installs WHERE shop = ?", (shop,)
        ).fetchone()
        if row is None:
            raise NotFound(f"{shop} has not installed the app (install it from Shopify first)")
        holders = set(tenants_for_shop(db, shop)) | ({row[0]} if row[0] else set())
        holders.discard(tenant_id)
        if holders:
            raise LinkConflict(
                f"{shop} is linked to tenant {sorted(holders)[0]!r}; unlink it there first"
            )
        if row[1] is None:
            return  # already linked to this tenant
        token = store.box.decrypt(row[1])
        db.conn.execute(
            "UPDATE tenants SET shopify_shop = ?, updated_at = ? WHERE id = ?",
            (shop, now_iso(), tenant_id),
        )
        store.put(db, tenant_id, TOKEN_SECRET, token.reveal())
        store.delete(db, tenant_id, CLIENT_TOKEN_SECRET)
        db.conn.execute(
            "UPDATE shopify_installs SET tenant_id = ?, token_ciphertext = NULL, linked_at = ?,"
            " linked_by = ? WHERE shop = ?",
            (tenant_id, now_iso(), actor[:200], shop),
        )
        audit.record(db, tenant_id, ShopifyShopLinked(shop=shop, actor=actor[:200]))
    runtime.forget_services(tenant_id)
    logs.log(LOG, logging.INFO, "shopify.linked", shop=shop, tenant=tenant_id)


def unlink_shop(runtime: Runtime, shop: str, *, reason: str = "app/uninstalled") -> list[str]:
    """Forget ``shop`` everywhere (uninstall): the install row, the shop on every tenant that
    held it and their Shopify tokens, in one transaction. Returns the tenants unlinked.
    Idempotent: a second call finds nothing."""
    db = runtime.db
    shop = shop.strip().lower()
    with transaction(db):
        row = db.conn.execute(
            "SELECT tenant_id FROM shopify_installs WHERE shop = ?", (shop,)
        ).fetchone()
        tenants = set(tenants_for_shop(db, shop)) | ({row[0]} if row and row[0] else set())
        for tenant_id in sorted(tenants):
            cur = db.conn.execute(
                "DELETE FROM secrets WHERE tenant_id = ? AND name LIKE 'shopify%'", (tenant_id,)
            )
            db.conn.execute(
                "UPDATE tenants SET shopify_shop = '', updated_at = ? WHERE id = ?"
                " AND shopify_shop = ?",
                (now_iso(), tenant_id, shop),
            )
            audit.record(
                db,
                tenant_id,
                ShopifyShopUnlinked(shop=shop, reason=reason, secrets_deleted=cur.rowcount),
            )
        db.conn.execute("DELETE FROM shopify_installs WHERE shop = ?", (shop,))
    for tenant_id in tenants:
        runtime.forget_services(tenant_id)
    logs.log(LOG, logging.INFO, "shopify.unlinked", shop=shop, tenants=len(tenants))
    return sorted(tenants)
