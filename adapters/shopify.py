"""Shopify Admin GraphQL adapter on ShopifyAPI: orders for a ticket, and approved cancellations.

Implements ``OrderSource`` and ``OrderActions`` (connector/domain.py) and returns our dataclasses.

Choices, and why:

- **Admin GraphQL only** (REST is legacy since 2024-10), API version 2026-10 by default
  (``DESKGUARD_SHOPIFY_API_VERSION``). Documents live as files in connector/commerce/graphql/ and
  are validated against the 2026-10 schema in a test, which also fails on any deprecated field,
  argument or enum value they use.
- **Versions are watched, not assumed.** Shopify supports a stable version for at least 12
  months, then serves its requests with the oldest supported version instead ("falls forward"),
  and names the version that answered in ``X-Shopify-API-Version``; a request that uses
  deprecated schema parts is answered with ``X-Shopify-API-Deprecated-Reason`` listing them
  ("About Shopify API versioning", https://shopify.dev/docs/api/usage/versioning; "The
  X-Shopify-API-Deprecated-Reason HTTP header will return actual GraphQL deprecations if any",
  https://shopify.dev/changelog/graphql-return-actual-deprecation-reasons). The adapter logs the
  answered version with every query, warns (once per value) when it is not the one requested,
  and warns (once per reason) with the deprecation header's text. ``answered_version`` and
  ``deprecations`` keep the latest for diagnostics.
- **Enum values stay strings.** Order and fulfillment statuses are copied as Shopify sends them:
  a value added in a later version (``FULFILLMENT_NOT_REQUIRED`` in 2026-10) is shown as it is,
  never an error.
- **Shop domains are validated with an anchored pattern first**: ``shopify.Session`` silently
  rewrites a malicious domain (``evil.com/x.myshopify.com`` becomes ``evil.myshopify.com``), so a
  domain that is not exactly ``<handle>.myshopify.com`` never reaches it.
- **Every call has a timeout.** ``shopify.GraphQL.execute`` calls ``urlopen`` with none (and
  prints error bodies to stdout). ``_TimedGraphQL`` subclasses it and overrides only ``execute``:
  the endpoint and headers still come from the SDK's activated session, the POST goes through an
  opener with ``timeout=`` and without redirect-following, so the access token is never replayed
  to another host. A socket timeout scoped to the call would have been process-wide state shared
  with every other thread; the subclass keeps the timeout on this one request.
- **Session state per call, thread-safe.** ShopifyAPI keeps the session on class attributes with
  thread-local copies, and ``GraphQL()`` snapshots them when built. Each call activates a session,
  points ``ShopifyResource.site`` at the configured Admin URL (the sandbox emulator in tests, see
  docs/vendors/shopify.md), snapshots it into the client and clears the session again, under a
  lock; the HTTP request itself runs outside the lock.
- **Throttling** follows ``extensions.cost.throttleStatus``: before a query, wait until the bucket
  should hold what the same document cost last time; on a ``THROTTLED`` answer wait for the missing
  points and retry, bounded by ``throttle_max_wait`` in total, then raise ``TransientError`` with
  ``retry_after`` so the job is retried later.
- **Credentials** are read per call (shop from the tenant row, token from the encrypted secret
  store), so a token purged by ``app/uninstalled`` in the web process is gone for the worker too.
  When Shopify answers 401 and the caller gave ``on_rejected_token``, the adapter reports the
  token once (the caller renews it) and retries the request once with the new one.
- **Access tokens** (``client_credentials_token``, ``authorization_code_token``): a Dev Dashboard
  app's token for its own store comes from the client credentials grant, through Shopify's own
  ``shopifyapp`` package (``exchange_using_client_credentials``); its httpx client is the seam that
  points it at ``DESKGUARD_SHOPIFY_ADMIN_URL`` (the package itself always calls
  ``https://<shop>.myshopify.com``). ``shopifyapp`` has no authorization-code exchange (it offers
  token exchange for embedded apps instead), so the marketplace install's code exchange is a
  plain POST here. Sources: "Using the client credentials grant"
  (https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/client-credentials-grant),
  "Implement authorization code grant manually"
  (https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/authorization-code-grant),
  shopifyapp on PyPI (https://pypi.org/project/shopifyapp/).
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypedDict

import httpx
import shopify
import shopify_app

from connector import logs
from connector.commerce.graphql import document
from connector.domain import CustomerSummary, Fulfillment, LineItem, Money, Order
from connector.errors import PermanentError, TransientError

LOG = logs.get("adapters.shopify")
VENDOR = "shopify"

_HANDLE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_SHOP_DOMAIN = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.myshopify\.com")
_ORDER_GID = re.compile(r"gid://shopify/Order/\d{1,20}")
_EMAIL = re.compile(r"[^@\s\"'\\():,<>\[\];]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}")
_ORDER_TOKEN = re.compile(r"#?([A-Za-z]{0,8}-?\d{1,12})")
_ORDER_PREFIX = re.compile(
    r"^(?:(?:order|ord)\b\.?\s*)?(?:(?:number|num|no|nr)\b\.?\s*)?[:\s]*", re.I
)
API_VERSION = "2026-10"  # the version the GraphQL documents are validated against
CANCEL_REASONS = ("CUSTOMER", "DECLINED", "FRAUD", "INVENTORY", "STAFF", "OTHER")
MIN_THROTTLE_WAIT = 0.5  # seconds, when Shopify says THROTTLED but the bucket looks full
MAX_ATTEMPTS = 8
_SESSION_LOCK = threading.Lock()


class InvalidShopDomain(ValueError):
    pass


def clean_shop_domain(text: str) -> str:
    """``acme-store.myshopify.com`` (or the bare handle ``acme-store``), lowercased; else raises.

    Anchored on both ends (``fullmatch``): no scheme, path, port, user-info, whitespace or extra
    labels. ``$`` alone would let ``"acme.myshopify.com\\n"`` through.
    """
    value = str(text or "").strip().lower()
    if _HANDLE.fullmatch(value):
        value += ".myshopify.com"
    if not _SHOP_DOMAIN.fullmatch(value):
        raise InvalidShopDomain(f"not a myshopify.com shop domain: {text!r}")
    return value


def normalize_order_name(text: str) -> str | None:
    """An order name as customers write it (``#1001``, ``1001``, ``order 1001``, ``Order no. 1001``)
    → Shopify's ``#1001``. None when ``text`` holds no order reference."""
    value = _ORDER_PREFIX.sub("", str(text or "").strip()).strip()
    m = _ORDER_TOKEN.fullmatch(value)
    if not m:
        return None
    return "#" + m.group(1).upper()


def normalize_email(text: str) -> str | None:
    value = str(text or "").strip().lower()
    return value if _EMAIL.fullmatch(value) else None


def order_gid(order_id: str | int) -> str:
    value = str(order_id).strip()
    if value.isdigit():
        value = f"gid://shopify/Order/{value}"
    if not _ORDER_GID.fullmatch(value):
        raise PermanentError(f"not a Shopify order id: {order_id!r}", vendor=VENDOR)
    return value


# --- transport --------------------------------------------------------------------------
class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # a 3xx surfaces as HTTPError; the token is not sent on to another host


_OPENER = urllib.request.build_opener(_NoRedirect)


class _TimedGraphQL(shopify.GraphQL):
    """``shopify.GraphQL`` with a per-request timeout and no stdout printing."""

    def __init__(self, timeout: float):
        super().__init__()
        self.headers: dict[str, str] = dict(
            self.headers
        )  # the SDK hands out its thread-local dict itself
        self.timeout = timeout

    def execute(self, query, variables=None, operation_name=None):
        return self.post(query, variables, operation_name)[0]

    def post(
        self, query: str, variables: Any = None, operation_name: str | None = None
    ) -> tuple[str, Any]:
        """The answer's body text and its response headers."""
        headers = self.merge_headers(
            {"Accept": "application/json", "Content-Type": "application/json"}, self.headers
        )
        data = json.dumps({"query": query, "variables": variables, "operationName": operation_name})
        req = urllib.request.Request(self.endpoint, data.encode("utf-8"), headers, method="POST")
        with _OPENER.open(req, timeout=self.timeout) as response:
            return response.read().decode("utf-8"), response.headers


def _retry_after(headers) -> float | None:
    try:
        return float(headers.get("Retry-After")) if headers and headers.get("Retry-After") else None
    except (TypeError, ValueError):
        return None


def _http_error(exc: urllib.error.HTTPError) -> Exception:
    status = exc.code
    retry_after = _retry_after(exc.headers)
    if status == 429 or status >= 500:
        return TransientError(
            f"Shopify answered HTTP {status}", vendor=VENDOR, status=status, retry_after=retry_after
        )
    reasons = {
        401: (
            "the access token was rejected"
            " (reinstall the app or replace DESKGUARD_SHOPIFY_ACCESS_TOKEN)"
        ),
        402: "the shop is frozen (unpaid Shopify plan)",
        403: "the access token lacks a required scope (read_orders, read_customers, write_orders)",
        404: "no such shop or API version",
        423: "the shop is locked",
    }
    text = reasons.get(status, "the request was refused")
    if 300 <= status < 400:
        text = (
            "Shopify redirected the request; check DESKGUARD_SHOPIFY_ADMIN_URL and the shop domain"
        )
    return PermanentError(f"Shopify answered HTTP {status}: {text}", vendor=VENDOR, status=status)


# --- access tokens ------------------------------------------------------------------------
@dataclass(frozen=True)
class AccessToken:
    """An Admin API access token. ``expires_at``: unix seconds, None when it does not expire."""

    token: str = field(repr=False)
    scope: str
    expires_at: float | None


class _AdminUrlTransport(httpx.BaseTransport):
    """Sends ``https://<shop>.myshopify.com/...`` to the configured Admin URL instead (the sandbox
    emulator in tests); with the default ``https://{shop}`` nothing changes."""

    def __init__(self, admin_url: str, shop: str):
        self._base = httpx.URL(admin_url.rstrip("/").replace("{shop}", shop))
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(
            scheme=self._base.scheme, host=self._base.host, port=self._base.port
        )
        request.headers["Host"] = self._base.netloc.decode("ascii")
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def client_credentials_token(
    shop: str,
    client_id: str,
    client_secret: str,
    *,
    admin_url: str = "https://{shop}",
    timeout: float = 10.0,
    clock: Callable[[], float] = time.time,
) -> AccessToken:
    """A token for the app's own store by the client credentials grant (shopifyapp).

    ``expires_at`` is on ``clock``: shopifyapp turns ``expires_in`` into a UTC time by the wall
    clock, which is moved onto the caller's clock here.

    Shopify: ``POST https://{shop}/admin/oauth/access_token`` with ``grant_type=client_credentials``
    answers ``access_token``, ``scope`` and ``expires_in`` (seconds; reported as 24 h). Only for
    apps of the store's own organization ("Using the client credentials grant",
    https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/client-credentials-grant).
    """
    shop = _clean_or_permanent(shop)
    handle = shop.removesuffix(".myshopify.com")
    config: Any = {"client_id": client_id, "client_secret": str.__str__(client_secret)}
    transport = _AdminUrlTransport(admin_url, shop)
    with httpx.Client(transport=transport, timeout=timeout, follow_redirects=False) as client:
        result = shopify_app.exchange_using_client_credentials(handle, config, http_client=client)
    if result.ok and result.access_token is not None and result.access_token.token:
        granted = result.access_token
        expires = _iso_to_unix(granted.expires)
        expires_at = None if expires is None else clock() + (expires - time.time())
        return AccessToken(granted.token, granted.scope or "", expires_at)
    status = result.http_logs[-1].res.status if result.http_logs else None
    code = result.log.code
    if code == "invalid_client":
        raise PermanentError(
            "Shopify refused the client credentials (check DESKGUARD_SHOPIFY_CLIENT_ID and "
            "DESKGUARD_SHOPIFY_API_SECRET, and that the app is installed on the store)",
            vendor=VENDOR,
            status=status,
            code="shopify_invalid_client",
        )
    if code == "network_error" or not status or status == 429 or status >= 500:
        raise TransientError(
            f"Shopify token request failed ({code}, HTTP {status})", vendor=VENDOR, status=status
        )
    raise PermanentError(
        f"Shopify refused the token request ({code}, HTTP {status})",
        vendor=VENDOR,
        status=status,
        code="shopify_token_refused",
    )


def authorization_code_token(
    shop: str,
    client_id: str,
    client_secret: str,
    code: str,
    *,
    admin_url: str = "https://{shop}",
    timeout: float = 10.0,
) -> AccessToken:
    """Exchange an install's authorization code for an offline token.

    ``POST https://{shop}/admin/oauth/access_token`` with ``client_id``, ``client_secret`` and
    ``code`` answers ``access_token`` and ``scope`` ("Implement authorization code grant
    manually", step 4,
    https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/authorization-code-grant).
    """
    shop = _clean_or_permanent(shop)
    url = f"{admin_url.rstrip('/').replace('{shop}', shop)}/admin/oauth/access_token"
    body = urllib.parse.urlencode(
        {"client_id": client_id, "client_secret": str.__str__(client_secret), "code": code}
    ).encode()
    req = urllib.request.Request(
        url,
        body,
        {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
        method="POST",
    )
    try:
        with _OPENER.open(req, timeout=timeout) as response:
            data = json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        with exc:
            if exc.code == 429 or exc.code >= 500:
                raise TransientError(
                    f"Shopify answered HTTP {exc.code} to the code exchange",
                    vendor=VENDOR,
                    status=exc.code,
                ) from None
            raise PermanentError(
                f"Shopify refused the authorization code (HTTP {exc.code}); start the install "
                "again",
                vendor=VENDOR,
                status=exc.code,
                code="shopify_code_refused",
            ) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise TransientError(
            f"cannot exchange the code with Shopify: {type(exc).__name__}", vendor=VENDOR
        ) from None
    token = data.get("access_token") if isinstance(data, dict) else None
    if not token:
        raise PermanentError("Shopify answered the code exchange without a token", vendor=VENDOR)
    expires_in = data.get("expires_in")
    expires_at = time.time() + float(expires_in) if expires_in else None
    return AccessToken(str(token), str(data.get("scope") or ""), expires_at)


def _clean_or_permanent(shop: str) -> str:
    try:
        return clean_shop_domain(shop)
    except InvalidShopDomain as exc:
        raise PermanentError(str(exc), vendor=VENDOR, code="shopify_invalid_shop") from None


def _iso_to_unix(value: str | None) -> float | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


# --- mapping to our dataclasses -----------------------------------------------------------
def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _money(node: dict[str, Any] | None) -> Money:
    node = node or {}
    return Money(str(node.get("amount") or "0"), str(node.get("currencyCode") or ""))


class _FulfillmentCommon(TypedDict):
    """The Fulfillment fields shared by every parcel of one fulfillment."""

    status: str
    estimated_delivery_at: datetime | None
    delivered_at: datetime | None


def order_from_node(node: dict[str, Any]) -> Order:
    email = (node.get("email") or "").strip()
    customer = node.get("customer")
    summary = None
    if customer:
        summary = CustomerSummary(
            email=email,
            order_count=int(
                customer.get("numberOfOrders") or 0
            ),  # UnsignedInt64 arrives as a string
            lifetime_spend=_money(customer.get("amountSpent")),
            tags=tuple(customer.get("tags") or ()),
            id=customer.get("id") or "",
        )
    fulfillments = []
    for f in node.get("fulfillments") or ():
        status = f.get("displayStatus") or f.get("status") or ""
        common: _FulfillmentCommon = {
            "status": status,
            "estimated_delivery_at": _dt(f.get("estimatedDeliveryAt")),
            "delivered_at": _dt(f.get("deliveredAt")),
        }
        tracking = f.get("trackingInfo") or []
        if not tracking:
            fulfillments.append(Fulfillment(**common))
        for (
            t
        ) in tracking:  # one entry per tracking number: a fulfillment may ship in several parcels
            fulfillments.append(
                Fulfillment(
                    tracking_company=t.get("company") or "",
                    tracking_number=t.get("number") or "",
                    tracking_url=t.get("url") or "",
                    **common,
                )
            )
    return Order(
        id=node["id"],
        name=node["name"],
        email=email,
        created_at=_dt(node.get("createdAt")),
        financial_status=node.get("displayFinancialStatus") or "",
        fulfillment_status=node.get("displayFulfillmentStatus") or "",
        total=_money((node.get("totalPriceSet") or {}).get("shopMoney")),
        line_items=tuple(
            LineItem(li["title"], int(li.get("quantity") or 0), li.get("sku") or "")
            for li in (node.get("lineItems") or {}).get("nodes", ())
        ),
        fulfillments=tuple(fulfillments),
        customer=summary,
        cancelled_at=_dt(node.get("cancelledAt")),
        cancel_reason=node.get("cancelReason"),
    )


# --- the adapter --------------------------------------------------------------------------
Credentials = Callable[[], tuple[str, str]]


class ShopifyAdmin:
    """One tenant's shop. ``credentials()`` returns ``(shop_domain, access_token)`` or raises
    ``PermanentError`` when the shop is not connected."""

    def __init__(
        self,
        credentials: Credentials,
        *,
        api_version: str = API_VERSION,
        admin_url: str = "https://{shop}",
        timeout: float = 10.0,
        throttle_max_wait: float = 10.0,
        lookup_limit: int = 10,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        on_rejected_token: Callable[[str], None] | None = None,
    ):
        if timeout <= 0:
            raise ValueError("timeout must be > 0")
        self._credentials = credentials
        self._on_rejected_token = on_rejected_token
        self.api_version = api_version
        self.admin_url = admin_url.rstrip("/")
        self.timeout = timeout
        self.throttle_max_wait = throttle_max_wait
        self.lookup_limit = max(1, min(int(lookup_limit), 50))
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._throttle: dict[str, float] | None = None  # last throttleStatus seen
        self._throttle_at = 0.0
        self._last_cost: dict[str, int] = {}  # document → requestedQueryCost last time
        self.api_calls = 0
        self.throttle_waits: deque[float] = deque(
            maxlen=100
        )  # recent waits for the bucket (diagnostics)
        self.answered_version: str | None = None  # X-Shopify-API-Version of the latest answer
        self.deprecations: deque[str] = deque(maxlen=20)  # distinct deprecation headers seen
        self._warned_versions: set[str] = set()

    # -- OrderSource -----------------------------------------------------------------------
    def find_orders(
        self, *, email: str | None = None, order_name: str | None = None
    ) -> list[Order]:
        """Orders by order name as customers write it, and/or by email; newest first, unique.

        Shopify's search matches loosely (and the ``#`` in ``name:`` is undocumented), so results
        are filtered to exact matches here. Inputs are normalised to a safe alphabet first, so a
        ticket's text can never inject search syntax.
        """
        if email is None and order_name is None:
            raise ValueError("find_orders needs email= or order_name=")
        found: list[Order] = []
        if order_name is not None:
            name = normalize_order_name(order_name)
            if name:
                data = self.execute("orders_find", {"query": f"name:{name}", "first": 5})
                found += [
                    o
                    for o in map(order_from_node, data["orders"]["nodes"])
                    if o.name.upper() == name
                ]
        if email is not None:
            clean = normalize_email(email)
            if clean:
                data = self.execute(
                    "orders_find", {"query": f"email:{clean}", "first": self.lookup_limit}
                )
                found += [
                    o
                    for o in map(order_from_node, data["orders"]["nodes"])
                    if o.email.lower() == clean
                ]
        unique = {o.id: o for o in found}
        return sorted(
            unique.values(),
            key=lambda o: o.created_at or datetime.min.replace(tzinfo=UTC),
            reverse=True,
        )

    def get_order(self, order_id: str) -> Order | None:
        node = self.execute("order_get", {"id": order_gid(order_id)})["order"]
        return order_from_node(node) if node else None

    # -- OrderActions (called only inside actions.execute) ---------------------------------------
    def cancel_order(
        self,
        order_id: str,
        *,
        reason: str,
        notify_customer: bool,
        restock: bool,
        staff_note: str,
        refund: bool = False,
    ) -> dict[str, Any]:
        gid = order_gid(order_id)
        reason_enum = str(reason or "").strip().upper()
        if reason_enum not in CANCEL_REASONS:
            raise PermanentError(
                f"cancel reason must be one of {', '.join(CANCEL_REASONS)}, not {reason!r}",
                vendor=VENDOR,
            )
        # refundMethod (OrderCancelRefundMethodInput, oneOf): money back to the original payment
        # methods or not at all; store credit is not offered. The Boolean `refund` argument is
        # deprecated since 2025-07 and refundMethod documented as required from 2026-07
        # ("orderCancel", https://shopify.dev/docs/api/admin-graphql/2026-07/mutations/orderCancel;
        # "Order cancellation now supports refunds to store credit",
        # https://shopify.dev/changelog/ordercancel-mutation-now-supports-refunds-to-store-credit).
        data = self.execute(
            "order_cancel",
            {
                "orderId": gid,
                "reason": reason_enum,
                "refundMethod": {"originalPaymentMethodsRefund": bool(refund)},
                "restock": bool(restock),
                "notifyCustomer": bool(notify_customer),
                "staffNote": (staff_note or "")[:255] or None,
            },
        )
        payload = data.get("orderCancel") or {}
        errors = payload.get("orderCancelUserErrors") or []
        if errors:
            text = "; ".join(f"{e.get('code') or 'ERROR'}: {e.get('message')}" for e in errors)
            raise PermanentError(
                f"Shopify refused to cancel {gid}: {text}",
                vendor=VENDOR,
                code="shopify_cancel_refused",
            )
        job = payload.get("job") or {}
        return {
            "order_id": gid,
            "reason": reason_enum,
            "refund": bool(refund),
            "restock": bool(restock),
            "job_id": job.get("id"),
            "job_done": bool(job.get("done")),
        }

    def reconcile_cancel(self, order_id: str) -> dict[str, Any] | None:
        """After a crash or timeout: the order's cancel state if it is already cancelled.

        None when the order is not cancelled.
        """
        order = self.get_order(order_id)
        if order is None:
            raise PermanentError(f"order {order_id} does not exist", vendor=VENDOR, status=404)
        if order.cancelled_at is None:
            return None
        return {
            "order_id": order.id,
            "reason": order.cancel_reason,
            "cancelled_at": order.cancelled_at.isoformat(),
            "already_cancelled": True,
            "financial_status": order.financial_status,
        }

    # -- GraphQL with throttling -----------------------------------------------------------
    def execute(self, name: str, variables: dict[str, Any]) -> dict[str, Any]:
        """Run document ``name``; returns ``data``. Raises TransientError / PermanentError."""
        query = document(name)
        waited = 0.0
        for _attempt in range(MAX_ATTEMPTS):
            wait = self._expected_wait(name)
            if wait > 0:
                waited = self._wait(wait, waited, name)
            started = time.perf_counter()
            body = self._post(query, variables)
            cost = (body.get("extensions") or {}).get("cost") or {}
            self._note_cost(name, cost)
            errors = body.get("errors")
            logs.log(
                LOG,
                logging.DEBUG,
                "shopify.query",
                document=name,
                api_version=self.answered_version,
                cost=cost.get("requestedQueryCost"),
                available=(cost.get("throttleStatus") or {}).get("currentlyAvailable"),
                ms=round((time.perf_counter() - started) * 1000, 1),
                errors=bool(errors),
            )
            if not errors:
                if not isinstance(body.get("data"), dict):
                    raise TransientError("Shopify answered without data", vendor=VENDOR)
                return body["data"]
            if _is_throttled(errors):
                waited = self._wait(self._throttled_wait(cost), waited, name)
                continue
            raise _graphql_error(errors)
        raise TransientError(
            f"Shopify kept throttling {name}", vendor=VENDOR, retry_after=self.throttle_max_wait
        )

    def _post(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """One request; on a 401 the rejected token is reported once and the request retried with
        whatever token the credentials give next (an expiring token renewed early, or revoked)."""
        shop, token = self._credentials()
        try:
            return self._post_with(shop, token, query, variables)
        except PermanentError as exc:
            if exc.status != 401 or self._on_rejected_token is None:
                raise
        self._on_rejected_token(token)
        shop, token = self._credentials()
        return self._post_with(shop, token, query, variables)

    def _post_with(
        self, shop: str, token: str, query: str, variables: dict[str, Any]
    ) -> dict[str, Any]:
        try:
            shop = clean_shop_domain(shop)  # again here: the one place a domain becomes a session
        except InvalidShopDomain as exc:
            raise PermanentError(str(exc), vendor=VENDOR, code="shopify_invalid_shop") from None
        with _SESSION_LOCK:
            session = shopify.Session(shop, self.api_version, str.__str__(token))
            shopify.ShopifyResource.activate_session(session)
            try:
                shopify.ShopifyResource.site = (
                    f"{self.admin_url.replace('{shop}', shop)}/admin/api/{self.api_version}"
                )
                client = _TimedGraphQL(self.timeout)
            finally:
                shopify.ShopifyResource.clear_session()
            self.api_calls += 1
        try:
            text, headers = client.post(query, variables)
        except urllib.error.HTTPError as exc:
            with exc:
                raise _http_error(exc) from None
        except TimeoutError as exc:
            raise TransientError(
                f"Shopify did not answer within {self.timeout:g}s", vendor=VENDOR
            ) from exc
        except (urllib.error.URLError, ConnectionError, http.client.HTTPException, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, TimeoutError):
                raise TransientError(
                    f"Shopify did not answer within {self.timeout:g}s", vendor=VENDOR
                ) from exc
            raise TransientError(
                f"cannot reach Shopify: {type(reason).__name__}", vendor=VENDOR
            ) from exc
        try:
            body = json.loads(text)
        except ValueError:
            raise TransientError(
                "Shopify answered with something that is not JSON", vendor=VENDOR
            ) from None
        if not isinstance(body, dict):
            raise TransientError("Shopify answered with an unexpected JSON shape", vendor=VENDOR)
        self._note_versions(headers)
        return body

    def _note_versions(self, headers: Any) -> None:
        """Log the version that answered (a warning, once per value, when it is not the one
        requested: Shopify fell forward from a version past its support window) and the
        deprecation header (a warning, once per distinct text)."""
        answered = (headers.get("X-Shopify-API-Version") or "").strip() if headers else ""
        reason = (headers.get("X-Shopify-API-Deprecated-Reason") or "").strip() if headers else ""
        with self._lock:
            self.answered_version = answered or None
            new_version = bool(answered) and answered != self.api_version
            new_version = new_version and answered not in self._warned_versions
            if new_version:
                self._warned_versions.add(answered)
            new_reason = bool(reason) and reason not in self.deprecations
            if new_reason:
                self.deprecations.append(reason)
        if new_version:
            logs.log(
                LOG,
                logging.WARNING,
                "shopify.api_version_mismatch",
                requested=self.api_version,
                answered=answered,
                hint="the requested version is out of Shopify's support window or unknown; "
                "set DESKGUARD_SHOPIFY_API_VERSION to a supported version",
            )
        if new_reason:
            logs.log(
                LOG,
                logging.WARNING,
                "shopify.deprecated",
                reason=reason[:500],
                api_version=answered or self.api_version,
            )

    def _note_cost(self, name: str, cost: dict[str, Any]) -> None:
        status = cost.get("throttleStatus")
        with self._lock:
            if cost.get("requestedQueryCost") is not None:
                self._last_cost[name] = int(cost["requestedQueryCost"])
            if status:
                self._throttle = {
                    k: float(status.get(k) or 0)
                    for k in ("maximumAvailable", "currentlyAvailable", "restoreRate")
                }
                self._throttle_at = self._clock()

    def _expected_wait(self, name: str) -> float:
        """Seconds until the bucket should hold what ``name`` cost last time (0 when unknown)."""
        with self._lock:
            status, needed = self._throttle, self._last_cost.get(name)
            if not status or not needed or status["restoreRate"] <= 0:
                return 0.0
            available = min(
                status["maximumAvailable"],
                status["currentlyAvailable"]
                + (self._clock() - self._throttle_at) * status["restoreRate"],
            )
            return max(0.0, (needed - available) / status["restoreRate"])

    def _throttled_wait(self, cost: dict[str, Any]) -> float:
        status = cost.get("throttleStatus") or {}
        restore = float(status.get("restoreRate") or 0)
        missing = float(cost.get("requestedQueryCost") or 0) - float(
            status.get("currentlyAvailable") or 0
        )
        if restore <= 0:
            return self.throttle_max_wait
        return max(MIN_THROTTLE_WAIT, missing / restore)

    def _wait(self, seconds: float, waited: float, name: str) -> float:
        if waited + seconds > self.throttle_max_wait:
            raise TransientError(
                f"Shopify query budget exhausted for {name}; retry in {seconds:.1f}s",
                vendor=VENDOR,
                retry_after=round(seconds, 3),
                status=429,
            )
        logs.log(
            LOG, logging.INFO, "shopify.throttle_wait", document=name, seconds=round(seconds, 3)
        )
        self.throttle_waits.append(seconds)
        self._sleep(seconds)
        return waited + seconds


def _is_throttled(errors: Any) -> bool:
    return isinstance(errors, list) and any(
        isinstance(e, dict) and (e.get("extensions") or {}).get("code") == "THROTTLED"
        for e in errors
    )


def _graphql_error(errors: Any) -> Exception:
    if not isinstance(errors, list):  # e.g. {"errors": "..."} from auth failures
        return PermanentError(f"Shopify refused the request: {str(errors)[:300]}", vendor=VENDOR)
    codes = {(e.get("extensions") or {}).get("code") for e in errors if isinstance(e, dict)}
    text = "; ".join(str(e.get("message", e))[:200] for e in errors[:3] if isinstance(e, dict))
    if codes & {"INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE", "TIMEOUT"}:
        return TransientError(f"Shopify GraphQL error: {text}", vendor=VENDOR)
    return PermanentError(f"Shopify GraphQL error: {text}", vendor=VENDOR)


__all__ = [
    "CANCEL_REASONS",
    "InvalidShopDomain",
    "ShopifyAdmin",
    "clean_shop_domain",
    "normalize_email",
    "normalize_order_name",
    "order_from_node",
    "order_gid",
]
