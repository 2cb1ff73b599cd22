"""One shop's state in the Shopify sandbox: its data plus the knobs tests turn (a leaky-bucket
query budget, forced throttling, delays, injected HTTP failures, the request log)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from connector.devkit.sandbox.shopify.demo import demo_shop
from connector.devkit.sandbox.shopify.model import ShopCustomer, ShopOrder
from connector.devkit.sandbox.shopify.oauth_state import OAuthApp


class ShopifyState:
    """One shop's data plus the knobs tests turn (throttling, delays, request log)."""

    def __init__(
        self,
        *,
        shop_domain: str = "deskguard-demo.myshopify.com",
        access_token: str = "shpat_sandbox_token",
        api_secret: str = "shpss_sandbox_secret",
        maximum_available: float = 2000.0,
        restore_rate: float = 100.0,
        clock=time.monotonic,
        client_id: str = "sandbox_client_id",
        token_ttl_seconds: float = 86400.0,
        wall_clock=time.time,
    ):
        self.lock = threading.RLock()
        self.shop_domain = shop_domain
        self.access_tokens = {access_token}
        self.api_secret = api_secret
        self.customers: dict[int, ShopCustomer] = {}
        self.orders: dict[int, ShopOrder] = {}
        self.jobs: dict[str, bool] = {}
        self.cancellations: list[dict[str, Any]] = []  # what orderCancel was asked (for tests)
        self.requests: list[dict[str, Any]] = []  # operation name, variables, cost, outcome
        self.versions_requested: list[str] = []  # the <version> of every GraphQL request's URL
        # Versions: X-Shopify-API-Version answers with `answer_version` when set, else the
        # requested version, fallen forward when it is past its support window on `today()`.
        # `deprecation_reason`, when set, is sent as X-Shopify-API-Deprecated-Reason on every
        # answer (otherwise only requests using deprecated schema parts get it).
        self.answer_version: str | None = None
        self.deprecation_reason: str | None = None
        self.today: Callable[[], date] = lambda: datetime.now(UTC).date()
        self.maximum_available = maximum_available
        self.restore_rate = restore_rate
        self._available = maximum_available
        self._clock = clock
        self._refilled_at = clock()
        self._forced_throttles = 0
        self._delays: list[float] = []
        self._failures: list[tuple[int, float | None]] = []
        self._ids = iter(range(9_000_000, 10**12))
        # The app's OAuth side: client credentials, install codes, expiring tokens (oauth_state.py)
        self.oauth = OAuthApp(
            client_id=client_id,
            client_secret=api_secret,
            shop_domain=shop_domain,
            token_ttl_seconds=token_ttl_seconds,
            clock=wall_clock,
        )

    def token_valid(self, token: str | None) -> bool:
        """A static token given at start-up, or an OAuth token that has not expired."""
        if not token:
            return False
        with self.lock:
            if token in self.access_tokens:
                return True
        return self.oauth.token_valid(token)

    @property
    def access_token(self) -> str:
        return next(iter(self.access_tokens))

    def next_id(self) -> int:
        with self.lock:
            return next(self._ids)

    # -- seeding ---------------------------------------------------------------------------
    def add_customer(self, customer: ShopCustomer) -> ShopCustomer:
        with self.lock:
            self.customers[customer.id] = customer
        return customer

    def add_order(self, order: ShopOrder) -> ShopOrder:
        with self.lock:
            self.orders[order.id] = order
        return order

    def order_by_name(self, name: str) -> ShopOrder | None:
        with self.lock:
            return next((o for o in self.orders.values() if o.name == name), None)

    def seed_demo(self, now: datetime | None = None) -> ShopifyState:
        """Load the demo shop (``demo.py``), dated relative to ``now``."""
        customers, orders = demo_shop(now or datetime.now(UTC))
        for customer in customers:
            self.add_customer(customer)
        for order in orders:
            self.add_order(order)
        return self

    # -- test knobs ------------------------------------------------------------------------
    def throttle_next(self, count: int = 1) -> None:
        """Answer the next ``count`` requests with THROTTLED regardless of the bucket."""
        with self.lock:
            self._forced_throttles += count

    def drain_bucket(self, to: float = 0.0) -> None:
        with self.lock:
            self._refill()
            self._available = max(0.0, min(self.maximum_available, to))

    def delay_next(self, seconds: float, count: int = 1) -> None:
        """Sleep ``seconds`` before answering each of the next ``count`` requests."""
        with self.lock:
            self._delays.extend([seconds] * count)

    def fail_next(self, status: int, count: int = 1, retry_after: float | None = None) -> None:
        """Answer the next ``count`` requests with HTTP ``status`` (e.g. 502, 503, 429, 402)."""
        with self.lock:
            self._failures.extend([(status, retry_after)] * count)

    def take_failure(self) -> tuple[int, float | None] | None:
        with self.lock:
            return self._failures.pop(0) if self._failures else None

    def take_delay(self) -> float:
        with self.lock:
            return self._delays.pop(0) if self._delays else 0.0

    # -- leaky bucket ----------------------------------------------------------------------
    def _refill(self) -> None:
        now = self._clock()
        self._available = min(
            self.maximum_available, self._available + (now - self._refilled_at) * self.restore_rate
        )
        self._refilled_at = now

    def spend(self, cost: int) -> tuple[bool, dict[str, float]]:
        """Take ``cost`` points if the bucket holds them. Returns (allowed, throttleStatus)."""
        with self.lock:
            self._refill()
            allowed = cost <= self._available and self._forced_throttles == 0
            if self._forced_throttles:
                self._forced_throttles -= 1
            if allowed:
                self._available -= cost
            return allowed, {
                "maximumAvailable": self.maximum_available,
                "currentlyAvailable": int(self._available),
                "restoreRate": self.restore_rate,
            }
